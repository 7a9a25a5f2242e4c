package e2ee

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/membership"
)

var (
	xSelfFamedly = member(membership.DialectFamedly, xBot, xBotDev, "m-bot")
	xSelfRTC     = member(membership.DialectMatrixRTC, xBot, xBotDev, "m-bot")
	xAliceF      = member(membership.DialectFamedly, vAlice, "ALICE", "m-alice")
	xBobF        = member(membership.DialectFamedly, vBob, "BOB", "m-bob")
	xCarolF      = member(membership.DialectFamedly, vCarol, "CAROL", "m-carol")
)

func byType(ss []sent) map[string][]sent {
	out := map[string][]sent{}
	for _, s := range ss {
		out[s.typ] = append(out[s.typ], s)
	}
	return out
}

// TestExchangeFamedlyJoin: when our membership appears, our first key goes
// to every Famedly member under both names, each is asked for its key, and
// our key is in the store at once under our identity.
func TestExchangeFamedlyJoin(t *testing.T) {
	h := newHarness(t, ExchangeOptions{}, xAliceF, xBobF)
	h.change(membership.Joined, xSelfFamedly)
	got := byType(h.expect(4))
	h.quiet()
	for _, typ := range []string{FamedlyKeysEventType, FamedlyKeysEventTypeAlias, FamedlyKeyRequestEventType, FamedlyKeyRequestEventTypeAlias} {
		if len(got[typ]) != 1 || !slices.Equal(got[typ][0].devices(), []string{"@alice:example.org/ALICE", "@bob:example.org/BOB"}) {
			t.Fatalf("%s: %+v", typ, got[typ])
		}
	}
	k := got[FamedlyKeysEventType][0]
	if k.content["device_id"] != string(xBotDev) || k.content["room_id"] != string(vRoom) || k.content["conf_id"] != "" {
		t.Errorf("content %v", k.content)
	}
	idx, key := sentKey(t, k)
	raw, _ := base64.StdEncoding.DecodeString(key)
	if idx != 0 || len(raw) != FamedlyKeyLen {
		t.Errorf("first key: index %d, %d bytes", idx, len(raw))
	}
	cur, b, ok := h.store.Current(ParticipantOf(xSelfFamedly))
	if !ok || cur != 0 || EncodeKey(b) != key {
		t.Errorf("own key in store: %v %d", ok, cur)
	}
}

// TestExchangeJoinReuseAndRotate: a joiner within the reuse window gets the
// latest key, alone; a later joiner makes a new key for everyone, which we
// start using only after the use delay.
func TestExchangeJoinReuseAndRotate(t *testing.T) {
	h := newHarness(t, ExchangeOptions{FamedlyEventTypes: []string{FamedlyKeysEventType}}, xAliceF)
	h.change(membership.Joined, xSelfFamedly)
	first := byType(h.expect(2))[FamedlyKeysEventType][0]
	_, firstKey := sentKey(t, first)

	h.advance(5 * time.Second)
	h.change(membership.Joined, xBobF)
	s := h.expect(1)[0]
	if _, k := sentKey(t, s); k != firstKey || !slices.Equal(s.devices(), []string{"@bob:example.org/BOB"}) {
		t.Fatalf("reuse: %v to %v", s.content, s.devices())
	}

	h.advance(5 * time.Second) // the key is 10 s old now: past Famedly's 8 s
	h.change(membership.Joined, xCarolF)
	s = h.expect(1)[0]
	idx, k := sentKey(t, s)
	if idx != 1 || k == firstKey || len(s.devices()) != 3 {
		t.Fatalf("rotation: index %d to %v", idx, s.devices())
	}
	p := ParticipantOf(xSelfFamedly)
	h.advance(3 * time.Second)
	if cur, _, _ := h.store.Current(p); cur != 0 {
		t.Fatalf("switched to %d before the 4 s use delay", cur)
	}
	h.advance(time.Second)
	if cur, _, _ := h.store.Current(p); cur != 1 {
		t.Fatalf("using %d after the use delay, want 1", cur)
	}
	h.quiet()
}

