package livekit

import (
	"bytes"
	"sync/atomic"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/e2ee/frame"
	"github.com/switchboard-rtc/switchboard/membership"
)

// KeySource is the media-key store as the engine reads it; *e2ee.KeyStore
// implements it.
type KeySource interface {
	Participants(call membership.CallKey) []e2ee.Participant
	Subscribe(filter func(e2ee.Participant) bool) *e2ee.Subscription
}

var _ KeySource = (*e2ee.KeyStore)(nil)

// callKeys holds one call's frame-crypto rings: ours (encrypting with the
// index the exchange put in use) and one per remote LiveKit identity. The
// rings themselves are safe for concurrent use by track goroutines; the map
// belongs to the participant's goroutine.
type callKeys struct {
	self   func() (id.UserID, id.DeviceID)
	own    *frame.KeyRing
	remote map[string]*remoteRing // by LiveKit identity
	ownSet map[int][]byte         // material in own, to skip unchanged keys
	// ownReady: own has a current key (read by the admin view).
	ownReady atomic.Bool
}

type remoteRing struct {
	ring *frame.KeyRing
	set  map[int][]byte
}

func newCallKeys(self func() (id.UserID, id.DeviceID)) *callKeys {
	return &callKeys{self: self, own: mustRing(), remote: map[string]*remoteRing{}, ownSet: map[int][]byte{}}
}

// mustRing is a ring as Element Call sets one up for raw Matrix keys: HKDF
// for both 16-byte (MatrixRTC) and 32-byte (Famedly) keys, 256 slots. The
// zero config cannot be refused.
func mustRing() *frame.KeyRing {
	r, err := frame.NewKeyRing(frame.RingConfig{})
	if err != nil {
		panic("livekit: the default key ring config is refused: " + err.Error())
	}
	return r
}

// isOwn reports whether p is our own device's participant.
func (k *callKeys) isOwn(p e2ee.Participant) bool {
	if k.self == nil {
		return false
	}
	user, device := k.self()
	return user != "" && p.UserID == user && p.DeviceID == device
}

// ring returns the ring of a remote identity, made empty if new: its keys
// may arrive after its first frames.
func (k *callKeys) ring(identity string) *frame.KeyRing {
	r := k.remote[identity]
	if r == nil {
		r = &remoteRing{ring: mustRing(), set: map[int][]byte{}}
		k.remote[identity] = r
	}
	return r.ring
}

// apply feeds key changes into the rings. Our ring switches its index to
// the store's current one, which the exchange moves only when the new key
// is in use (after the use delay). A forgotten remote ring keeps its keys:
// frames in flight from a leaver still decrypt.
func (k *callKeys) apply(changes []e2ee.KeyChange) (errs []error) {
	for _, c := range changes {
		if c.Forgotten {
			continue
		}
		if k.isOwn(c.Participant) {
			errs = append(errs, addKeys(k.own, k.ownSet, c.Keys)...)
			if err := k.own.SetCurrentIndex(uint8(c.Current)); err != nil {
				errs = append(errs, err)
			} else {
				k.ownReady.Store(true)
			}
			continue
		}
		k.ring(c.Participant.Identity)
		r := k.remote[c.Participant.Identity]
		errs = append(errs, addKeys(r.ring, r.set, c.Keys)...)
	}
	return errs
}

// addKeys stores the keys whose material changed.
func addKeys(r *frame.KeyRing, set map[int][]byte, keys []e2ee.Key) []error {
	var errs []error
	for _, key := range keys {
		if key.Index < 0 || key.Index > e2ee.MaxKeyIndex || bytes.Equal(set[key.Index], key.Bytes) {
			continue
		}
		if err := r.AddKey(uint8(key.Index), key.Bytes); err != nil {
			errs = append(errs, err)
			continue
		}
		set[key.Index] = key.Bytes
	}
	return errs
}

// participantFor finds the member behind a LiveKit identity among the
// call's participants with keys: the identity is what the member's clients
// join LiveKit as (legacy "@user:server:DEVICE" or the MSC4195 hash).
func participantFor(ps []e2ee.Participant, identity string) (e2ee.Participant, bool) {
	for _, p := range ps {
		if p.Identity == identity {
			return p, true
		}
	}
	return e2ee.Participant{}, false
}
