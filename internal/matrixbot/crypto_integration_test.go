package matrixbot

import (
	"context"
	"errors"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

var (
	typeCallKeys = event.Type{Type: "io.element.call.encryption_keys", Class: event.ToDeviceEventType}
	typePlain    = event.Type{Type: "io.switchboard.test.plain", Class: event.ToDeviceEventType}
)

func toDeviceOf(typ string) func(Event) bool {
	return func(e Event) bool { return e.Kind == KindToDevice && e.Evt.Type.Type == typ }
}

// olmSessions counts the bot's stored Olm sessions with a peer identity key.
func olmSessions(t *testing.T, b *Bot, peer id.IdentityKey) int {
	t.Helper()
	o, err := b.currentOlm()
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.mach.CryptoStore.GetSessions(t.Context(), peer)
	if err != nil {
		t.Fatal(err)
	}
	return len(s)
}

// exchange sends one Olm-encrypted custom event each way between the bot
// and alice and checks what each side learns about the sender.
func exchange(t *testing.T, r *running, alice *testenv.CryptoClient, round string) {
	t.Helper()
	ctx := t.Context()
	botDev, botKey := r.Client().DeviceID, r.IdentityKey()

	out := map[string]any{"keys": []any{map[string]any{"index": 0, "key": "Ym90LWtleS0" + round}}, "round": round}
	if err := r.SendEncryptedToDevice(ctx, typeCallKeys, map[id.UserID][]id.DeviceID{alice.User.ID: {alice.DeviceID()}}, out); err != nil {
		t.Fatalf("bot sends encrypted: %v", err)
	}
	got := alice.Receive(t, 20*time.Second, func(td testenv.ToDevice) bool {
		return td.Type.Type == typeCallKeys.Type && td.Content["round"] == round
	})
	if !got.Encrypted || got.Sender != r.cfg.UserID || got.SenderDevice != botDev || got.SenderKey != id.SenderKey(botKey) {
		t.Errorf("%s: alice got %+v, want encrypted from %s/%s key %s", round, got, r.cfg.UserID, botDev, botKey)
	}

	in := map[string]any{"keys": []any{map[string]any{"index": 1, "key": "YWxpY2Uta2V5"}}, "round": round}
	if err := alice.SendEncrypted(ctx, typeCallKeys, map[id.UserID][]id.DeviceID{r.cfg.UserID: {botDev}}, in); err != nil {
		t.Fatalf("alice sends encrypted: %v", err)
	}
	e := r.next(t, 20*time.Second, "encrypted to-device from alice", func(e Event) bool {
		return toDeviceOf(typeCallKeys.Type)(e) && e.Evt.Content.Raw["round"] == round
	})
	if !e.Encrypted || e.Sender != alice.User.ID || e.Evt.Sender != alice.User.ID ||
		e.SenderDevice != alice.DeviceID() || e.SenderKey != id.SenderKey(alice.IdentityKey()) {
		t.Errorf("%s: bot got %+v (evt sender %s), want encrypted from %s/%s key %s",
			round, e, e.Evt.Sender, alice.User.ID, alice.DeviceID(), alice.IdentityKey())
	}
	if e.Evt.Type.Class != event.ToDeviceEventType {
		t.Errorf("decrypted event class %v", e.Evt.Type.Class)
	}
}

// TestOlmToDeviceExchange runs the bot against the real Synapse with an
// encrypting test client: custom-type Olm to-device events both ways, plain
// ones both ways, room encryption seen in sync, and all of it again after a
// restart on the same data dir, with the same identity and Olm session.
func TestOlmToDeviceExchange(t *testing.T) {
	env := testenv.Require(t)
	botUser := env.RegisterUser(t, "bot")
	aliceUser := env.RegisterUser(t, "alice")
	leakcheck.Check(t)
	ctx := t.Context()
	dir := t.TempDir()
	logger, _ := newLogger(t)
	cfg := botConfig(env, botUser, dir)
	cfg.Invites = InvitePolicy{AllowUsers: []id.UserID{aliceUser.ID}}

	r1 := start(t, newBot(t, logger, cfg))
	r1.next(t, 20*time.Second, "first sync", syncDone)
	if r1.IdentityKey() == "" {
		t.Fatal("no identity key after login")
	}
	alice := env.NewCryptoClient(t, aliceUser)
	exchange(t, r1, alice, "one")

	// Plain events both ways are delivered and marked not encrypted.
	botDev := r1.Client().DeviceID
	if err := alice.SendPlain(ctx, typePlain, map[id.UserID][]id.DeviceID{botUser.ID: {botDev}}, map[string]any{"hello": "bot"}); err != nil {
		t.Fatal(err)
	}
	p := r1.next(t, 20*time.Second, "plain to-device", toDeviceOf(typePlain.Type))
	if p.Encrypted || p.SenderDevice != "" || p.SenderKey != "" || p.Sender != aliceUser.ID || p.Evt.Content.Raw["hello"] != "bot" {
		t.Errorf("plain event: %+v content %v", p, p.Evt.Content.Raw)
	}
	if err := r1.SendToDevice(ctx, typePlain, map[id.UserID][]id.DeviceID{aliceUser.ID: {alice.DeviceID()}}, map[string]any{"hello": "alice"}); err != nil {
		t.Fatal(err)
	}
	if got := alice.Receive(t, 20*time.Second, testenv.OfType(typePlain.Type)); got.Encrypted || got.Content["hello"] != "alice" {
		t.Errorf("alice got plain %+v", got)
	}

	// Room encryption state from sync.
	encRoom := env.CreateEncryptedRoom(t, alice)
	plainRoom := env.CreateRoom(t, aliceUser)
	joinRooms(t, r1, aliceUser, encRoom, plainRoom)
	if !r1.RoomEncrypted(encRoom) || r1.RoomEncrypted(plainRoom) {
		t.Errorf("RoomEncrypted: encrypted room %v, plain room %v", r1.RoomEncrypted(encRoom), r1.RoomEncrypted(plainRoom))
	}

	aliceKey := alice.IdentityKey()
	if n := olmSessions(t, r1.Bot, aliceKey); n != 1 {
		t.Errorf("bot has %d Olm sessions with alice, want 1", n)
	}
	identity := r1.IdentityKey()
	if err := r1.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r1.Close()

	// Restart on the same data dir: same device, identity, session, rooms.
	r2 := start(t, newBot(t, logger, cfg))
	<-r2.LoggedIn()
	if r2.Client().DeviceID != botDev || r2.IdentityKey() != identity {
		t.Fatalf("after restart: device %s identity %s, want %s %s", r2.Client().DeviceID, r2.IdentityKey(), botDev, identity)
	}
	if !r2.RoomEncrypted(encRoom) {
		t.Error("room encryption forgotten across restart")
	}
	exchange(t, r2, alice, "two")
	if n := olmSessions(t, r2.Bot, aliceKey); n != 1 {
		t.Errorf("after restart the bot has %d Olm sessions with alice, want 1 (the old one)", n)
	}
	if s, err := alice.Machine.CryptoStore.GetSessions(ctx, identity); err != nil || len(s) != 1 {
		t.Errorf("alice has %d sessions with the bot (err %v), want 1", len(s), err)
	}
	// Sending to every device of a user: alice has one.
	if err := r2.SendEncryptedToDevice(ctx, typeCallKeys, map[id.UserID][]id.DeviceID{aliceUser.ID: nil}, map[string]any{"round": "all"}); err != nil {
		t.Fatal(err)
	}
	alice.Receive(t, 20*time.Second, func(td testenv.ToDevice) bool { return td.Encrypted && td.Content["round"] == "all" })
	r2.stop(t)
}

// TestSendErrors checks what senders get before login and for devices that
// do not exist.
func TestSendErrors(t *testing.T) {
	env := testenv.Require(t)
	botUser := env.RegisterUser(t, "bot")
	leakcheck.Check(t)
	logger, _ := newLogger(t)
	b := newBot(t, logger, botConfig(env, botUser, t.TempDir()))
	if err := b.SendEncryptedToDevice(t.Context(), typeCallKeys, nil, map[string]any{}); !errors.Is(err, ErrCryptoNotReady) {
		t.Errorf("before login: %v", err)
	}
	r := start(t, b)
	r.next(t, 20*time.Second, "first sync", syncDone)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := r.SendEncryptedToDevice(ctx, typeCallKeys, map[id.UserID][]id.DeviceID{botUser.ID: {"NOSUCHDEVICE"}}, map[string]any{"a": 1})
	if !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("unknown device: %v", err)
	}
	if err := r.SendEncryptedToDevice(ctx, typeCallKeys, map[id.UserID][]id.DeviceID{botUser.ID: nil}, "not an object"); !errors.Is(err, ErrBadContent) {
		t.Errorf("string content: %v", err)
	}
	r.stop(t)
}

