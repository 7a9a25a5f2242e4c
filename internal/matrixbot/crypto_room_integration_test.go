package matrixbot

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// rtcMemberIn matches a room event of type rtc.member in room with eventID
// (any, if empty).
func rtcMemberIn(room id.RoomID, eventID id.EventID) func(Event) bool {
	return func(e Event) bool {
		return e.Kind == KindTimeline && e.RoomID == room && e.Evt != nil &&
			(eventID == "" || e.Evt.ID == eventID) && e.Evt.Type == testenv.RTCMember
	}
}

// cryptoScene is a bot on the real Synapse that accepts alice's invites
// (after its first sync), and alice's encrypting device.
type cryptoScene struct {
	env       *testenv.Env
	cfg       Config
	logger    *slog.Logger
	logs      *logBuf
	bot       *running
	aliceUser *testenv.User
	alice     *testenv.CryptoClient
}

func newCryptoScene(t *testing.T) *cryptoScene {
	t.Helper()
	env := testenv.Require(t)
	botUser := env.RegisterUser(t, "bot")
	aliceUser := env.RegisterUser(t, "alice")
	leakcheck.Check(t)
	logger, logs := newLogger(t)
	cfg := botConfig(env, botUser, t.TempDir())
	cfg.Invites = InvitePolicy{AllowUsers: []id.UserID{aliceUser.ID}}
	r := start(t, newBot(t, logger, cfg))
	r.next(t, 20*time.Second, "first sync", syncDone)
	return &cryptoScene{env: env, cfg: cfg, logger: logger, logs: logs, bot: r, aliceUser: aliceUser, alice: env.NewCryptoClient(t, aliceUser)}
}

// twoRooms has alice make a Megolm room and a plain one and invite the
// bot into both; it returns once the bot has joined them.
func (sc *cryptoScene) twoRooms(t *testing.T) (encrypted, plain id.RoomID) {
	t.Helper()
	encrypted = sc.env.CreateEncryptedRoom(t, sc.alice)
	plain = sc.env.CreateRoom(t, sc.aliceUser)
	joinRooms(t, sc.bot, sc.aliceUser, encrypted, plain)
	return encrypted, plain
}

// joinRooms has inviter invite the bot into each room and returns once the
// bot has joined them all and a sync has ended after.
func joinRooms(t *testing.T, r *running, inviter *testenv.User, rooms ...id.RoomID) {
	t.Helper()
	for _, room := range rooms {
		if _, err := inviter.Client.InviteUser(t.Context(), room, &mautrix.ReqInviteUser{UserID: r.cfg.UserID}); err != nil {
			t.Fatal(err)
		}
		r.next(t, 20*time.Second, "join", func(e Event) bool {
			return e.Kind == KindMembership && e.RoomID == room && e.Membership == event.MembershipJoin
		})
	}
	r.next(t, 20*time.Second, "sync done", syncDone)
}