// TestExchangeLeaveRotates: a leave rotates after the dialect's delay (a
// second leave restarts it), the leavers get nothing made after, and their
// keys are forgotten.
func TestExchangeLeaveRotates(t *testing.T) {
	h := newHarness(t, ExchangeOptions{FamedlyEventTypes: []string{FamedlyKeysEventType}}, xAliceF, xBobF, xCarolF)
	h.change(membership.Joined, xSelfFamedly)
	h.expect(2)
	if err := h.store.Set(ParticipantOf(xBobF), 0, seq(32, 1), h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.change(membership.Left, xBobF)
	if _, _, ok := h.store.Current(ParticipantOf(xBobF)); ok {
		t.Error("bob's keys kept after his leave")
	}
	h.advance(3 * time.Second)
	h.change(membership.Expired, xCarolF)
	h.advance(3 * time.Second)
	h.quiet() // 3 s after carol: the 4 s debounce restarted
	h.advance(time.Second)
	s := h.expect(1)[0]
	if idx, _ := sentKey(t, s); idx != 1 || !slices.Equal(s.devices(), []string{"@alice:example.org/ALICE"}) {
		t.Fatalf("rotation: index %d to %v", idx, s.devices())
	}
	h.quiet()
}

// TestExchangeMatrixRTC: the js-sdk's shape and timings: 16-byte keys, a
// new key at once after a leave, sticky members included.
func TestExchangeMatrixRTC(t *testing.T) {
	bob := member(membership.DialectMatrixRTC, vBob, "BOB", "m-bob")
	carol := member(membership.DialectRTCSticky, vCarol, "CAROL", "m-carol")
	h := newHarness(t, ExchangeOptions{}, bob, carol, xAliceF)
	h.change(membership.Joined, xSelfRTC)
	s := h.expect(1)[0]
	if s.typ != MatrixRTCKeysEventType || !slices.Equal(s.devices(), []string{"@bob:example.org/BOB", "@carol:example.org/CAROL"}) {
		t.Fatalf("first send %s to %v", s.typ, s.devices())
	}
	if ev, err := ParseMatrixRTCKeys(mustJSON(t, s.content)); err != nil || ev.DeviceID != xBotDev || ev.MemberID != "m-bot" ||
		ev.Call != roomCall || len(ev.Keys[0].Bytes) != MatrixRTCKeyLen || ev.SentAt.IsZero() {
		t.Fatalf("content %v: %+v %v", s.content, ev, err)
	}
	h.change(membership.Left, carol)
	s = h.expect(1)[0]
	if idx, _ := sentKey(t, s); idx != 1 || !slices.Equal(s.devices(), []string{"@bob:example.org/BOB"}) {
		t.Fatalf("rotation: index %d to %v", idx, s.devices())
	}
	// A re-join (new created_ts) within the grace period: the key again, to it alone.
	again := bob
	again.CreatedAt = again.CreatedAt.Add(time.Minute)
	h.change(membership.Updated, again)
	if s = h.expect(1)[0]; !slices.Equal(s.devices(), []string{"@bob:example.org/BOB"}) {
		t.Fatalf("re-join send to %v", s.devices())
	}
	// A refresh (same membership) sends nothing; our leave ends the session.
	h.change(membership.Updated, again)
	h.change(membership.Left, xSelfRTC)
	h.quiet()
	if _, _, ok := h.store.Current(ParticipantOf(xSelfRTC)); ok {
		t.Error("own key kept after we left")
	}
}

// TestExchangeReceive: keys pass the Validator into the store; refusals are
// recorded with their reasons.
func TestExchangeReceive(t *testing.T) {
	h := newHarness(t, ExchangeOptions{}, xAliceF)
	good, _ := BuildFamedlyKeys(famedlyEvent("ALICE", "", 3))
	h.toDevice(FamedlyKeysEventType, vAlice, "ALICE", true, good)
	if cur, _, ok := h.store.Current(ParticipantOf(xAliceF)); !ok || cur != 3 {
		t.Fatalf("alice's key: %v %d", ok, cur)
	}
	h.toDevice(FamedlyKeysEventTypeAlias, vAlice, "ALICE", false, good) // plaintext, encrypted room
	h.toDevice(FamedlyKeysEventType, vAlice, "OTHER", true, good)       // Olm sender is another device
	bobs, _ := BuildFamedlyKeys(famedlyEvent("BOB", "", 1))
	h.toDevice(FamedlyKeysEventType, vBob, "BOB", true, bobs)                  // held: no membership
	h.toDevice(FamedlyKeysEventType, vBob, "BOB", true, []byte(`{"keys":[]}`)) // malformed
	h.advance(DefaultHoldFor)
	var reasons []string
	for _, r := range h.store.Report(ReportFilter{}).Refusals {
		reasons = append(reasons, r.Reason.String())
	}
	want := []string{"plaintext", "device_mismatch", "malformed", "no_membership"}
	if !slices.Equal(reasons, want) {
		t.Fatalf("refusals %v, want %v", reasons, want)
	}
}

// TestExchangeKeyRequests: a valid member's request is answered with our
// latest key, to it alone; a non-member's is refused.
func TestExchangeKeyRequests(t *testing.T) {
	h := newHarness(t, ExchangeOptions{}, xAliceF)
	h.change(membership.Joined, xSelfFamedly)
	h.expect(4)
	req, _ := BuildFamedlyKeyRequest(KeyRequest{Call: xAliceF.Call, DeviceID: "ALICE"})
	h.toDevice(FamedlyKeyRequestEventType, vAlice, "ALICE", true, req)
	got := byType(h.expect(2))
	if s := got[FamedlyKeysEventType]; len(s) != 1 || !slices.Equal(s[0].devices(), []string{"@alice:example.org/ALICE"}) {
		t.Fatalf("answer %+v", got)
	}
	bobReq, _ := BuildFamedlyKeyRequest(KeyRequest{Call: xAliceF.Call, DeviceID: "BOB"})
	h.toDevice(FamedlyKeyRequestEventTypeAlias, vBob, "BOB", true, bobReq)
	h.toDevice(FamedlyKeyRequestEventType, vBob, "BOB", true, []byte(`{}`))
	h.quiet()
	refs := h.store.Report(ReportFilter{}).Refusals
	if len(refs) != 2 || !refs[0].Request || refs[0].Reason != ReasonNoMembership || refs[1].Reason != ReasonMalformed {
		t.Fatalf("refusals %+v", refs)
	}
}

// TestExchangeRetry: a failed send is repeated after the retry delay, at
// most Retries times.
func TestExchangeRetry(t *testing.T) {
	h := newHarness(t, ExchangeOptions{FamedlyEventTypes: []string{FamedlyKeysEventType}, Retries: 2}, xAliceF)
	h.bot.mu.Lock()
	h.bot.failFn = func(typ string) error {
		if typ == FamedlyKeysEventType {
			return errSend
		}
		return nil
	}
	h.bot.mu.Unlock()
	h.change(membership.Joined, xSelfFamedly)
	h.expect(2)
	for range 2 {
		if s := h.expectRetry(DefaultRetryDelay); s.typ != FamedlyKeysEventType {
			t.Fatalf("retry sent %s", s.typ)
		}
	}
	for range 5 { // time for the last failure to reach the owner; no third retry
		h.advance(DefaultRetryDelay)
		h.quiet()
	}
}

// TestExchangeLifecycle: Run returns on Close and on ctx's end, and refuses
// a second call.
func TestExchangeLifecycle(t *testing.T) {
	h := newHarness(t, ExchangeOptions{})
	if err := h.x.Run(context.Background(), nil); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second Run: %v", err)
	}
	_ = h.x.Close()
	_ = h.x.Close()

	x := NewExchange(&fakeBot{}, &fakeTracker{changes: make(chan membership.Change)}, NewKeyStore(KeyStoreOptions{}), ExchangeOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx, nil) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}