// TestOTKTopUp claims some of the bot's one-time keys and checks the bot
// uploads new ones when the sync reports fewer than half left.
func TestOTKTopUp(t *testing.T) {
	env := testenv.Require(t)
	botUser := env.RegisterUser(t, "bot")
	alice := env.RegisterUser(t, "alice")
	leakcheck.Check(t)
	logger, _ := newLogger(t)
	r := start(t, newBot(t, logger, botConfig(env, botUser, t.TempDir())))
	// Keys are uploaded before the first sync, which reports their count.
	full := r.next(t, 20*time.Second, "one-time key count", func(e Event) bool { return e.Kind == KindOTKCounts })
	dev := r.Client().DeviceID
	if full.OTKCounts.SignedCurve25519 < 50 {
		t.Fatalf("only %d one-time keys after start", full.OTKCounts.SignedCurve25519)
	}
	for range full.OTKCounts.SignedCurve25519 - 48 {
		resp, err := alice.Client.ClaimKeys(t.Context(), &mautrix.ReqClaimKeys{
			OneTimeKeys: mautrix.OneTimeKeysRequest{botUser.ID: {dev: id.KeyAlgorithmSignedCurve25519}}})
		if err != nil || len(resp.OneTimeKeys[botUser.ID][dev]) != 1 {
			t.Fatalf("claim: %v %+v", err, resp)
		}
	}
	r.next(t, 20*time.Second, "low count", func(e Event) bool { return e.Kind == KindOTKCounts && e.OTKCounts.SignedCurve25519 < 50 })
	r.next(t, 20*time.Second, "count topped up", func(e Event) bool { return e.Kind == KindOTKCounts && e.OTKCounts.SignedCurve25519 >= 50 })
	r.stop(t)
}