// TestEncryptedStickyMemberships (#9 defect 5) runs the bot on the real
// Synapse with an encrypting client in a Megolm room, as an Element Call
// matrix_2_0 member: its sticky rtc.member event, encrypted with a session
// shared with the bot, comes out decrypted (same event, sticky, from the
// timeline); one whose key the bot lacks comes out once as Undecryptable,
// the bot asks the sender for the key, and when the key arrives the same
// event comes out Decrypted; hostile ciphertext is refused, not emitted.
func TestEncryptedStickyMemberships(t *testing.T) {
	sc := newCryptoScene(t)
	env, r, alice, aliceUser, botUser, logs := sc.env, sc.bot, sc.alice, sc.aliceUser, sc.cfg.UserID, sc.logs
	ctx := t.Context()
	room := env.CreateEncryptedRoom(t, alice)
	joinRooms(t, r, aliceUser, room)

	// The session is shared with the bot first: decrypted at once.
	content := testenv.RTCMemberContent(aliceUser.ID, alice.DeviceID(), "m-one", env.ServiceURL)
	first, err := alice.SendStickyEncrypted(ctx, room, testenv.RTCMember, content, time.Hour, aliceUser.ID, botUser)
	if err != nil {
		t.Fatal(err)
	}
	e := r.next(t, 20*time.Second, "the decrypted membership", rtcMemberIn(room, first))
	if !e.Decrypted || e.Undecryptable || e.Source != SourceTimeline || e.Evt.Sender != aliceUser.ID ||
		e.Evt.Sticky.GetDuration() != time.Hour || e.Evt.Content.Raw["msc4354_sticky_key"] != "m-one" {
		t.Fatalf("decrypted event: %+v, evt %+v", e, e.Evt)
	}

	// A new session the bot never got: undecryptable, and a key request.
	if err := alice.Machine.CryptoStore.RemoveOutboundGroupSession(ctx, room); err != nil {
		t.Fatal(err)
	}
	second, err := alice.SendStickyEncrypted(ctx, room, testenv.RTCMember,
		testenv.RTCMemberContent(aliceUser.ID, alice.DeviceID(), "m-two", env.ServiceURL), time.Hour, aliceUser.ID)
	if err != nil {
		t.Fatal(err)
	}
	u := r.next(t, 20*time.Second, "the undecryptable event", func(e Event) bool {
		return e.Kind == KindTimeline && e.RoomID == room && e.Evt != nil && e.Evt.ID == second
	})
	if !u.Undecryptable || u.Decrypted || u.Evt.Type != event.EventEncrypted || u.Evt.Sticky.GetDuration() != time.Hour {
		t.Fatalf("undecryptable event: %+v, evt %+v", u, u.Evt)
	}
	req := alice.Receive(t, 20*time.Second, testenv.OfType(event.ToDeviceRoomKeyRequest.Type))
	if body, _ := req.Content["body"].(map[string]any); req.Sender != botUser || body["room_id"] != room.String() {
		t.Errorf("key request: %+v", req)
	}

	// The key arrives late: the same event, decrypted.
	if err := alice.ForwardRoomKey(ctx, room, map[id.UserID][]id.DeviceID{botUser: {r.Client().DeviceID}}); err != nil {
		t.Fatal(err)
	}
	late := r.next(t, 20*time.Second, "the late decryption", func(e Event) bool {
		if e.Kind == KindTimeline && e.Evt != nil && e.Evt.ID == second && e.Undecryptable {
			t.Errorf("undecryptable event emitted twice")
		}
		return rtcMemberIn(room, second)(e)
	})
	if !late.Decrypted || late.Evt.Content.Raw["msc4354_sticky_key"] != "m-two" || late.Source != SourceTimeline {
		t.Fatalf("late decrypted event: %+v, evt %+v", late, late.Evt)
	}

	// Hostile ciphertext: refused with a log line, nothing emitted.
	bad := map[string]any{"algorithm": id.AlgorithmMegolmV1, "session_id": strings.Repeat("A", 43),
		"ciphertext": strings.Repeat("!", 80), "sender_key": "x", "device_id": "D"}
	badID, err := testenv.SendSticky(ctx, aliceUser.Client, room, event.EventEncrypted, bad, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A plain marker after it: when it arrives, the bad event was handled.
	marker, err := testenv.SendSticky(ctx, aliceUser.Client, room, testenv.RTCMember, map[string]any{"msc4354_sticky_key": "marker"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r.next(t, 20*time.Second, "the marker", func(e Event) bool {
		if e.Evt != nil && e.Evt.ID == badID {
			t.Errorf("hostile ciphertext emitted: %+v", e)
		}
		return e.Evt != nil && e.Evt.ID == marker
	})
	if !strings.Contains(logs.String(), "refusing an encrypted room event") {
		t.Error("no refusal logged for the hostile ciphertext")
	}
}
