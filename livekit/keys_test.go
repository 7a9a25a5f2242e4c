package livekit

import (
	"slices"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/e2ee/frame"
	"github.com/switchboard-rtc/switchboard/membership"
)

var testCall = membership.CallKey{Room: "!r:localhost", Application: "m.call", Scope: "m.room"}

func key(n int, b byte) []byte { return slices.Repeat([]byte{b}, n) }

// TestParticipantFor maps a LiveKit identity to the member with keys in the
// call, legacy or hashed, and nothing else.
func TestParticipantFor(t *testing.T) {
	ps := []e2ee.Participant{
		{Call: testCall, Identity: "@a:localhost:ADEV", UserID: "@a:localhost", DeviceID: "ADEV"},
		{Call: testCall, Identity: "hashedidentity", UserID: "@b:localhost", DeviceID: "BDEV"},
	}
	if p, ok := participantFor(ps, "hashedidentity"); !ok || p.UserID != "@b:localhost" {
		t.Errorf("hashed identity: %+v %v", p, ok)
	}
	if p, ok := participantFor(ps, "@a:localhost:ADEV"); !ok || p.DeviceID != "ADEV" {
		t.Errorf("legacy identity: %+v %v", p, ok)
	}
	if _, ok := participantFor(ps, "@a:localhost:OTHER"); ok {
		t.Error("an identity without keys was mapped")
	}
}

// TestCallKeysApply: our ring encrypts with the store's current index (the
// key in use), remote rings take 16- and 32-byte keys and keep old indices
// after a rotation, and a forgotten ring keeps decrypting.
func TestCallKeysApply(t *testing.T) {
	self := func() (id.UserID, id.DeviceID) { return "@bot:localhost", "BOT" }
	k := newCallKeys(self)
	own := e2ee.Participant{Call: testCall, Identity: "@bot:localhost:BOT", UserID: "@bot:localhost", DeviceID: "BOT"}
	peer := e2ee.Participant{Call: testCall, Identity: "@a:localhost:ADEV", UserID: "@a:localhost", DeviceID: "ADEV"}
	if errs := k.apply([]e2ee.KeyChange{
		{Participant: own, Current: 0, Keys: []e2ee.Key{{Index: 0, Bytes: key(16, 1)}}},
		{Participant: peer, Current: 0, Keys: []e2ee.Key{{Index: 0, Bytes: key(16, 2)}}},
	}); len(errs) > 0 {
		t.Fatal(errs)
	}
	if !k.ownReady.Load() || k.own.CurrentIndex() != 0 {
		t.Fatalf("own ring not ready at 0")
	}
	// The peer's frames at index 0, then a rotation to a 32-byte key at 1.
	old := seal(t, k.ring(peer.Identity), 0, key(16, 2))
	k.apply([]e2ee.KeyChange{{Participant: peer, Current: 1, Keys: []e2ee.Key{{Index: 0, Bytes: key(16, 2)}, {Index: 1, Bytes: key(32, 3)}}}})
	fresh := seal(t, nil, 1, key(32, 3))
	k.apply([]e2ee.KeyChange{{Participant: peer, Forgotten: true}})
	dec, err := frame.NewDecryptor(k.ring(peer.Identity), frame.Opus)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range [][]byte{old, fresh} {
		if _, _, err := dec.Decrypt(nil, f); err != nil {
			t.Errorf("frame %d: %v", i, err)
		}
	}
	// Our new key arrives; we switch only when the store's current moves.
	k.apply([]e2ee.KeyChange{{Participant: own, Current: 0, Keys: []e2ee.Key{{Index: 0, Bytes: key(16, 1)}, {Index: 1, Bytes: key(16, 4)}}}})
	if k.own.CurrentIndex() != 0 {
		t.Errorf("switched to %d before the key was in use", k.own.CurrentIndex())
	}
	k.apply([]e2ee.KeyChange{{Participant: own, Current: 1, Keys: []e2ee.Key{{Index: 0, Bytes: key(16, 1)}, {Index: 1, Bytes: key(16, 4)}}}})
	if k.own.CurrentIndex() != 1 {
		t.Errorf("encrypting with %d, want 1", k.own.CurrentIndex())
	}
}

// seal encrypts an Opus frame with material at index (a ring of its own
// when r is nil).
func seal(t *testing.T, r *frame.KeyRing, index uint8, material []byte) []byte {
	t.Helper()
	if r == nil {
		r = mustRing()
	}
	if err := r.SetKey(index, material); err != nil {
		t.Fatal(err)
	}
	enc, err := frame.NewEncryptor(r, frame.Opus)
	if err != nil {
		t.Fatal(err)
	}
	out, err := enc.Encrypt(nil, []byte{0xf8, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSubscriptionPermission: no audience lets everyone in; with one, each
// identity gets the tracks for everyone and those naming it, and a track
// not yet published is nobody's.
func TestSubscriptionPermission(t *testing.T) {
	if sp := subscriptionPermission([]permOutput{{sid: "TR_all"}}, []string{"a"}); !sp.AllParticipants {
		t.Errorf("no audience: %v", sp)
	}
	sp := subscriptionPermission([]permOutput{
		{sid: "TR_all"}, {sid: "TR_a", audience: []string{"a"}}, {audience: []string{"b"}},
	}, []string{"a", "c"})
	if sp.AllParticipants {
		t.Fatal("restricted output left open to all")
	}
	got := map[string][]string{}
	for _, tp := range sp.TrackPermissions {
		got[tp.ParticipantIdentity] = tp.TrackSids
	}
	want := map[string][]string{"a": {"TR_a", "TR_all"}, "b": {"TR_all"}, "c": {"TR_all"}}
	for who, sids := range want {
		if !slices.Equal(got[who], sids) {
			t.Errorf("%s may subscribe to %v, want %v", who, got[who], sids)
		}
	}
	if len(got) != len(want) {
		t.Errorf("permissions for %v", got)
	}
}

// TestReaderOpen counts what it drops: a frame before its key, the server's
// blank frame (SIF trailer), a frame that fails to authenticate; none of
// them reaches a feature, and the right key opens the frame.
func TestReaderOpen(t *testing.T) {
	k := newCallKeys(nil)
	ring := k.ring("@a:localhost:ADEV")
	dec, err := frame.NewDecryptor(ring, frame.Opus)
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{dec: dec, sif: []byte("SIFTRAIL"), st: &trackState{}}
	sealed := seal(t, nil, 0, key(16, 9))
	if _, ok := r.open(sealed, nil); ok {
		t.Error("a frame before its key was opened")
	}
	if _, ok := r.open(append([]byte{0xf8, 0xff, 0xfe}, "SIFTRAIL"...), nil); ok {
		t.Error("a server-injected frame reached the features")
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ring.AddKey(0, key(16, 8))) // the wrong key
	if _, ok := r.open(sealed, nil); ok {
		t.Error("a frame opened with the wrong key")
	}
	must(ring.AddKey(0, key(16, 9)))
	if out, ok := r.open(sealed, nil); !ok || string(out) != "\xf8\x01\x02\x03" {
		t.Errorf("the right key gave %x, %v", out, ok)
	}
	if st := r.st.counters.stats(); st.NoKey != 1 || st.ServerInjected != 1 || st.DecryptFailures != 1 {
		t.Errorf("counters %+v, want one of each", st)
	}
}
