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
// side. Operators see the call while it is up (admin API, status page,
// /metrics) and not after; the invites are counted by outcome. A plain
// invite in a room of three is not answered. The homeserver's TURN
// servers are asked for (mesh.turn_from_homeserver).
func TestDirectEchoCall(t *testing.T) {
	env := testenv.Require(t)
	cfg, bot := botCoordinatorEnv(t, env, map[string]string{
		"SWITCHBOARD_MESH_LOOPBACK_ONLY": "true", "SWITCHBOARD_CALLS_ECHO_DELAY": "20ms",
		"SWITCHBOARD_MESH_TURN_FROM_HOMESERVER": "true",
		"SWITCHBOARD_METRICS_ENABLED":           "true", "SWITCHBOARD_METRICS_TOKEN": testMetricsToken,
	})
	var logs logbuf.Buffer
	addr, _ := startServeWith(t, cfg, func(stderr io.Writer) error {
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

	s0 := scrapeMetrics(t, addr, testMetricsToken)
	// The caller trickles its candidates after the invite.
	caller := callwire.NewDMCaller(t, ac, pionAPI(t), room, bot, "dm", true)
	caller.Call()
	caller.Voice().Play()
	waitFor(t, 30*time.Second, "the caller hears its own audio echoed", func() bool { return caller.Voice().Heard().Own >= 25 })
	seeDirectCall(t, addr, ac.User.ID.String(), room.String(), caller.CallID())

	caller.Send("hangup", map[string]any{"reason": "user_hangup"})
	waitForLog(t, &logs, "the bot's side of the call ends on the caller's hangup", func(l directLog) bool {
		return l.Msg == "direct call: ended" && l.Call == caller.CallID() && l.Reason == "user_hangup" && l.Remote
	})
	waitFor(t, 30*time.Second, "the ended call gone from the admin API", func() bool {
		return len(adminGet[meshAdminView](t, addr, "/admin/v1/mesh").Direct.Calls) == 0
	})
	s1 := scrapeMetrics(t, addr, testMetricsToken)
	moved(t, "the 1:1 call", s0, s1, []counterMove{
		move(1, "switchboard_direct_invites_total", "outcome", "answered"),
		move(1, "switchboard_direct_invites_total"),
	})
	if n := s1.value(t, "switchboard_direct_calls"); n != 0 {
		t.Errorf("switchboard_direct_calls %v after the hangup", n)
	}
	// The echoed frames are counted both ways.
	for _, name := range []string{"switchboard_mesh_frames_in_total", "switchboard_mesh_frames_out_total"} {
		if d := s1.value(t, name) - s0.value(t, name); d < 25 {
			t.Errorf("%s moved by %v during the echo", name, d)
		}
	}

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
	moved(t, "the invite in a room of three", s1, scrapeMetrics(t, addr, testMetricsToken), []counterMove{
		move(1, "switchboard_direct_invites_total", "outcome", "not_direct_room"),
		move(1, "switchboard_direct_invites_total"),
	})
}

// meshAdminView is the 1:1 part of GET /admin/v1/mesh.
type meshAdminView struct {
	Direct struct {
		Mode    string
		Running bool
		Active  int
		Max     int
		Calls   []struct {
			RoomID       string `json:"room_id"`
			CallID       string `json:"call_id"`
			Caller       string
			CallerDevice string `json:"caller_device"`
			State        string
			LeftSeconds  int `json:"left_seconds"`
		}
	}
}

// seeDirectCall checks that operators see caller's call, up: in the admin
// API (caller, room, connected), on the status page and in /metrics.
func seeDirectCall(t *testing.T, addr, user, room, callID string) {
	t.Helper()
	var v meshAdminView
	waitFor(t, 30*time.Second, "the call connected in the admin API", func() bool {
		v = adminGet[meshAdminView](t, addr, "/admin/v1/mesh")
		return len(v.Direct.Calls) == 1 && v.Direct.Calls[0].State == "connected"
	})
	c, d := v.Direct.Calls[0], v.Direct
	if c.Caller != user || c.RoomID != room || c.CallID != callID ||
		c.LeftSeconds <= 0 || d.Mode != "echo" || !d.Running || d.Active != 1 || d.Max != 50 {
		t.Errorf("admin API: %+v", v.Direct)
	}
	page := adminPageHTML(t, "http://"+adminAddrOf(t, addr))
	if i := strings.Index(page, `<section id="direct">`); i < 0 || !strings.Contains(page[i:], user) {
		t.Errorf("the status page does not list the caller's 1:1 call:\n%s", page)
	}
	s := scrapeMetrics(t, addr, testMetricsToken)
	if s.value(t, "switchboard_direct_calls", "state", "connected") != 1 || s.value(t, "switchboard_direct_calls") != 1 {
		t.Errorf("switchboard_direct_calls: %v", s["switchboard_direct_calls"])
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
func logHas(logs *logbuf.Buffer, match func(directLog) bool) bool { return jsonLogHas(logs, match) }

// jsonLogHas says whether a line of the coordinator's JSON log, read as
// an L, matches.
func jsonLogHas[L any](logs *logbuf.Buffer, match func(L) bool) bool {
	for _, line := range strings.Split(logs.String(), "\n") {
		var l L
		if json.Unmarshal([]byte(line), &l) == nil && match(l) {
			return true
		}
	}
	return false
}
