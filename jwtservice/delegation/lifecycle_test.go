package delegation

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

func TestTooManyJobs(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxJobs = 2 })
	h.add(h.params(room, "a", "d1", ten))
	h.add(h.params(room, "b", "d2", ten))
	if err := h.m.Add(context.Background(), h.params(room, "c", "d3", ten)); !errors.Is(err, ErrTooManyJobs) {
		t.Fatalf("third job: %v, want ErrTooManyJobs", err)
	}
	h.add(h.params(room, "a", "d4", ten)) // replacing is fine
	h.webhook(EventConnectionAborted, room, "b")
	h.add(h.params(room, "c", "d3", ten)) // room again
}

func TestTooManyJobsPerUser(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxJobsPerUser = 2 })
	of := func(user, identity, delayID string) Params {
		p := h.params(room, identity, delayID, ten)
		p.UserID = user
		return p
	}
	h.add(of("@a:x", "a1", "d1"))
	h.add(of("@a:x", "a2", "d2"))
	if err := h.m.Add(context.Background(), of("@a:x", "a3", "d3")); !errors.Is(err, ErrTooManyUserJobs) {
		t.Fatalf("third job of one user: %v, want ErrTooManyUserJobs", err)
	}
	h.add(of("@a:x", "a1", "d4")) // replacing is fine
	h.add(of("@b:x", "b1", "d5")) // another user is not affected
	h.webhook(EventConnectionAborted, room, "a2")
	h.add(of("@a:x", "a3", "d3")) // room again once a job ended
}

func TestAddAfterClose(t *testing.T) {
	h := newHarness(t, nil)
	h.add(h.params(room, ident, "d1", ten))
	if err := h.m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := h.m.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
	if err := h.m.Add(context.Background(), h.params(room, ident, "d2", ten)); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Add after Close: %v, want ErrShuttingDown", err)
	}
	h.m.HandleWebhook(Event{Kind: EventJoined, Room: room, Identity: ident}) // must not block
	if calls := h.hs.callsFor("", "send"); len(calls) != 0 {
		t.Errorf("sends at shutdown: %v", calls)
	}
}

func TestAddAfterRunContextEnds(t *testing.T) {
	leakcheck.Check(t)
	m, err := New(nil, Config{}, nil, newFakeLK())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	p := Params{Room: room, Identity: ident, DelayID: "d", DelayTimeout: ten, CSAPIURL: "https://hs.example"}
	if err := m.Add(context.Background(), p); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Add: %v, want ErrShuttingDown", err)
	}
	if err := m.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run: %v, want ErrAlreadyRunning", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestAddHonoursContextBeforeRun(t *testing.T) {
	m, err := New(nil, Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	p := Params{Room: room, Identity: ident, DelayID: "d", DelayTimeout: ten, CSAPIURL: "https://hs.example"}
	if err := m.Add(ctx, p); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Add: %v, want deadline exceeded", err)
	}
	if err := m.Close(); err != nil { // never ran: does not wait
		t.Errorf("Close: %v", err)
	}
}

func TestRunReturnsWithCallsInFlight(t *testing.T) {
	leakcheck.Check(t)
	entered := make(chan struct{}, 10)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // lets the server notice the client going away
		entered <- struct{}{}
		<-r.Context().Done()
	}))
	defer slow.Close()
	block := make(chan struct{})
	defer close(block)
	lk := lkFunc(func(ctx context.Context) error {
		select {
		case <-ctx.Done():
		case <-block:
		}
		return ctx.Err()
	})
	m, err := New(nil, Config{RequestTimeout: time.Minute}, slow.Client(), lk)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(context.Background()) }()
	p := Params{Room: room, Identity: ident, DelayID: "d", DelayTimeout: time.Hour, CSAPIURL: slow.URL}
	if err := m.Add(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	m.HandleWebhook(Event{Kind: EventJoined, Room: room, Identity: ident})
	<-entered // a restart is in flight, and so is the first lookup
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second { // a hang guard: a missed cancel waits the minute
		t.Errorf("Close took %s", d)
	}
}

func TestHandleWebhookNeverBlocks(t *testing.T) {
	m, err := New(nil, Config{WebhookQueue: 1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			m.HandleWebhook(Event{Kind: EventJoined, Room: room, Identity: ident})
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("HandleWebhook blocked with a full queue")
	}
}

func TestNewRejectsNegativeConfig(t *testing.T) {
	for _, cfg := range []Config{{SanityCheckInterval: -1}, {RequestTimeout: -1}, {MaxJobs: -1}, {WebhookQueue: -1}} {
		if _, err := New(nil, cfg, nil, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestParamsValidation(t *testing.T) {
	ok := Params{Room: room, Identity: ident, DelayID: "syd_abc", DelayTimeout: ten, CSAPIURL: "https://matrix.example.org"}
	if err := ok.validate(); err != nil {
		t.Fatalf("valid params refused: %v", err)
	}
	long := strings.Repeat("x", 2000)
	cases := map[string]func(*Params){
		"empty room":         func(p *Params) { p.Room = "" },
		"long room":          func(p *Params) { p.Room = long },
		"empty identity":     func(p *Params) { p.Identity = "" },
		"long identity":      func(p *Params) { p.Identity = long },
		"empty delay id":     func(p *Params) { p.DelayID = "" },
		"long delay id":      func(p *Params) { p.DelayID = long[:256] },
		"dot delay id":       func(p *Params) { p.DelayID = "." },
		"dot-dot delay id":   func(p *Params) { p.DelayID = ".." },
		"zero timeout":       func(p *Params) { p.DelayTimeout = 0 },
		"negative timeout":   func(p *Params) { p.DelayTimeout = -time.Second },
		"huge timeout":       func(p *Params) { p.DelayTimeout = 1 << 62 },
		"empty URL":          func(p *Params) { p.CSAPIURL = "" },
		"relative URL":       func(p *Params) { p.CSAPIURL = "/matrix" },
		"ftp URL":            func(p *Params) { p.CSAPIURL = "ftp://hs.example" },
		"URL with user info": func(p *Params) { p.CSAPIURL = "https://u:p@hs.example" },
		"URL with query":     func(p *Params) { p.CSAPIURL = "https://hs.example/?x=1" },
		"URL with fragment":  func(p *Params) { p.CSAPIURL = "https://hs.example/#x" },
		"URL without host":   func(p *Params) { p.CSAPIURL = "https:///path" },
	}
	for name, edit := range cases {
		p := ok
		edit(&p)
		if err := p.validate(); !errors.Is(err, ErrBadParams) {
			t.Errorf("%s: %v, want ErrBadParams", name, err)
		}
	}
	m, err := New(nil, Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.DelayTimeout = 0
	if err := m.Add(context.Background(), bad); !errors.Is(err, ErrBadParams) {
		t.Errorf("Add: %v, want ErrBadParams", err)
	}
}

func TestShortID(t *testing.T) {
	for in, want := range map[string]string{"": "…", "a": "…", "ab": "a…", "abcdefgh": "abcd…", "syd_0123456789": "syd_…", "äöüßé": "äöü…"} {
		if got := shortID(in); got != want {
			t.Errorf("shortID(%q) = %q, want %q", in, got, want)
		}
	}
}

// lkFunc is a Participants whose GetParticipant runs f.
type lkFunc func(ctx context.Context) error

func (f lkFunc) ListParticipants(ctx context.Context, _ *livekitListRequest) (*livekitList, error) {
	return nil, f(ctx)
}

func (f lkFunc) GetParticipant(ctx context.Context, _ *livekitIdentity) (*livekitInfo, error) {
	return nil, f(ctx)
}
