package main

import (
	"encoding/json"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// famedlyJoinCalls posts one Famedly event for user's device carrying an
// entry per call id, as a client in several calls of a room writes it under
// the legacy "{userId}" state key.
func famedlyJoinCalls(t *testing.T, env *testenv.Env, u *testenv.User, room id.RoomID, device string, callIDs ...string) {
	t.Helper()
	entries := make([]any, 0, len(callIDs))
	for _, call := range callIDs {
		entries = append(entries, map[string]any{
			"call_id": call, "application": "m.call", "scope": "m.room",
			"foci_active": []any{map[string]any{"type": "livekit", "livekit_service_url": env.ServiceURL, "livekit_alias": room.String()}},
			"device_id":   device, "expires_ts": time.Now().Add(6 * time.Minute).UnixMilli(), "membershipID": "m-" + device,
		})
	}
	content := map[string]any{"memberships": entries}
	if _, err := u.Client.SendStateEvent(t.Context(), room, testenv.FamedlyCallMember, u.ID.String(), content); err != nil {
		t.Fatal(err)
	}
}

// botFamedlyCalls returns the call ids of the entries in the bot's legacy
// "{userId}" Famedly event, as a client reads the room state.
func botFamedlyCalls(t *testing.T, c *mautrix.Client, room id.RoomID, bot id.UserID) []string {
	t.Helper()
	var content struct {
		Memberships []struct {
			CallID string `json:"call_id"`
		} `json:"memberships"`
	}
	if err := c.StateEvent(t.Context(), room, testenv.FamedlyCallMember, bot.String(), &content); err != nil {
		return nil
	}
	out := make([]string, 0, len(content.Memberships))
	for _, m := range content.Memberships {
		out = append(out, m.CallID)
	}
	return out
}

// syncSince is a sync of one room's timeline from since (empty: now), with
// no wait; it returns the next batch and the room's timeline events.
func syncSince(t *testing.T, c *mautrix.Client, room id.RoomID, since string) (string, []json.RawMessage) {
	t.Helper()
	filter, _ := json.Marshal(map[string]any{
		"presence": map[string]any{"not_types": []string{"*"}}, "account_data": map[string]any{"not_types": []string{"*"}},
		"room": map[string]any{"rooms": []id.RoomID{room}, "timeline": map[string]any{"limit": 1000},
			"ephemeral": map[string]any{"not_types": []string{"*"}}, "account_data": map[string]any{"not_types": []string{"*"}}},
	})
	q := map[string]string{"timeout": "0", "filter": string(filter)}
	if since != "" {
		q["since"] = since
	}
	var resp struct {
		NextBatch string `json:"next_batch"`
		Rooms     struct {
			Join map[id.RoomID]struct {
				Timeline struct {
					Events []json.RawMessage `json:"events"`
				} `json:"timeline"`
			} `json:"join"`
		} `json:"rooms"`
	}
	u := c.BuildURLWithQuery(mautrix.ClientURLPath{"v3", "sync"}, q)
	if _, err := c.MakeRequest(t.Context(), "GET", u, nil, &resp); err != nil {
		t.Fatalf("sync: %v", err)
	}
	return resp.NextBatch, resp.Rooms.Join[room].Timeline.Events
}

// stateWritesBy counts the call-member state events sender wrote among evs.
func stateWritesBy(evs []json.RawMessage, sender id.UserID) int {
	n := 0
	for _, raw := range evs {
		var e struct {
			Type     string  `json:"type"`
			Sender   string  `json:"sender"`
			StateKey *string `json:"state_key"`
		}
		if json.Unmarshal(raw, &e) == nil && e.StateKey != nil && e.Sender == string(sender) && e.Type == testenv.FamedlyCallMember.Type {
			n++
		}
	}
	return n
}

// TestTwoFamedlyCallsShareOneEvent: alice is in two Famedly calls of one
// room (legacy "{userId}" state keys, room version 10). Our two seats share
// one state event: both our entries stay in it, and it is not rewritten
// over and over (each seat used to drop the other's entry, the tracker saw
// it leave, the other seat rewrote: a storm of state writes).
func TestTwoFamedlyCallsShareOneEvent(t *testing.T) {
	env := testenv.Require(t)
	cfg, bot := botEnv(t, env)
	cfg["SWITCHBOARD_CALLS_JOIN"] = "all"
	startProc(t, cfg)
	alice := env.RegisterUser(t, "alice")
	room := env.CreateRoom(t, alice)
	inviteBot(t, alice, room, bot)
	famedlyJoinCalls(t, env, alice, room, "ALICEDEV", "", "second")
	waitFor(t, 20*time.Second, "the coordinator's membership", func() bool {
		return len(botFamedlyCalls(t, alice.Client, room, bot)) > 0
	})

	// Count our writes over a window once we are in: a settled seat
	// rewrites every 2 minutes, so a few writes at most (the join of the
	// second call, a retry) fit in the bound; the storm wrote hundreds.
	const window, bound = 10 * time.Second, 5
	since, _ := syncSince(t, alice.Client, room, "")
	time.Sleep(window)
	_, evs := syncSince(t, alice.Client, room, since)
	writes := stateWritesBy(evs, bot)
	t.Logf("%d state writes by the coordinator in %v", writes, window)
	if writes > bound {
		t.Errorf("%d state writes in %v, want at most %d", writes, window, bound)
	}
	calls := botFamedlyCalls(t, alice.Client, room, bot)
	if len(calls) != 2 {
		t.Errorf("our event carries calls %q, want both \"\" and \"second\"", calls)
	}
}
