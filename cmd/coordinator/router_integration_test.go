package main

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// eventsView is GET /admin/v1/events.
type eventsView struct {
	Routes []struct {
		Name       string `json:"name"`
		Overflow   string `json:"overflow"`
		QueueBound int    `json:"queue_bound"`
		Queued     int    `json:"queued"`
		Delivered  int    `json:"delivered"`
		Dropped    int    `json:"dropped"`
		BlockedMS  int64  `json:"blocked_ms"`
		Blocking   bool   `json:"blocking"`
	} `json:"routes"`
}

func adminEvents(t *testing.T, addr string) eventsView {
	t.Helper()
	return adminGet[eventsView](t, addr, "/admin/v1/events")
}

// stalledBound is the stalled consumer's queue bound: the room's flood is
// several times more.
const stalledBound = 16

// TestStalledConsumerDelaysNothing runs the whole coordinator with one more
// route on the bot's event router, a Drop consumer that never reads (as an
// optional consumer that hangs would). Hundreds of events flow past its
// bound; then a member's join is still tracked by the feed and keys still
// go both ways through the key exchange, on the real Synapse. The stalled
// route drops and is never waited on. (With that route Block, the router
// waits on it for ever and the join is never seen: checked.)
func TestStalledConsumerDelaysNothing(t *testing.T) {
	env := testenv.Require(t)
	// Bound 16, Drop: full at once, then every event for it is dropped and
	// counted; the router never waits on it.
	stalled := matrixbot.Route{Name: "stalled", Queue: stalledBound, Overflow: matrixbot.Drop}
	cfg, bot := botCoordinatorEnv(t, env, map[string]string{"SWITCHBOARD_CALLS_JOIN": "all"})
	addr, _ := startServeWith(t, cfg, func(stderr io.Writer) error {
		return serveWithRoutes(t.Context(), cfg, stderr, stalled)
	})
	bob := env.RegisterUser(t, "bob")
	bc := env.NewCryptoClient(t, bob)
	room := env.CreateEncryptedRoom(t, bc)
	inviteBot(t, bob, room, bot)

	// The flood, many times the bound: events the bot's sync filter lets
	// through, bob's call membership state with no membership (each
	// different, or Synapse would keep the first).
	for i := range 20 * stalledBound {
		if _, err := bob.Client.SendStateEvent(t.Context(), room, testenv.FamedlyCallMember, bob.ID.String(),
			map[string]any{"memberships": []any{}, "flood": i}); err != nil {
			t.Fatal(err)
		}
	}

	// After it, in the same stream: bob joins the call. The feed tracks
	// him, and the exchange sends him the coordinator's key and takes his.
	dev := bc.DeviceID()
	famedlyJoin(t, env, bob, room, string(dev))
	waitFor(t, 0, "bob's membership in the admin API", func() bool {
		return slices.Contains(adminRoomView[adminView](t, addr, room).devices(), "famedly/"+string(dev))
	})
	td := bc.Receive(t, hangGuard, fromBot(bot, e2ee.FamedlyKeysEventType, room))
	botDev := td.SenderDevice
	sendFamedlyKey(t, bc, room, dev, bot, botDev, true)
	waitFor(t, 0, "bob's key in the admin API", func() bool {
		return adminKeys(t, addr, room).holds(bob.ID, dev, 0)
	})

	got := map[string]int{}
	for _, r := range adminEvents(t, addr).Routes {
		got[r.Name]++
		switch r.Name {
		case "stalled":
			if r.Overflow != "drop" || r.QueueBound != stalledBound || r.Queued != stalledBound || r.Delivered != stalledBound ||
				r.Dropped == 0 || r.BlockedMS != 0 || r.Blocking {
				t.Errorf("stalled route %+v: want full, dropping, never waited on", r)
			}
		case "membership_feed", "key_exchange":
			if r.Overflow != "block" || r.Delivered == 0 || r.Dropped != 0 {
				t.Errorf("route %+v", r)
			}
		}
	}
	// Each route once; the ones this test reads among them (others, such
	// as the room commands' or the call signalling's, come with features).
	for name, n := range got {
		if n != 1 {
			t.Errorf("route %s listed %d times", name, n)
		}
	}
	if got["stalled"] != 1 || got["membership_feed"] != 1 || got["key_exchange"] != 1 {
		t.Errorf("routes %v", got)
	}
}

// serveWithRoutes runs serve as `coordinator serve` does on env, with the
// extra routes on the bot's event router.
func serveWithRoutes(ctx context.Context, env map[string]string, stderr io.Writer, extra ...matrixbot.Route) error {
	cfg, _, err := loadConfig("", envOf(env))
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg.Log, stderr), extra...)
}
