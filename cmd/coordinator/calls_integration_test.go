package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// TestFocusChangeInPlace (#11): when the call's members move to another
// LiveKit focus, our membership follows in place: one rewrite of the same
// state event, with the new focus, and no leave in between, as a client
// syncing the room sees it on the real Synapse.
func TestFocusChangeInPlace(t *testing.T) {
	env := testenv.Require(t)
	cfg, bot := botEnv(t, env)
	cfg["SWITCHBOARD_CALLS_JOIN"] = "all"
	startProc(t, cfg)
	alice := env.RegisterUser(t, "alice")
	room := env.CreateRoom(t, alice)
	inviteBot(t, alice, room, bot)
	famedlyJoinAlias(t, env, alice, room, "ALICEDEV", "first-alias")
	ours := func() string {
		return botMemberships(t, alice.Client, room, bot)[testenv.FamedlyCallMember.Type+"|"+bot.String()]
	}
	waitFor(t, 30*time.Second, "the coordinator's membership on the first focus", func() bool {
		return strings.Contains(ours(), `"livekit_alias":"first-alias"`)
	})
	since, _ := syncSince(t, alice.Client, room, "")

	famedlyJoinAlias(t, env, alice, room, "ALICEDEV", "second-alias")
	waitFor(t, 30*time.Second, "the coordinator's membership on the second focus", func() bool {
		return strings.Contains(ours(), `"livekit_alias":"second-alias"`)
	})
	_, evs := syncSince(t, alice.Client, room, since)
	writes := 0
	for _, raw := range evs {
		var e struct {
			Type     string          `json:"type"`
			Sender   string          `json:"sender"`
			StateKey *string         `json:"state_key"`
			Content  json.RawMessage `json:"content"`
		}
		if json.Unmarshal(raw, &e) != nil || e.StateKey == nil || e.Sender != bot.String() {
			continue
		}
		writes++
		if e.Type != testenv.FamedlyCallMember.Type || *e.StateKey != bot.String() || !strings.Contains(string(e.Content), "second-alias") {
			t.Errorf("the coordinator wrote %s %q: %s; want only its membership on the new focus, in place", e.Type, *e.StateKey, e.Content)
		}
	}
	if writes != 1 {
		t.Errorf("the coordinator wrote %d state events for the focus change, want 1", writes)
	}
}
