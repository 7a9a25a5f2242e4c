package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/switchboard-rtc/switchboard/internal/logbuf"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/callwire"
)

// TestDirectEchoCall: a user calls the bot in an encrypted DM with a
// Megolm-encrypted m.call.invite; the bot answers (encrypted), trickles its
// candidates, the call connects over loopback and the caller hears its own
// marked audio back (the echo test); the caller's hangup ends the bot's
// side. A plain invite in a room of three is not answered. The
// homeserver's TURN servers are asked for (mesh.turn_from_homeserver).
func TestDirectEchoCall(t *testing.T) {
	env := testenv.Require(t)
	cfg, bot := botCoordinatorEnv(t, env, map[string]string{
		"SWITCHBOARD_MESH_LOOPBACK_ONLY": "true", "SWITCHBOARD_CALLS_ECHO_DELAY": "20ms",
		"SWITCHBOARD_MESH_TURN_FROM_HOMESERVER": "true",
	})
	var logs logbuf.Buffer
	startServeWith(t, cfg, func(stderr io.Writer) error {
		return run(t.Context(), []string{"coordinator", "serve"}, envOf(cfg), io.Discard, io.MultiWriter(stderr, &logs))
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("coordinator log:\n%s", logs.String())
		}
	})
	alice := env.RegisterUser(t, "alice")
	ac := env.NewCryptoClient(t, alice)
	room := env.CreateEncryptedRoom(t, ac)
	inviteBot(t, alice, room, bot)

	// The homeserver's voip/turnServer is asked as the bot (the test
	// Synapse has no TURN: it answers none).
	waitForLog(t, &logs, "the homeserver's TURN servers fetched", func(l directLog) bool {
		return l.Msg == "mesh: TURN servers from the homeserver"
	})

	// The caller trickles its candidates after the invite.
	caller := callwire.NewDMCaller(t, ac, pionAPI(t), room, bot, "dm", true)
	caller.Call()
	caller.Voice().Play()
	waitFor(t, 30*time.Second, "the caller hears its own audio echoed", func() bool { return caller.Voice().Heard().Own >= 25 })

	caller.Send("hangup", map[string]any{"reason": "user_hangup"})
	waitForLog(t, &logs, "the bot's side of the call ends on the caller's hangup", func(l directLog) bool {
		return l.Msg == "direct call: ended" && l.Call == caller.CallID() && l.Reason == "user_hangup" && l.Remote
	})

	// A plain invite in a room of three is never answered.
	bob := env.RegisterUser(t, "bob")
	big := env.CreateRoom(t, alice, bob)
	inviteBot(t, alice, big, bot)
	callID := fmt.Sprintf("%dbigroom", time.Now().UnixMilli())
	if _, err := alice.Client.SendMessageEvent(t.Context(), big, event.Type{Type: "m.call.invite", Class: event.MessageEventType},
		map[string]any{"call_id": callID, "party_id": "p", "version": "1", "lifetime": 60000,
			"offer": map[string]any{"sdp": caller.Voice().PC().LocalDescription().SDP, "type": "offer"}}); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, &logs, "the invite in a room of three refused", func(l directLog) bool {
		return strings.HasPrefix(l.Msg, "direct call: not answered, the room is not a direct room") && l.Call == callID
	})
	// The refusal ends the call's goroutine: no answer can follow it.
	if logHas(&logs, func(l directLog) bool { return l.Msg == "direct call: answering" && l.Call == callID }) {
		t.Error("the call in a room of three was answered")
	}
}

// directLog is a line of the coordinator's JSON log about a 1:1 call.
type directLog struct {
	Msg, Call, Reason string
	Remote            bool
}

// waitForLog waits for a line of the coordinator's log that match accepts.
func waitForLog(t *testing.T, logs *logbuf.Buffer, what string, match func(directLog) bool) {
	t.Helper()
	waitFor(t, 30*time.Second, what, func() bool { return logHas(logs, match) })
}

// logHas says whether a line of the coordinator's log matches.
func logHas(logs *logbuf.Buffer, match func(directLog) bool) bool {
	for _, line := range strings.Split(logs.String(), "\n") {
		var l directLog
		if json.Unmarshal([]byte(line), &l) == nil && match(l) {
			return true
		}
	}
	return false
}
