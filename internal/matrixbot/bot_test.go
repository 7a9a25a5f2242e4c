package matrixbot

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// logBuf collects log output (to look for leaked secrets) and mirrors it to t.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
	t   testing.TB
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger(t testing.TB) (*slog.Logger, *logBuf) {
	lb := &logBuf{t: t}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(lb.String())
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// running is a Bot whose Run goroutine the test controls.
type running struct {
	*Bot
	cancel context.CancelFunc
	done   chan error
}

func start(t testing.TB, b *Bot) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Bot: b, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- b.Run(ctx) }()
	t.Cleanup(func() { r.stop(t); b.Close() })
	return r
}

// stop cancels Run and waits for it; safe to call twice.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}

// next reads Events until match accepts one, failing only when the wait
// hangs: after timeout or 30 s, whichever is longer (a loaded machine under
// -race is no clock).
func (r *running) next(t testing.TB, timeout time.Duration, what string, match func(Event) bool) Event {
	t.Helper()
	deadline := time.After(max(timeout, 30*time.Second))
	for {
		select {
		case e, ok := <-r.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s", what)
			}
			if match(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func syncDone(e Event) bool { return e.Kind == KindSyncDone }

func botConfig(env *testenv.Env, u *testenv.User, dir string) Config {
	return Config{
		HomeserverURL: env.HSURL,
		UserID:        u.ID,
		Password:      u.Password,
		DataDir:       dir,
		SyncTimeout:   time.Second,
		Backoff:       Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond},
	}
}

func newBot(t testing.TB, logger *slog.Logger, cfg Config) *Bot {
	t.Helper()
	b, err := New(logger, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func devices(t testing.TB, cli *mautrix.Client) []id.DeviceID {
	t.Helper()
	resp, err := cli.GetDevicesInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []id.DeviceID
	for _, d := range resp.Devices {
		out = append(out, d.DeviceID)
	}
	return out
}

func TestLoginPersistsDevice(t *testing.T) {
	env := testenv.Require(t)
	botUser := env.RegisterUser(t, "bot")
	dir := t.TempDir()
	logger, logs := newLogger(t)

	r1 := start(t, newBot(t, logger, botConfig(env, botUser, dir)))
	r1.next(t, 20*time.Second, "first sync", syncDone)
	cli := r1.Client()
	dev, tok := cli.DeviceID, cli.AccessToken
	if dev == "" || tok == "" {
		t.Fatalf("no device/token after login: %q", dev)
	}
	if err := r1.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	before := devices(t, botUser.Client)

	r2 := start(t, newBot(t, logger, botConfig(env, botUser, dir)))
	r2.next(t, 20*time.Second, "first sync of second run", syncDone)
	if got := r2.Client(); got.DeviceID != dev || got.AccessToken != tok {
		t.Errorf("second run: device %q (want %q), same token: %v", got.DeviceID, dev, got.AccessToken == tok)
	}
	if after := devices(t, botUser.Client); len(after) != len(before) {
		t.Errorf("devices before %v, after %v", before, after)
	}
	r2.stop(t)
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), botUser.Password.Reveal()) {
		t.Error("logs contain the access token or the password")
	}
}

func TestInvitesStateAndKick(t *testing.T) {
	env := testenv.Require(t)
	botUser := env.RegisterUser(t, "bot")
	alice := env.RegisterUser(t, "alice")
	mallory := env.RegisterUser(t, "mallory")
	logger, _ := newLogger(t)
	cfg := botConfig(env, botUser, t.TempDir())
	cfg.Invites = InvitePolicy{AllowUsers: []id.UserID{alice.ID}}
	r := start(t, newBot(t, logger, cfg))
	r.next(t, 20*time.Second, "first sync", syncDone)
	ctx := t.Context()

	// Allowed invite: accepted.
	created, err := alice.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{botUser.ID},
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{alice.ID: 100},
			Events: map[string]int{TypeFamedlyCallMember.Type: 0}}})
	if err != nil {
		t.Fatal(err)
	}
	room := created.RoomID
	inv := r.next(t, 20*time.Second, "invite", func(e Event) bool { return e.Kind == KindMembership && e.RoomID == room })
	if inv.Membership != event.MembershipInvite || inv.Sender != alice.ID {
		t.Fatalf("first membership event: %+v", inv)
	}
	r.next(t, 20*time.Second, "join", func(e Event) bool {
		return e.Kind == KindMembership && e.RoomID == room && e.Membership == event.MembershipJoin
	})
	members, err := alice.Client.JoinedMembers(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := members.Joined[botUser.ID]; !ok {
		t.Fatalf("bot not joined: %v", members.Joined)
	}

	// Invite from someone not allowed: rejected, never joined.
	bad, err := mallory.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{botUser.ID}})
	if err != nil {
		t.Fatal(err)
	}
	inv = r.next(t, 20*time.Second, "mallory's invite", func(e Event) bool { return e.Kind == KindMembership && e.RoomID == bad.RoomID })
	if inv.Membership != event.MembershipInvite || inv.Sender != mallory.ID {
		t.Fatalf("membership event for mallory's room: %+v", inv)
	}
	left := r.next(t, 20*time.Second, "rejection", func(e Event) bool { return e.Kind == KindMembership && e.RoomID == bad.RoomID })
	if left.Membership != event.MembershipLeave {
		t.Fatalf("after mallory's invite: %+v", left)
	}
	members, err = mallory.Client.JoinedMembers(ctx, bad.RoomID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := members.Joined[botUser.ID]; ok {
		t.Fatal("bot joined mallory's room")
	}

	// A call-member state event of another user arrives.
	key := "_" + string(alice.ID) + "_DEV_m.call"
	sent, err := alice.Client.SendStateEvent(ctx, room, TypeFamedlyCallMember, key, map[string]any{"application": "m.call", "call_id": ""})
	if err != nil {
		t.Fatal(err)
	}
	st := r.next(t, 20*time.Second, "call member state", func(e Event) bool {
		return e.Kind == KindState && e.Evt.ID == sent.EventID
	})
	if st.RoomID != room || st.Evt.Type != TypeFamedlyCallMember || st.Evt.GetStateKey() != key || st.Evt.Content.Raw["application"] != "m.call" || st.Evt.Sender != alice.ID {
		t.Fatalf("state event: %+v / %+v", st, st.Evt)
	}

	// Kick: a leave event, then the room is forgotten.
	if _, err := alice.Client.KickUser(ctx, room, &mautrix.ReqKickUser{UserID: botUser.ID, Reason: "bye"}); err != nil {
		t.Fatal(err)
	}
	kicked := r.next(t, 20*time.Second, "kick", func(e Event) bool { return e.Kind == KindMembership && e.RoomID == room })
	if kicked.Membership != event.MembershipLeave || kicked.Sender != alice.ID || kicked.Reason != "bye" {
		t.Fatalf("kick event: %+v", kicked)
	}
	// The forget happens after the batch's SyncDone, before the next sync.
	r.next(t, 20*time.Second, "sync done", syncDone)
	r.next(t, 20*time.Second, "next sync done", syncDone)
	resp, err := r.Client().SyncRequest(ctx, 0, "", `{"room":{"include_leave":true,"timeline":{"limit":1}}}`, false, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resp.Rooms.Leave[room]; ok {
		t.Error("kicked room not forgotten")
	}
	if _, ok := resp.Rooms.Join[room]; ok {
		t.Error("still joined")
	}
}

func TestNextBatchPersists(t *testing.T) {
	env := testenv.Require(t)
	botUser := env.RegisterUser(t, "bot")
	alice := env.RegisterUser(t, "alice")
	logger, _ := newLogger(t)
	cfg := botConfig(env, botUser, t.TempDir())
	cfg.Invites = InvitePolicy{AllowServers: []string{env.ServerName}}
	ctx := t.Context()

	r1 := start(t, newBot(t, logger, cfg))
	r1.next(t, 20*time.Second, "first sync", syncDone)
	created, err := alice.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{botUser.ID},
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{alice.ID: 100},
			Events: map[string]int{TypeMSC3401CallMember.Type: 0}}})
	if err != nil {
		t.Fatal(err)
	}
	room := created.RoomID
	r1.next(t, 20*time.Second, "join", func(e Event) bool {
		return e.Kind == KindMembership && e.RoomID == room && e.Membership == event.MembershipJoin
	})
	old, err := alice.Client.SendStateEvent(ctx, room, TypeMSC3401CallMember, "_"+string(alice.ID)+"_A_m.call", map[string]any{"application": "m.call"})
	if err != nil {
		t.Fatal(err)
	}
	r1.next(t, 20*time.Second, "old event", func(e Event) bool { return e.Evt != nil && e.Evt.ID == old.EventID })
	r1.next(t, 20*time.Second, "sync done", syncDone)
	r1.next(t, 20*time.Second, "sync done", syncDone)
	if err := r1.stop(t); err != nil {
		t.Fatal(err)
	}

	r2 := start(t, newBot(t, logger, cfg))
	<-r2.LoggedIn()
	fresh, err := alice.Client.SendStateEvent(ctx, room, TypeMSC3401CallMember, "_"+string(alice.ID)+"_B_m.call", map[string]any{"application": "m.call"})
	if err != nil {
		t.Fatal(err)
	}
	// The first sync of a run is a full snapshot of the state (consumers
	// keep state in memory), but it resumes from the saved position: the
	// old event comes again only as state, never in the timeline.
	var sawState, sawFresh, firstDone, firstInitial bool
	r2.next(t, 20*time.Second, "new event", func(e Event) bool {
		if e.Evt != nil && e.Evt.ID == old.EventID {
			if e.Source == SourceTimeline {
				t.Errorf("old event re-delivered in the timeline after restart: the sync did not resume")
			}
			sawState = true
		}
		if e.Kind == KindSyncDone && !firstDone {
			firstDone, firstInitial = true, e.Initial
		}
		sawFresh = sawFresh || e.Evt != nil && e.Evt.ID == fresh.EventID
		return sawFresh && firstDone
	})
	if !firstInitial || !sawState {
		t.Errorf("second run's first sync: snapshot %v, old state seen %v; want both", firstInitial, sawState)
	}
}

