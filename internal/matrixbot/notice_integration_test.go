package matrixbot

import (
	"errors"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

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
	encRoom := env.CreateEncryptedRoom(t, alice)
	plainRoom := env.CreateRoom(t, aliceUser)
	joinRooms(t, r, aliceUser, encRoom, plainRoom)

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
