package mesh

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/membership"
)

// fakeMembers is the tracker for unit tests: a room's members, set by the
// test, and a change feed.
type fakeMembers struct {
	mu      sync.Mutex
	members []membership.Member
	changes chan membership.Change
}

func (f *fakeMembers) SnapshotRoom(context.Context, id.RoomID) ([]membership.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.members), nil
}

func (f *fakeMembers) SubscribeRooms(context.Context, func(id.RoomID) bool) (<-chan membership.Change, error) {
	return f.changes, nil
}

// set replaces the members and tells the engine.
func (f *fakeMembers) set(ms ...membership.Member) {
	f.mu.Lock()
	f.members = ms
	f.mu.Unlock()
	f.changes <- membership.Change{Kind: membership.Updated, Member: membership.Member{Call: testCall}}
}

// sent is one call event the engine sent.
type sent struct {
	device  id.DeviceID
	typ     string
	content map[string]any
}

type fakeTransport struct{ out chan sent }

func (f fakeTransport) SendCallEvent(_ context.Context, _ id.RoomID, _ id.UserID, device id.DeviceID, typ string,
	content json.RawMessage) error {
	var m map[string]any
	if err := json.Unmarshal(content, &m); err != nil {
		return err
	}
	f.out <- sent{device, typ, m}
	return nil
}

func (fakeTransport) RoomEncrypted(id.RoomID) bool { return false }

var testCall = membership.CallKey{Room: "!room:x", Application: "m.call", Scope: "m.room"}

func member(user, device, session string) membership.Member {
	return membership.Member{Dialect: membership.DialectFamedly, Call: testCall, UserID: id.UserID(user),
		DeviceID: id.DeviceID(device), MembershipID: session, ActiveFoci: []membership.Focus{{Type: "mesh"}}}
}

// engineRig runs an engine carrying testCall as @bot:x BOT.
func engineRig(t *testing.T) (*Engine, *fakeMembers, fakeTransport) {
	t.Helper()
	eng, fm, tr := startEngine(t)
	eng.Carry(testCall, membership.Focus{Type: "mesh"})
	return eng, fm, tr
}

