package main

import (
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// callMembers is the call size of the acceptance point (issue 5): the
// coordinator and seven Element Call devices.
const callMembers = 8

// TestKeyDistributionLatency measures, on the real Synapse, how long a new
// member of an 8-member MatrixRTC call (the coordinator and 7 simulated
// Element Call devices, see rtcClient) waits for the keys of all 8: from
// just before its membership event is sent until its test device has
// decrypted a valid Olm-encrypted key from each. Each joiner leaves after
// its measurement, so every join meets 8 members.
//
// It is a slow measurement and runs only when SWITCHBOARD_KEYDIST_N (the
// number of joins) is set. It logs p50/p95/max and never checks timings; it
// fails only on functional errors (a missing or invalid key, a member that
// cannot send). Joins come 2 s after the previous joiner left, so the
// members' keys (renewed on that leave) are younger than the js-sdk's 10 s
// grace and the joiner gets the current key. SWITCHBOARD_KEYDIST_STALE_N
// more joins each wait 11 s first, so every member makes a new key for
// everyone instead (the js-sdk then encrypts with it only 1 s after sending).
func TestKeyDistributionLatency(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SWITCHBOARD_KEYDIST_N"))
	stale, _ := strconv.Atoi(os.Getenv("SWITCHBOARD_KEYDIST_STALE_N"))
	if n <= 0 {
		t.Skip("set SWITCHBOARD_KEYDIST_N to measure")
	}
	env := testenv.Require(t)
	_, bot := startBotCoordinator(t, env, map[string]string{"SWITCHBOARD_CALLS_JOIN": "all"})
	var users, joiners []*testenv.User
	for range callMembers - 1 {
		users = append(users, env.RegisterUser(t, "member"))
	}
	for range n + max(stale, 0) {
		joiners = append(joiners, env.RegisterUser(t, "joiner"))
	}
	first := env.NewCryptoClient(t, users[0])
	room := env.CreateEncryptedRoom(t, first, append(slices.Clone(users[1:]), joiners...)...)
	inviteBot(t, users[0], room, bot)

	members := startRTCClients(t, env, room, first, users)
	waitFor(t, 60*time.Second, "every member shared its key with the others and the coordinator", func() bool {
		return !slices.ContainsFunc(members, func(m *rtcClient) bool { return m.sharedPeers() != callMembers-1 })
	})
	want := map[deviceRef]bool{}
	for _, m := range members {
		want[m.self] = true
	}
	d := keyDist{env: env, room: room, bot: bot, want: want}
	for _, u := range joiners[:n] {
		d.join(t, u, 2*time.Second)
	}
	d.report(t, "current key reused (join within 10 s of the last key change)", 0, n)
	if stale > 0 {
		for _, u := range joiners[n:] {
			d.join(t, u, 11*time.Second)
		}
		d.report(t, "new key for everyone (join after 11 s without a key change)", n, n+stale)
	}
}

// startRTCClients makes every user an Element Call member of room's call
// (first is users[0]'s device, already made) and runs them until the test
// ends.
func startRTCClients(t *testing.T, env *testenv.Env, room id.RoomID, first *testenv.CryptoClient, users []*testenv.User) []*rtcClient {
	t.Helper()
	var members []*rtcClient
	for i, u := range users {
		c := first
		if i > 0 {
			c = env.NewCryptoClient(t, u)
		}
		m := newRTCClient(c, room)
		m.joinCall(t, env)
		members = append(members, m)
	}
	// t.Context() ends before cleanups run; this cleanup runs before the
	// clients' own, so their Olm machines outlive the loops.
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for _, m := range members {
		wg.Go(func() {
			if err := m.run(t.Context()); err != nil {
				t.Errorf("simulated member: %v", err)
			}
		})
	}
	return members
}

// keyDist measures joins into one call.
type keyDist struct {
	env  *testenv.Env
	room id.RoomID
	bot  id.UserID
	want map[deviceRef]bool // the simulated members' devices

	botDev    id.DeviceID     // the coordinator's device, from its first key
	all, ours []time.Duration // per join: all 8 keys, the coordinator's key
}

// join makes a fresh device of u join after idle, waits for the 8 keys, records
// the times and leaves.
func (d *keyDist) join(t *testing.T, u *testenv.User, idle time.Duration) {
	t.Helper()
	// The device exists before the idle time, as a client's device exists
	// long before it joins a call: the device-list update its key upload
	// causes is not part of the join.
	c := d.env.NewCryptoClient(t, u)
	time.Sleep(idle)
	stateKey, content := rtcMembership(t, d.env, d.room, u.ID, c.DeviceID())
	got := map[deviceRef]bool{}
	defer func() {
		if t.Failed() {
			t.Logf("joiner %s had keys from %d of %d members: %v", u.ID, len(got), callMembers, got)
		}
	}()
	var ours, last time.Duration
	start := time.Now()
	if _, err := u.Client.SendStateEvent(t.Context(), d.room, testenv.MatrixRTCCallMember, stateKey, content); err != nil {
		t.Fatal(err)
	}
	for len(got) < callMembers {
		td := c.Receive(t, max(time.Until(start.Add(30*time.Second)), time.Millisecond), func(td testenv.ToDevice) bool {
			return td.Type.Type == e2ee.MatrixRTCKeysEventType && td.Content["room_id"] == string(d.room)
		})
		ev := keyEvent(t, td)
		from := deviceRef{td.Sender, ev.DeviceID}
		if !td.Encrypted || td.SenderDevice != ev.DeviceID {
			t.Fatalf("key from %v: encrypted %v, Olm sender device %q", from, td.Encrypted, td.SenderDevice)
		}
		if td.Sender == d.bot {
			if d.botDev == "" {
				d.botDev = ev.DeviceID
			}
			if ours == 0 {
				ours = time.Since(start)
			}
		}
		if !d.want[from] && from != (deviceRef{d.bot, d.botDev}) {
			t.Fatalf("key from %v, not a call member", from)
		}
		got[from] = true
		last = time.Since(start)
	}
	d.all, d.ours = append(d.all, last), append(d.ours, ours)
	if _, err := u.Client.SendStateEvent(t.Context(), d.room, testenv.MatrixRTCCallMember, stateKey, struct{}{}); err != nil {
		t.Fatal(err)
	}
}

// report logs the quantiles of joins [from, to).
func (d *keyDist) report(t *testing.T, what string, from, to int) {
	q := func(lat []time.Duration) string {
		lat = slices.Sorted(slices.Values(lat[from:to]))
		at := func(p float64) time.Duration {
			return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Millisecond)
		}
		return "p50 " + at(0.50).String() + ", p95 " + at(0.95).String() + ", max " + lat[len(lat)-1].Round(time.Millisecond).String()
	}
	t.Logf("%s, %d joins into an %d-member MatrixRTC call: all %d keys: %s; the coordinator's key: %s",
		what, to-from, callMembers, callMembers, q(d.all), q(d.ours))
}