func TestReloginAfterTokenInvalidated(t *testing.T) {
	env := testenv.Require(t)
	botUser := env.RegisterUser(t, "bot")
	alice := env.RegisterUser(t, "alice")
	logger, _ := newLogger(t)
	cfg := botConfig(env, botUser, t.TempDir())
	cfg.Invites = InvitePolicy{AcceptAll: true}
	r := start(t, newBot(t, logger, cfg))
	r.next(t, 20*time.Second, "first sync", syncDone)
	old := r.Client()
	// Logging the token out makes the next sync fail with M_UNKNOWN_TOKEN.
	if _, err := old.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	created, err := alice.Client.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{botUser.ID}})
	if err != nil {
		t.Fatal(err)
	}
	r.next(t, 30*time.Second, "join after re-login", func(e Event) bool {
		return e.Kind == KindMembership && e.RoomID == created.RoomID && e.Membership == event.MembershipJoin
	})
	if cli := r.Client(); cli == old || cli.DeviceID != old.DeviceID {
		t.Errorf("after re-login: new client %v, device %q (was %q)", cli != old, cli.DeviceID, old.DeviceID)
	}
}

func TestUnreachableHomeserver(t *testing.T) {
	leakcheck.Check(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logger, logs := newLogger(t)
	b, err := New(logger, Config{
		HomeserverURL: "http://" + addr,
		UserID:        "@bot:localhost",
		Password:      "not-a-real-password",
		DataDir:       t.TempDir(),
		SyncTimeout:   time.Second,
		Backoff:       Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	waitUntil(t, 30*time.Second, "three login retries logged", func() bool {
		return strings.Count(logs.String(), "login failed, retrying") >= 3
	})
	if b.Client() != nil {
		t.Error("Client() non-nil before login")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, ok := <-b.Events(); ok {
		t.Error("Events not closed after Run returned")
	}
	if err := b.Run(context.Background()); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second Run: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := b.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
	if strings.Contains(logs.String(), "not-a-real-password") {
		t.Error("password in logs")
	}
}

func TestConfigAndPolicy(t *testing.T) {
	if _, err := New(nil, Config{}); err == nil {
		t.Error("empty config accepted")
	}
	p := InvitePolicy{AllowUsers: []id.UserID{"@a:x"}, AllowServers: []string{"y"}}
	for _, c := range []struct {
		u    id.UserID
		want bool
	}{{"@a:x", true}, {"@b:x", false}, {"@c:y", true}, {"", false}, {"bogus", false}} {
		if got := p.Allows(c.u); got != c.want {
			t.Errorf("Allows(%q) = %v", c.u, got)
		}
	}
	if (InvitePolicy{}).Allows("@a:x") {
		t.Error("zero policy allows")
	}
	if !(InvitePolicy{AcceptAll: true}).Allows("@a:x") {
		t.Error("AcceptAll refuses")
	}
	bo := backoff{cfg: Backoff{Initial: time.Second, Max: 8 * time.Second}}
	for i, max := range []time.Duration{1, 2, 4, 8, 8, 8} {
		d := bo.next()
		if d < max*time.Second/2 || d > max*time.Second {
			t.Errorf("delay %d = %v, want in [%v, %v]", i, d, max*time.Second/2, max*time.Second)
		}
	}
}
