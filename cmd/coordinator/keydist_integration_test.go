package main

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// TestKeyDistributionLatency measures, on the real Synapse, how long a new
// member of an 8-device Famedly call (the coordinator, 6 members, the
// joiner) waits for the coordinator's key: from just before its membership
// event is sent until its test device has decrypted our key. It is a
// measurement, not a check: it runs only when SWITCHBOARD_KEYDIST_N (the
// number of joins) is set, and logs p50/p95/max.
func TestKeyDistributionLatency(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SWITCHBOARD_KEYDIST_N"))
	if n <= 0 {
		t.Skip("set SWITCHBOARD_KEYDIST_N to measure")
	}
	env := testenv.Require(t)
	_, bot := startBotCoordinator(t, env, map[string]string{"SWITCHBOARD_CALLS_JOIN": "all"})
	owner := env.RegisterUser(t, "owner")
	oc := env.NewCryptoClient(t, owner)
	var members []*testenv.User
	for range 6 {
		members = append(members, env.RegisterUser(t, "member"))
	}
	var joiners []*testenv.User
	for range n {
		joiners = append(joiners, env.RegisterUser(t, "joiner"))
	}
	room := env.CreateEncryptedRoom(t, oc, append(slices.Clone(members), joiners...)...)
	inviteBot(t, owner, room, bot)
	for _, m := range members {
		c := env.NewCryptoClient(t, m) // members only need their device keys uploaded
		famedlyJoin(t, env, m, room, string(c.DeviceID()))
	}
	var lat []time.Duration
	for _, u := range joiners {
		c := env.NewCryptoClient(t, u)
		start := time.Now()
		famedlyJoin(t, env, u, room, string(c.DeviceID()))
		c.Receive(t, 30*time.Second, fromBot(bot, e2ee.FamedlyKeysEventType, room))
		lat = append(lat, time.Since(start))
		if _, err := u.Client.SendStateEvent(t.Context(), room, testenv.FamedlyCallMember, u.ID.String(),
			map[string]any{"memberships": []any{}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("key distribution to a joiner of an 8-device call, %d joins: p50 %v, p95 %v, max %v", n, q(0.50), q(0.95), lat[len(lat)-1])
}
