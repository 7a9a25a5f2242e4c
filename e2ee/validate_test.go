package e2ee

import (
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/membership"
)

// fakeClock moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_750_000_000, 0).UTC()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const (
	vRoom  = id.RoomID("!r:example.org")
	vAlice = id.UserID("@alice:example.org")
	vBob   = id.UserID("@bob:example.org")
	vCarol = id.UserID("@carol:example.org")
)

var (
	roomCall     = membership.CallKey{Room: vRoom, Application: "m.call", CallID: "", Scope: "m.room"}
	stickyCall   = membership.CallKey{Room: vRoom, Application: "m.call", CallID: ""}
	aliceFamedly = membership.Member{Dialect: membership.DialectFamedly, Call: roomCall, UserID: vAlice, DeviceID: "ALICE"}
	bobSession   = membership.Member{Dialect: membership.DialectMatrixRTC, Call: roomCall, UserID: vBob, DeviceID: "BOB"}
	carolSticky  = membership.Member{Dialect: membership.DialectRTCSticky, Call: stickyCall, UserID: vCarol, DeviceID: "CAROL", MembershipID: "m-1"}
)

func famedlyEvent(device id.DeviceID, confID string, index int) KeyEvent {
	return KeyEvent{
		Dialect: membership.DialectFamedly, Call: membership.CallKey{Room: vRoom, Application: "m.call", CallID: confID, Scope: "m.room"},
		DeviceID: device, Keys: []Key{{Index: index, Bytes: seq(32, byte(index))}},
	}
}

func rtcEvent(device id.DeviceID, memberID string, app string) KeyEvent {
	return KeyEvent{
		Dialect: membership.DialectMatrixRTC, Call: membership.CallKey{Room: vRoom, Application: app, Scope: "m.room"},
		DeviceID: device, MemberID: memberID, Keys: []Key{{Index: 9, Bytes: seq(16, 9)}},
	}
}

func olm(user id.UserID, device id.DeviceID) Transport {
	return Transport{Sender: user, Encrypted: true, SenderDevice: device, RoomEncrypted: true}
}

func newTestValidator(opts ValidatorOptions, members ...membership.Member) (*Validator, *MemberIndex, *fakeClock) {
	idx := NewMemberIndex()
	for _, m := range members {
		idx.Put(m)
	}
	clock := newFakeClock()
	return NewValidator(idx, clock, opts), idx, clock
}

// outcome summarizes a single-event Result as "accepted <identity>",
// "held" or the refusal reason.
func outcome(t *testing.T, r Result) string {
	t.Helper()
	switch {
	case len(r.Accepted) == 1 && len(r.Refused) == 0 && r.Held == 0:
		return "accepted " + r.Accepted[0].Participant.Identity
	case len(r.Refused) == 1 && len(r.Accepted) == 0 && r.Held == 0:
		return r.Refused[0].Reason.String()
	case r.Held == 1 && len(r.Accepted) == 0 && len(r.Refused) == 0:
		return "held"
	}
	t.Fatalf("unexpected result %+v", r)
	return ""
}