// startEngine runs an engine as @bot:x BOT, carrying nothing yet.
func startEngine(t *testing.T) (*Engine, *fakeMembers, fakeTransport) {
	t.Helper()
	leakcheck.Check(t)
	fm := &fakeMembers{changes: make(chan membership.Change, 16)}
	tr := fakeTransport{out: make(chan sent, 256)}
	eng := NewEngine(EngineConfig{
		Self: func() (id.UserID, id.DeviceID) { return "@bot:x", "BOT" },
		ICE:  func() ICEConfig { return ICEConfig{LoopbackOnly: true} },
	}, nil, fm, tr)
	done := make(chan error, 1)
	go func() { done <- eng.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = eng.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return eng, fm, tr
}

// await returns the first sent event match accepts, skipping others.
func await(t *testing.T, tr fakeTransport, what string, match func(sent) bool) sent {
	t.Helper()
	deadline := time.After(30 * time.Second) // hang guard
	for {
		select {
		case s := <-tr.out:
			if match(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("no %s sent", what)
		}
	}
}

// awaitBoth waits until both a and b matched sent events, in any order.
func awaitBoth(t *testing.T, tr fakeTransport, what string, a, b func(sent) bool) {
	t.Helper()
	var sawA, sawB bool
	await(t, tr, what, func(s sent) bool {
		sawA, sawB = sawA || a(s), sawB || b(s)
		return sawA && sawB
	})
}

func kindTo(kind, device, session string) func(sent) bool {
	return func(s sent) bool {
		return s.typ == GroupPrefix+kind && string(s.device) == device && s.content["dest_session_id"] == session
	}
}

// TestEngineFollowsMembers: the engine calls a member device that sorts
// after us, hangs its call up and calls again when its membershipID
// changes, and hangs up when it leaves.
func TestEngineFollowsMembers(t *testing.T) {
	_, fm, tr := engineRig(t)
	fm.set(member("@bot:x", "BOT", "b1"), member("@zed:x", "Z", "z1"))
	inv := await(t, tr, "invite to z1", kindTo("invite", "Z", "z1"))
	if inv.content["sender_session_id"] != "b1" || inv.content["party_id"] != "b1" || inv.content["room_id"] != "!room:x" {
		t.Errorf("invite envelope %v: want our session b1 in room !room:x", inv.content)
	}
	fm.set(member("@bot:x", "BOT", "b1"), member("@zed:x", "Z", "z2"))
	// Two peers send these, in either order.
	awaitBoth(t, tr, "hangup of z1's call and invite to z2", kindTo("hangup", "Z", "z1"), kindTo("invite", "Z", "z2"))
	fm.set(member("@bot:x", "BOT", "b1"))
	await(t, tr, "hangup of z2's call", kindTo("hangup", "Z", "z2"))
}

// TestEngineHoldsInviteOfUnseenMember: an invite whose sender's
// membership has not reached us yet is held, not refused, and answered
// once the membership comes.
func TestEngineHoldsInviteOfUnseenMember(t *testing.T) {
	eng, fm, tr := engineRig(t)
	fm.set(member("@bot:x", "BOT", "b1"))
	typ, content := amyInvite(t, "c1")
	// Wait until the engine has our own membership, so the invite is
	// checked (and held) rather than waiting for it.
	waitState(t, eng, "alone")
	eng.Receive(ToDevice{Sender: "@amy:x", SenderDevice: "A", Type: typ, Content: content})
	fm.set(member("@bot:x", "BOT", "b1"), member("@amy:x", "A", "a1"))
	ans := await(t, tr, "answer to a1", kindTo("answer", "A", "a1"))
	if ans.content["call_id"] != "c1" {
		t.Errorf("answer %v: want call c1", ans.content)
	}
}

// TestEngineHoldsInviteBeforeCarry: the supervisor hands a call over only
// once our membership is written, but a member who reads it first may
// invite us at once: that invite, come before Carry, is answered after it.
func TestEngineHoldsInviteBeforeCarry(t *testing.T) {
	eng, fm, tr := startEngine(t)
	fm.set(member("@bot:x", "BOT", "b1"), member("@amy:x", "A", "a1"))
	typ, content := amyInvite(t, "c1")
	eng.Receive(ToDevice{Sender: "@amy:x", SenderDevice: "A", Type: typ, Content: content})
	eng.Carry(testCall, membership.Focus{Type: "mesh"})
	if ans := await(t, tr, "answer to a1", kindTo("answer", "A", "a1")); ans.content["call_id"] != "c1" {
		t.Errorf("answer %v: want call c1", ans.content)
	}
}

func waitState(t *testing.T, eng *Engine, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // hang guard
	for eng.CallState(testCall) != want {
		if time.Now().After(deadline) {
			t.Fatalf("call state %q, want %q", eng.CallState(testCall), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// amyInvite is @amy:x A's (session a1) invite of call callID to our
// session b1, with a real offer.
func amyInvite(t *testing.T, callID string) (string, json.RawMessage) {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return amySignal(t, callID, &Invite{Lifetime: InviteLifetime, Offer: Description{SDP: offer.SDP, Type: SDPOffer},
		Invitee: "@bot:x", InviteeDeviceID: "BOT", DeviceID: "A", Capabilities: &Capabilities{},
		Metadata: StreamMetadata{"s": {Purpose: PurposeUserMedia}}})
}

func amySignal(t *testing.T, callID string, b Body) (string, json.RawMessage) {
	t.Helper()
	typ, content, err := Encode(Signal{Dialect: Group,
		Group: &Envelope{SenderSessionID: "a1", DestSessionID: "b1", RoomID: "!room:x"},
		Call:  Call{CallID: callID, PartyID: "a1", Version: Version}, Body: b})
	if err != nil {
		t.Fatal(err)
	}
	return typ, content
}

// TestEngineReinviteAfterHangup: a device that hangs up and calls again
// at once gets its new call answered, even while its ended peer is being
// forgotten.
func TestEngineReinviteAfterHangup(t *testing.T) {
	eng, fm, tr := engineRig(t)
	fm.set(member("@bot:x", "BOT", "b1"), member("@amy:x", "A", "a1"))
	waitState(t, eng, "connecting 0/1 peers")
	typ, content := amyInvite(t, "c1")
	eng.Receive(ToDevice{Sender: "@amy:x", SenderDevice: "A", Type: typ, Content: content})
	await(t, tr, "answer of c1", func(s sent) bool { return s.typ == GroupPrefix+"answer" && s.content["call_id"] == "c1" })
	// Back to back, as one sync delivers them.
	htyp, hangup := amySignal(t, "c1", &Hangup{Reason: ReasonUserHangup})
	typ, content = amyInvite(t, "c2")
	eng.Receive(ToDevice{Sender: "@amy:x", SenderDevice: "A", Type: htyp, Content: hangup})
	eng.Receive(ToDevice{Sender: "@amy:x", SenderDevice: "A", Type: typ, Content: content})
	await(t, tr, "answer of c2", func(s sent) bool { return s.typ == GroupPrefix+"answer" && s.content["call_id"] == "c2" })
}

// TestEnginePlainSignals: in an unencrypted room call events come plain,
// naming no sending device; they reach the peer of the sender's session
// (a hangup ends the call).
func TestEnginePlainSignals(t *testing.T) {
	eng, fm, tr := engineRig(t)
	fm.set(member("@bot:x", "BOT", "b1"), member("@amy:x", "A", "a1"))
	waitState(t, eng, "connecting 0/1 peers")
	typ, content := amyInvite(t, "c1")
	eng.Receive(ToDevice{Sender: "@amy:x", Type: typ, Content: content})
	await(t, tr, "answer of c1", func(s sent) bool { return s.typ == GroupPrefix+"answer" && s.content["call_id"] == "c1" })
	typ, content = amySignal(t, "c1", &Hangup{Reason: ReasonUserHangup})
	eng.Receive(ToDevice{Sender: "@amy:x", Type: typ, Content: content})
	waitState(t, eng, "alone")
}
