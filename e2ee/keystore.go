package e2ee

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/membership"
)

// ErrBadKey: KeyStore.Set was given an index outside 0..255 or a key of a
// length no dialect uses.
var ErrBadKey = errors.New("e2ee: key store: bad key")

// MaxKeyIndex is the largest index a ring holds: the frame trailer's key id
// is one byte.
const MaxKeyIndex = MatrixRTCRingSize - 1

// DefaultMaxRefusals is how many recent refusals a KeyStore remembers.
const DefaultMaxRefusals = 256

// KeyStore holds the received media keys of every participant, one ring of
// indices per participant, and the recent refusals, for the engines and the
// admin view.
//
// Concurrency: safe for concurrent use. The e2ee owner writes (Set, Accept,
// Forget, RecordRefusal); engines read from their own goroutines (Get,
// Current, subscriptions). A sync.RWMutex guards the state; reads copy key
// bytes out, so callers never share the store's slices. Subscriptions are
// notified under the lock without blocking (see Subscribe).
type KeyStore struct {
	mu       sync.RWMutex
	rings    map[Participant]*ring
	refusals refusalLog
	subs     map[*Subscription]struct{}
}

// ring is one participant's keys by index.
type ring struct {
	current int
	slots   map[int]slot
}

type slot struct {
	key     []byte
	arrived time.Time
}

// KeyStoreOptions are the KeyStore's knobs; the zero value gives defaults.
type KeyStoreOptions struct {
	MaxRefusals int // recent refusals kept for the report; default 256
}

// NewKeyStore returns an empty store.
func NewKeyStore(opts KeyStoreOptions) *KeyStore {
	if opts.MaxRefusals <= 0 {
		opts.MaxRefusals = DefaultMaxRefusals
	}
	return &KeyStore{
		rings:    map[Participant]*ring{},
		refusals: refusalLog{max: opts.MaxRefusals},
		subs:     map[*Subscription]struct{}{},
	}
}

// Set stores key at index of p's ring. The key that arrived last becomes the
// current one (a key released from the hold late does not displace a newer
// one). Setting the same bytes again only refreshes the arrival time.
func (s *KeyStore) Set(p Participant, index int, key []byte, arrivedAt time.Time) error {
	if index < 0 || index > MaxKeyIndex || (len(key) != MatrixRTCKeyLen && len(key) != FamedlyKeyLen) {
		return fmt.Errorf("%w: index %d, %d bytes", ErrBadKey, index, len(key))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rings[p]
	if r == nil {
		r = &ring{current: index, slots: map[int]slot{}}
		s.rings[p] = r
	}
	old, had := r.slots[index]
	changed := !had || !bytes.Equal(old.key, key)
	if cur, ok := r.slots[r.current]; !ok || !arrivedAt.Before(cur.arrived) {
		changed = changed || r.current != index
		r.current = index
	}
	r.slots[index] = slot{key: bytes.Clone(key), arrived: arrivedAt}
	if changed {
		s.notify(p)
	}
	return nil
}

// Accept stores every key of an accepted event.
func (s *KeyStore) Accept(a Accepted) error {
	for _, k := range a.Keys {
		if err := s.Set(a.Participant, k.Index, k.Bytes, a.ArrivedAt); err != nil {
			return err
		}
	}
	return nil
}

// Get returns a copy of the key at index of p's ring.
func (s *KeyStore) Get(p Participant, index int) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.rings[p]; r != nil {
		if sl, ok := r.slots[index]; ok {
			return bytes.Clone(sl.key), true
		}
	}
	return nil, false
}

// Current returns p's current index and a copy of its key.
func (s *KeyStore) Current(p Participant) (int, []byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.rings[p]; r != nil {
		return r.current, bytes.Clone(r.slots[r.current].key), true
	}
	return 0, nil, false
}

// Keys returns copies of all of p's keys by ascending index, and the current index.
func (s *KeyStore) Keys(p Participant) (keys []Key, current int, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.rings[p]
	if r == nil {
		return nil, 0, false
	}
	return r.keys(), r.current, true
}

func (r *ring) keys() []Key {
	out := make([]Key, 0, len(r.slots))
	for i := 0; i <= MaxKeyIndex && len(out) < len(r.slots); i++ {
		if sl, ok := r.slots[i]; ok {
			out = append(out, Key{Index: i, Bytes: bytes.Clone(sl.key)})
		}
	}
	return out
}

// Forget drops p's keys (the member left).
func (s *KeyStore) Forget(p Participant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rings[p]; ok {
		delete(s.rings, p)
		s.notify(p)
	}
}

// ForgetCall drops the keys of every participant of call (the call ended).
func (s *KeyStore) ForgetCall(call membership.CallKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.rings {
		if p.Call == call {
			delete(s.rings, p)
			s.notify(p)
		}
	}
}

// Participants lists the participants with keys in call.
func (s *KeyStore) Participants(call membership.CallKey) []Participant {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Participant
	for p := range s.rings {
		if p.Call == call {
			out = append(out, p)
		}
	}
	sortParticipants(out)
	return out
}

// RecordRefusal remembers r for the report; the oldest are forgotten first.
func (s *KeyStore) RecordRefusal(r Refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusals.add(r)
}