func TestValidate(t *testing.T) {
	t.Parallel()
	expired := aliceFamedly
	expired.DeviceID, expired.ExpiresAt = "OLD", time.Unix(1_000, 0)
	otherCall := aliceFamedly
	otherCall.DeviceID, otherCall.Call.CallID = "OTHER", "another-call"
	plain := Transport{Sender: vAlice}
	aliceID, bobID := "accepted @alice:example.org:ALICE", "accepted @bob:example.org:BOB"
	tests := []struct {
		name string
		opts ValidatorOptions
		ev   KeyEvent
		tr   Transport
		want string
	}{
		{"famedly, olm, member", ValidatorOptions{}, famedlyEvent("ALICE", "", 0), olm(vAlice, "ALICE"), aliceID},
		{"plaintext in an encrypted room", ValidatorOptions{}, famedlyEvent("ALICE", "", 0), Transport{Sender: vAlice, RoomEncrypted: true}, "plaintext"},
		{"plaintext in an unencrypted room", ValidatorOptions{}, famedlyEvent("ALICE", "", 0), plain, aliceID},
		{"plaintext refused by config", ValidatorOptions{RefusePlaintext: true}, famedlyEvent("ALICE", "", 0), plain, "plaintext"},
		{"olm device unknown", ValidatorOptions{}, famedlyEvent("ALICE", "", 0), olm(vAlice, ""), "unknown_sender_device"},
		{"olm device differs from claim", ValidatorOptions{}, famedlyEvent("ALICE", "", 0), olm(vAlice, "MALLORY"), "device_mismatch"},
		{"no sender", ValidatorOptions{}, famedlyEvent("ALICE", "", 0), olm("", "ALICE"), "malformed"},
		{"another user claims alice's device", ValidatorOptions{}, famedlyEvent("ALICE", "", 0), olm(vBob, "ALICE"), "held"},
		{"membership in another call", ValidatorOptions{}, famedlyEvent("OTHER", "", 0), olm(vAlice, "OTHER"), "held"},
		{"expired membership", ValidatorOptions{}, famedlyEvent("OLD", "", 0), olm(vAlice, "OLD"), "held"},
		{"no membership at all", ValidatorOptions{}, famedlyEvent("NEW", "", 0), olm(vAlice, "NEW"), "held"},
		{"matrixrtc key, famedly member", ValidatorOptions{}, rtcEvent("ALICE", "", "m.call"), olm(vAlice, "ALICE"), "held"},
		{"famedly key, matrixrtc member", ValidatorOptions{}, famedlyEvent("BOB", "", 0), olm(vBob, "BOB"), "held"},
		{"matrixrtc session member", ValidatorOptions{}, rtcEvent("BOB", "@bob:example.org:BOB", "m.call"), olm(vBob, "BOB"), bobID},
		{"matrixrtc session, no member id", ValidatorOptions{}, rtcEvent("BOB", "", "m.call"), olm(vBob, "BOB"), bobID},
		{"matrixrtc other application", ValidatorOptions{}, rtcEvent("BOB", "", "io.example.game"), olm(vBob, "BOB"), "held"},
		{"sticky member, same member id", ValidatorOptions{}, rtcEvent("CAROL", "m-1", "m.call"), olm(vCarol, "CAROL"),
			"accepted " + lkid.Hashed(string(vCarol), "CAROL", "m-1")},
		{"sticky member, other member id", ValidatorOptions{}, rtcEvent("CAROL", "m-2", "m.call"), olm(vCarol, "CAROL"), "held"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, _, _ := newTestValidator(tt.opts, aliceFamedly, bobSession, carolSticky, expired, otherCall)
			if got := outcome(t, v.Validate(tt.ev, tt.tr)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestValidateAcceptedCarriesMember(t *testing.T) {
	t.Parallel()
	v, _, clock := newTestValidator(ValidatorOptions{}, aliceFamedly)
	res := v.Validate(famedlyEvent("ALICE", "", 3), olm(vAlice, "ALICE"))
	a := res.Accepted[0]
	want := Participant{Call: roomCall, Identity: "@alice:example.org:ALICE", UserID: vAlice, DeviceID: "ALICE"}
	if a.Participant != want || a.Member.Dialect != membership.DialectFamedly || !a.ArrivedAt.Equal(clock.Now()) ||
		len(a.Keys) != 1 || a.Keys[0].Index != 3 {
		t.Fatalf("accepted %+v", a)
	}
}

func TestHoldReleasedByMembership(t *testing.T) {
	t.Parallel()
	v, idx, clock := newTestValidator(ValidatorOptions{})
	arrived := clock.Now()
	if got := outcome(t, v.Validate(famedlyEvent("ALICE", "", 1), olm(vAlice, "ALICE"))); got != "held" {
		t.Fatal(got)
	}
	clock.Advance(10 * time.Second)
	// A membership of someone else releases nothing.
	idx.Put(bobSession)
	if res := v.MembershipChanged(bobSession); len(res.Accepted)+len(res.Refused) != 0 || v.Held() != 1 {
		t.Fatalf("bob released %+v", res)
	}
	idx.Apply(membership.Change{Kind: membership.Joined, Member: aliceFamedly})
	res := v.MembershipChanged(aliceFamedly)
	if len(res.Accepted) != 1 || v.Held() != 0 {
		t.Fatalf("release %+v, %d still held", res, v.Held())
	}
	if !res.Accepted[0].ArrivedAt.Equal(arrived) {
		t.Errorf("arrival %v, want the original %v", res.Accepted[0].ArrivedAt, arrived)
	}
	if _, ok := v.NextExpiry(); ok {
		t.Error("expiry pending with nothing held")
	}
}

func TestHoldKeptForOtherCall(t *testing.T) {
	t.Parallel()
	v, idx, _ := newTestValidator(ValidatorOptions{})
	v.Validate(famedlyEvent("ALICE", "group-2", 1), olm(vAlice, "ALICE"))
	idx.Put(aliceFamedly) // a membership, but of the room-wide call
	res := v.MembershipChanged(aliceFamedly)
	if len(res.Accepted)+len(res.Refused) != 0 || v.Held() != 1 {
		t.Fatalf("got %+v, %d held", res, v.Held())
	}
}

func TestHoldExpires(t *testing.T) {
	t.Parallel()
	v, _, clock := newTestValidator(ValidatorOptions{})
	start := clock.Now()
	v.Validate(famedlyEvent("ALICE", "", 1), olm(vAlice, "ALICE"))
	if at, ok := v.NextExpiry(); !ok || !at.Equal(start.Add(DefaultHoldFor)) {
		t.Fatalf("next expiry %v %v", at, ok)
	}
	clock.Advance(DefaultHoldFor - time.Millisecond)
	if res := v.Expire(); len(res.Refused) != 0 {
		t.Fatalf("expired early: %+v", res)
	}
	clock.Advance(time.Millisecond)
	res := v.Expire()
	if len(res.Refused) != 1 || res.Refused[0].Reason != ReasonNoMembership || v.Held() != 0 {
		t.Fatalf("got %+v", res)
	}
	r := res.Refused[0]
	if r.UserID != vAlice || r.DeviceID != "ALICE" || r.Room != vRoom || len(r.Indices) != 1 || r.Indices[0] != 1 {
		t.Errorf("refusal %+v", r)
	}
	// Validate settles expired holds too.
	v.Validate(famedlyEvent("ALICE", "", 2), olm(vAlice, "ALICE"))
	clock.Advance(2 * DefaultHoldFor)
	res = v.Validate(famedlyEvent("BOBX", "", 3), olm(vBob, "BOBX"))
	if len(res.Refused) != 1 || res.Refused[0].Indices[0] != 2 || res.Held != 1 {
		t.Fatalf("got %+v", res)
	}
}

func TestHoldBounds(t *testing.T) {
	t.Parallel()
	v, _, clock := newTestValidator(ValidatorOptions{MaxHeld: 6, MaxHeldPerDevice: 2})
	for i := range 2 {
		v.Validate(famedlyEvent("ALICE", "", i), olm(vAlice, "ALICE"))
		clock.Advance(time.Second)
	}
	// A third event of the same device pushes out that device's oldest.
	res := v.Validate(famedlyEvent("ALICE", "", 2), olm(vAlice, "ALICE"))
	if res.Held != 1 || len(res.Refused) != 1 || res.Refused[0].Reason != ReasonHoldFull || res.Refused[0].Indices[0] != 0 {
		t.Fatalf("per-device bound: %+v", res)
	}
	for _, d := range []id.DeviceID{"D1", "D2", "D3", "D4"} {
		v.Validate(famedlyEvent(d, "", 0), olm(vBob, d))
	}
	if v.Held() != 6 {
		t.Fatalf("%d held", v.Held())
	}
	// Full: the newcomer is refused, nobody else is displaced.
	res = v.Validate(famedlyEvent("D5", "", 0), olm(vBob, "D5"))
	if got := outcome(t, res); got != "hold_full" || res.Refused[0].DeviceID != "D5" || v.Held() != 6 {
		t.Fatalf("total bound: %s, %+v, %d held", got, res, v.Held())
	}
}

func TestReceiveMalformed(t *testing.T) {
	t.Parallel()
	v, _, _ := newTestValidator(ValidatorOptions{}, aliceFamedly)
	content := `{"keys":[{"index":0,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}],"call_id":"","conf_id":"","device_id":"ALICE","room_id":"!r:example.org"}`
	if got := outcome(t, v.Receive(FamedlyKeysEventType, []byte(content), olm(vAlice, "ALICE"))); got != "accepted @alice:example.org:ALICE" {
		t.Fatal(got)
	}
	bad := strings.Replace(content, `"index":0`, `"index":99`, 1)
	res := v.Receive(FamedlyKeysEventType, []byte(bad), olm(vAlice, "ALICE"))
	if got := outcome(t, res); got != "malformed" {
		t.Fatal(got)
	}
	r := res.Refused[0]
	if r.Dialect != membership.DialectFamedly || r.UserID != vAlice || !strings.Contains(r.Detail, "index") || strings.Contains(r.Detail, "AAECAwQF") {
		t.Errorf("refusal %+v", r)
	}
	if got := outcome(t, v.Receive("m.call.invite", []byte(`{}`), olm(vAlice, "ALICE"))); got != "malformed" {
		t.Error(got)
	}
}

func TestCheckRequest(t *testing.T) {
	t.Parallel()
	v, _, _ := newTestValidator(ValidatorOptions{}, aliceFamedly)
	req := KeyRequest{Call: roomCall, DeviceID: "ALICE"}
	if m, _, ok := v.CheckRequest(req, olm(vAlice, "ALICE")); !ok || m.DeviceID != "ALICE" {
		t.Fatalf("member's request refused")
	}
	tests := []struct {
		name string
		req  KeyRequest
		tr   Transport
		want Reason
	}{
		{"no membership", KeyRequest{Call: roomCall, DeviceID: "NEW"}, olm(vAlice, "NEW"), ReasonNoMembership},
		{"other call", KeyRequest{Call: membership.CallKey{Room: vRoom, CallID: "x"}, DeviceID: "ALICE"}, olm(vAlice, "ALICE"), ReasonNoMembership},
		{"plaintext in encrypted room", req, Transport{Sender: vAlice, RoomEncrypted: true}, ReasonPlaintext},
		{"device mismatch", req, olm(vAlice, "EVE"), ReasonDeviceMismatch},
	}
	for _, tt := range tests {
		_, r, ok := v.CheckRequest(tt.req, tt.tr)
		if ok || r.Reason != tt.want || !r.Request || r.Indices != nil {
			t.Errorf("%s: ok %v, refusal %+v", tt.name, ok, r)
		}
	}
	if v.Held() != 0 {
		t.Error("a request was held")
	}
}

func TestMemberIndex(t *testing.T) {
	t.Parallel()
	idx := NewMemberIndex()
	other := aliceFamedly
	other.Call.CallID = "c2"
	idx.Apply(membership.Change{Kind: membership.Joined, Member: aliceFamedly})
	idx.Apply(membership.Change{Kind: membership.Joined, Member: other})
	updated := aliceFamedly
	updated.ExpiresAt = time.Unix(5, 0)
	idx.Apply(membership.Change{Kind: membership.Updated, Member: updated})
	got := idx.DeviceMembers(vRoom, vAlice, "ALICE")
	if len(got) != 2 || !got[0].ExpiresAt.Equal(updated.ExpiresAt) {
		t.Fatalf("got %+v", got)
	}
	idx.Apply(membership.Change{Kind: membership.Left, Member: aliceFamedly})
	idx.Apply(membership.Change{Kind: membership.Expired, Member: other})
	if got := idx.DeviceMembers(vRoom, vAlice, "ALICE"); len(got) != 0 || len(idx.byDevice) != 0 {
		t.Fatalf("left behind %+v", idx.byDevice)
	}
}

func TestReasonNames(t *testing.T) {
	t.Parallel()
	for r := ReasonUnknown; r <= ReasonHoldFull; r++ {
		if r.String() == "" || (r != ReasonUnknown && r.String() == "unknown") {
			t.Errorf("reason %d has no name", r)
		}
	}
	if Reason(99).String() != "unknown" || Reason(-1).String() != "unknown" {
		t.Error("out-of-range reason")
	}
}
