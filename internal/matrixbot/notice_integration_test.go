package matrixbot

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// checkNotice fails t unless re is n as an m.notice with empty m.mentions,
// encrypted or not as wanted.
func checkNotice(t *testing.T, re testenv.RoomEvent, n Notice, encrypted bool) {
	t.Helper()
	m := re.Evt.Content.AsMessage()
	mentions, ok := re.Evt.Content.Raw["m.mentions"].(map[string]any)
	if re.Encrypted != encrypted || re.Evt.Type != event.EventMessage || m.MsgType != event.MsgNotice ||
		m.Body != n.Body || m.FormattedBody != n.HTML || !ok || len(mentions) != 0 {
		t.Errorf("notice: encrypted %v (want %v), type %v, content %+v", re.Encrypted, encrypted, re.Evt.Type, re.Evt.Content.Raw)
	}
	if n.HTML != "" && m.Format != event.FormatHTML {
		t.Errorf("format %q", m.Format)
	}
}

// TestSendNotice (#13) runs the bot on the real Synapse. In a Megolm room
// its notice arrives as m.room.encrypted and alice's device decrypts it to
// the same m.notice; when bob joins, the next notice goes out under a key
// he was given, so his device decrypts it too. In an unencrypted room the
// notice arrives plain. In a room the bot is not in, where it cannot learn
// whether the room is encrypted, nothing is sent and the error says so.
func TestSendNotice(t *testing.T) {
	sc := newCryptoScene(t)
	env, r, alice, aliceUser, botUser := sc.env, sc.bot, sc.alice, sc.aliceUser, sc.cfg.UserID
	ctx := t.Context()
	encRoom, plainRoom := sc.twoRooms(t)

	first := Notice{Body: "Recording started: @x:y <b>", HTML: "Recording <b>started</b>: @x:y &lt;b&gt;"}
	if err := r.SendNotice(ctx, encRoom, first); err != nil {
		t.Fatal(err)
	}
	checkNotice(t, alice.FindRoomEvent(t, 30*time.Second, encRoom, testenv.IsNotice(botUser, first.Body)), first, true)

	bobUser := env.RegisterUser(t, "bob")
	bob := env.NewCryptoClient(t, bobUser)
	if _, err := aliceUser.Client.InviteUser(ctx, encRoom, &mautrix.ReqInviteUser{UserID: bobUser.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := bobUser.Client.JoinRoomByID(ctx, encRoom); err != nil {
		t.Fatal(err)
	}
	second := Notice{Body: "Recording stopped."}
	if err := r.SendNotice(ctx, encRoom, second); err != nil {
		t.Fatal(err)
	}
	checkNotice(t, bob.FindRoomEvent(t, 30*time.Second, encRoom, testenv.IsNotice(botUser, second.Body)), second, true)
	checkNotice(t, alice.FindRoomEvent(t, 30*time.Second, encRoom, testenv.IsNotice(botUser, second.Body)), second, true)

	plain := Notice{Body: "plain notice", HTML: "<i>plain</i> notice"}
	if err := r.SendNotice(ctx, plainRoom, plain); err != nil {
		t.Fatal(err)
	}
	checkNotice(t, alice.FindRoomEvent(t, 30*time.Second, plainRoom, testenv.IsNotice(botUser, plain.Body)), plain, false)

	// Not in the room: its encryption is unknown to the bot.
	outside := env.CreateRoom(t, aliceUser)
	err := r.SendNotice(ctx, outside, Notice{Body: "never sent"})
	if !errors.Is(err, ErrNotice) || !errors.Is(err, ErrRoomEncryptionUnknown) {
		t.Fatalf("notice into a room the bot is not in: %v", err)
	}
}

// replyTarget is the event a message content replies to ("" if none).
func replyTarget(content map[string]any) id.EventID {
	rel, _ := content["m.relates_to"].(map[string]any)
	to, _ := rel["m.in_reply_to"].(map[string]any)
	s, _ := to["event_id"].(string)
	return id.EventID(s)
}

// payloadOnly decrypts the encrypted event eventID of room as alice with
// the cleartext m.relates_to taken off its envelope, so what comes out is
// the encrypted payload alone (mautrix copies the envelope's relation into
// a payload that has none).
func payloadOnly(t *testing.T, alice *testenv.CryptoClient, room id.RoomID, eventID id.EventID) *event.Event {
	t.Helper()
	evt, err := alice.Client.GetEvent(t.Context(), room, eventID)
	if err != nil {
		t.Fatal(err)
	}
	var content map[string]any
	if err := json.Unmarshal(evt.Content.VeryRaw, &content); err != nil {
		t.Fatal(err)
	}
	delete(content, "m.relates_to")
	raw, _ := json.Marshal(content)
	evt.RoomID, evt.Type, evt.Content = room, event.EventEncrypted, event.Content{VeryRaw: raw}
	if err := evt.Content.ParseRaw(evt.Type); err != nil {
		t.Fatal(err)
	}
	dec, err := alice.Machine.DecryptMegolmEvent(t.Context(), evt)
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

// TestSendNoticeReply (#13 room commands): a notice with ReplyTo answers
// that event: in a plain room its content carries m.relates_to with
// m.in_reply_to; in an encrypted room the relation is inside the encrypted
// payload and, as the spec asks, also on the cleartext m.room.encrypted
// envelope. Mentions stay empty.
func TestSendNoticeReply(t *testing.T) {
	sc := newCryptoScene(t)
	r, alice, aliceUser, botUser := sc.bot, sc.alice, sc.aliceUser, sc.cfg.UserID
	ctx := t.Context()
	encRoom, plainRoom := sc.twoRooms(t)

	cmd := sc.say(t, plainRoom, "!call status")
	n := Notice{Body: "No call.", ReplyTo: cmd}
	if err := r.SendNotice(ctx, plainRoom, n); err != nil {
		t.Fatal(err)
	}
	re := alice.FindRoomEvent(t, 30*time.Second, plainRoom, testenv.IsNotice(botUser, n.Body))
	checkNotice(t, re, n, false)
	if got := replyTarget(re.Evt.Content.Raw); got != cmd {
		t.Errorf("plain reply to %q, want %q: %+v", got, cmd, re.Evt.Content.Raw)
	}

	encCmd, err := alice.SendRoomEncrypted(ctx, encRoom, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "!call status"},
		aliceUser.ID, botUser)
	if err != nil {
		t.Fatal(err)
	}
	n = Notice{Body: "No call here.", ReplyTo: encCmd}
	if err := r.SendNotice(ctx, encRoom, n); err != nil {
		t.Fatal(err)
	}
	re = alice.FindRoomEvent(t, 30*time.Second, encRoom, testenv.IsNotice(botUser, n.Body))
	checkNotice(t, re, n, true)
	envelope, err := aliceUser.Client.GetEvent(ctx, encRoom, re.Evt.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := replyTarget(envelope.Content.Raw); envelope.Type.Type != event.EventEncrypted.Type || got != encCmd {
		t.Errorf("envelope %s replies to %q, want %q: %+v", envelope.Type.Type, got, encCmd, envelope.Content.Raw)
	}
	if got := replyTarget(payloadOnly(t, alice, encRoom, re.Evt.ID).Content.Raw); got != encCmd {
		t.Errorf("encrypted payload replies to %q, want %q", got, encCmd)
	}
}
