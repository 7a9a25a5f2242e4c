package e2ee

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/membership"
)

const (
	xBot    = id.UserID("@switchboard:example.org")
	xBotDev = id.DeviceID("SWITCHBOARD")
)

// sent is one to-device request the fake bot was asked to make.
type sent struct {
	typ     string
	to      map[id.UserID][]id.DeviceID
	content map[string]any
}

func (s sent) devices() []string {
	var out []string
	for u, ds := range s.to {
		for _, d := range ds {
			out = append(out, string(u)+"/"+string(d))
		}
	}
	slices.Sort(out)
	return out
}

// fakeBot records sends; failFn, when set, decides which fail.
type fakeBot struct {
	encrypted bool
	sends     chan sent
	mu        sync.Mutex
	failFn    func(typ string) error
}

func (b *fakeBot) Self() (id.UserID, id.DeviceID) { return xBot, xBotDev }

func (b *fakeBot) SendEncryptedToDevice(_ context.Context, typ event.Type, to map[id.UserID][]id.DeviceID, content any) error {
	raw, err := json.Marshal(content)
	if err != nil {
		return err
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	b.sends <- sent{typ: typ.Type, to: to, content: c}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failFn != nil {
		return b.failFn(typ.Type)
	}
	return nil
}

func (b *fakeBot) RoomEncrypted(id.RoomID) bool { return b.encrypted }

// fakeTracker hands the test's changes to the exchange, one at a time.
type fakeTracker struct {
	initial []membership.Member
	changes chan membership.Change
}

func (t *fakeTracker) Subscribe(context.Context) (<-chan membership.Change, error) {
	return t.changes, nil
}

func (t *fakeTracker) Snapshot(context.Context) ([]membership.Member, error) { return t.initial, nil }

// stillClock is the fake clock with timers that never fire: the tests make
// due work happen through flush, which runs it at the clock's time.
type stillClock struct{ *fakeClock }

func (c stillClock) NewTimer(time.Duration) membership.Timer { return stillTimer{} }

type stillTimer struct{}

func (stillTimer) C() <-chan time.Time { return nil }
func (stillTimer) Stop() bool          { return true }
func (stillTimer) Reset(time.Duration) {}

// harness runs an Exchange against the fakes.
type harness struct {
	t       *testing.T
	x       *Exchange
	bot     *fakeBot
	tracker *fakeTracker
	clock   stillClock
	events  chan matrixbot.Event
	store   *KeyStore
}

func newHarness(t *testing.T, opts ExchangeOptions, initial ...membership.Member) *harness {
	t.Helper()
	leakcheck.Check(t)
	h := &harness{
		t: t, bot: &fakeBot{encrypted: true, sends: make(chan sent, 256)},
		tracker: &fakeTracker{initial: initial, changes: make(chan membership.Change)},
		clock:   stillClock{newFakeClock()}, events: make(chan matrixbot.Event), store: NewKeyStore(KeyStoreOptions{}),
	}
	opts.Clock = h.clock
	h.x = NewExchange(h.bot, h.tracker, h.store, opts)
	done := make(chan error, 1)
	go func() { done <- h.x.Run(context.Background(), h.events) }()
	t.Cleanup(func() {
		_ = h.x.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	h.flush()
	return h
}

func (h *harness) flush() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.x.flush(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) change(kind membership.ChangeKind, m membership.Member) {
	h.t.Helper()
	h.tracker.changes <- membership.Change{Kind: kind, Member: m, At: h.clock.Now()}
	h.flush()
}

func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	h.flush()
}

// toDevice delivers a to-device event as the bot would.
func (h *harness) toDevice(typ string, sender id.UserID, senderDevice id.DeviceID, encrypted bool, content []byte) {
	h.t.Helper()
	h.events <- matrixbot.Event{Kind: matrixbot.KindToDevice, Sender: sender, Encrypted: encrypted, SenderDevice: senderDevice,
		Evt: &event.Event{Sender: sender, Type: event.Type{Type: typ, Class: event.ToDeviceEventType}, Content: event.Content{VeryRaw: content}}}
	h.flush()
}

// expect returns the next n sends (waiting for the sender goroutine).
func (h *harness) expect(n int) []sent {
	h.t.Helper()
	var out []sent
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case s := <-h.bot.sends:
			out = append(out, s)
		case <-timeout:
			h.t.Fatalf("got %d sends, want %d: %+v", len(out), n, out)
		}
	}
	return out
}

// expectRetry advances the clock by d until the next send comes and returns
// it. The failure that arms a retry reaches the owner from the sender
// goroutine when the test cannot see it, so one advance may come too early
// (the retry is then due one step later); 30 s only catches a hang.
func (h *harness) expectRetry(d time.Duration) sent {
	h.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		h.advance(d)
		select {
		case s := <-h.bot.sends:
			return s
		case <-time.After(10 * time.Millisecond):
		}
	}
	h.t.Fatal("no retry sent")
	return sent{}
}

// quiet checks that nothing more is sent (after a short grace for the sender).
func (h *harness) quiet() {
	h.t.Helper()
	select {
	case s := <-h.bot.sends:
		h.t.Fatalf("unexpected send %s to %v", s.typ, s.devices())
	case <-time.After(50 * time.Millisecond):
	}
}

// sentKey reads the key (index, base64) from a sent key event of either dialect.
func sentKey(t *testing.T, s sent) (int, string) {
	t.Helper()
	var k map[string]any
	switch v := s.content["keys"].(type) {
	case []any:
		k, _ = v[0].(map[string]any)
	case map[string]any:
		k = v
	}
	idx, _ := k["index"].(float64)
	key, _ := k["key"].(string)
	if key == "" {
		t.Fatalf("no key in %s content %v", s.typ, s.content)
	}
	return int(idx), key
}

func member(d membership.Dialect, user id.UserID, dev id.DeviceID, mid string) membership.Member {
	c := roomCall
	if d == membership.DialectRTCSticky {
		c = stickyCall
	}
	return membership.Member{Dialect: d, Call: c, UserID: user, DeviceID: dev, MembershipID: mid,
		CreatedAt: time.Unix(1_750_000_000, 0)}
}

var errSend = errors.New("homeserver said no")

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
