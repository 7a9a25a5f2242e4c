package callsim

import (
	"slices"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// Size is the call size of the key distribution measurement (issue 5): the
// coordinator and Size-1 simulated Element Call devices.
const Size = 8

// hangGuard bounds every wait on the servers: far above any healthy time, it
// only ends a run that hangs.
const hangGuard = 60 * time.Second

// Call is an encrypted room whose MatrixRTC call holds the coordinator (the
// bot, joining calls by itself) and Size-1 simulated members, and into which
// the joiners made with it are invited.
type Call struct {
	Env     *testenv.Env
	Room    id.RoomID
	Bot     id.UserID
	Members []*Member
	Joiners []*testenv.User // invited users, for Join

	botDev id.DeviceID // the coordinator's device, from its first key
}

// NewCall registers the members and joiners, creates the room, invites the
// bot and waits until every member has shared its key with all others (the
// coordinator included). The members run until the test ends.
func NewCall(t testing.TB, env *testenv.Env, bot id.UserID, joiners int) *Call {
	t.Helper()
	var users []*testenv.User
	for range Size - 1 {
		users = append(users, env.RegisterUser(t, "member"))
	}
	c := &Call{Env: env, Bot: bot}
	for range joiners {
		c.Joiners = append(c.Joiners, env.RegisterUser(t, "joiner"))
	}
	first := env.NewCryptoClient(t, users[0])
	c.Room = env.CreateEncryptedRoom(t, first, append(slices.Clone(users[1:]), c.Joiners...)...)
	if _, err := users[0].Client.InviteUser(t.Context(), c.Room, &mautrix.ReqInviteUser{UserID: bot}); err != nil {
		t.Fatalf("invite the bot: %v", err)
	}
	waitUntil(t, "the bot joined the room", func() bool {
		members, err := users[0].Client.JoinedMembers(t.Context(), c.Room)
		if err != nil {
			return false
		}
		_, in := members.Joined[bot]
		return in
	})
	for i, u := range users {
		cc := first
		if i > 0 {
			cc = env.NewCryptoClient(t, u)
		}
		m := newMember(cc, c.Room)
		key, content := Session(env.ServiceURL, c.Room, m.Self.User, m.Self.Device)
		if _, err := u.Client.SendStateEvent(t.Context(), c.Room, testenv.MatrixRTCCallMember, key, content); err != nil {
			t.Fatalf("%s joins the call: %v", u.ID, err)
		}
		c.Members = append(c.Members, m)
	}
	// t.Context() ends before cleanups run; this cleanup runs before the
	// clients' own, so their Olm machines outlive the loops.
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for _, m := range c.Members {
		wg.Go(func() {
			if err := m.run(t.Context()); err != nil {
				t.Errorf("simulated member: %v", err)
			}
		})
	}
	waitUntil(t, "every member shared its key with the others and the coordinator", func() bool {
		return !slices.ContainsFunc(c.Members, func(m *Member) bool { return m.sharedPeers() != Size-1 })
	})
	return c
}

// JoinTimes is one join's wait, from just before the membership was sent:
// until all Size keys were decrypted, and until the coordinator's was.
type JoinTimes struct{ All, Coordinator time.Duration }

// Join makes a fresh device of u (one of c.Joiners) join after idle, waits
// until it has decrypted a valid Olm-encrypted key from each of the Size
// members (the Olm sender device equal to the claimed one), then leaves. Any
// missing, invalid, unencrypted or stranger's key fails t.
func (c *Call) Join(t testing.TB, u *testenv.User, idle time.Duration) JoinTimes {
	t.Helper()
	// The device exists before the idle time, as a client's device exists
	// long before it joins a call: the device-list update its key upload
	// causes is not part of the join.
	cc := c.Env.NewCryptoClient(t, u)
	time.Sleep(idle)
	stateKey, content := Session(c.Env.ServiceURL, c.Room, u.ID, cc.DeviceID())
	got := map[Device]bool{}
	var times JoinTimes
	start := time.Now()
	if _, err := u.Client.SendStateEvent(t.Context(), c.Room, testenv.MatrixRTCCallMember, stateKey, content); err != nil {
		t.Fatal(err)
	}
	for len(got) < Size {
		td := cc.Receive(t, max(time.Until(start.Add(hangGuard)), time.Millisecond), func(td testenv.ToDevice) bool {
			return td.Type.Type == KeysEventType && td.Content["room_id"] == string(c.Room)
		})
		dev, err := parseKeys(td.Content, c.Room)
		from := Device{td.Sender, dev}
		switch {
		case err != nil:
			t.Fatalf("key from %s: %v", td.Sender, err)
		case !td.Encrypted || td.SenderDevice != dev:
			t.Fatalf("key from %v: encrypted %v, Olm sender device %q", from, td.Encrypted, td.SenderDevice)
		}
		if td.Sender == c.Bot {
			if c.botDev == "" {
				c.botDev = dev
			}
			if times.Coordinator == 0 {
				times.Coordinator = time.Since(start)
			}
		}
		if !c.member(from) {
			t.Fatalf("key from %v, not a call member (joiner had keys from %v)", from, got)
		}
		got[from] = true
		times.All = time.Since(start)
	}
	if _, err := u.Client.SendStateEvent(t.Context(), c.Room, testenv.MatrixRTCCallMember, stateKey, struct{}{}); err != nil {
		t.Fatal(err)
	}
	return times
}

func (c *Call) member(d Device) bool {
	return d == (Device{c.Bot, c.botDev}) || slices.ContainsFunc(c.Members, func(m *Member) bool { return m.Self == d })
}

// waitUntil polls ok until it holds; only a hang ends the wait, failing t.
func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%v)", what, hangGuard)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
