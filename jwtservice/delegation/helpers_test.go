package delegation

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/twitchtv/twirp"
)

// epoch is the fake clock's start, on a whole second for HTTP dates.
var epoch = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// fakeClock is a manual clock: After channels fire when Set passes them.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := c.now.Add(d)
	if !at.After(c.now) {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at, ch})
	return ch
}

// Set moves the clock to t (never backwards) and fires due waiters.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.now) {
		return
	}
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- t
	}
	c.waiters = kept
}

// csCall is one request the fake homeserver received.
type csCall struct {
	at          time.Time // fake time
	method      string
	uri         string // RequestURI: escaped path and query as sent
	delayID     string
	action      string
	contentType string
	auth        string
	body        string
}

// csReply is the fake homeserver's answer.
type csReply struct {
	status int
	header map[string]string
	body   string
}

// fakeHS is a homeserver serving the MSC4140 management endpoints.
type fakeHS struct {
	srv   *httptest.Server
	clock *fakeClock

	mu    sync.Mutex
	calls []csCall
	reply func(c csCall, n int) csReply // n: earlier calls with the same id and action
}

func newFakeHS(t *testing.T, clock *fakeClock) *fakeHS {
	t.Helper()
	hs := &fakeHS{clock: clock}
	hs.srv = httptest.NewServer(http.HandlerFunc(hs.serve))
	t.Cleanup(hs.srv.Close)
	return hs
}

func (hs *fakeHS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := csCall{
		at: hs.clock.Now(), method: r.Method, uri: r.RequestURI,
		contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization"), body: string(body),
	}
	rest, ok := strings.CutPrefix(r.URL.Path, delayedEventsPath+"/")
	if i := strings.LastIndexByte(rest, '/'); ok && i >= 0 {
		c.delayID, c.action = rest[:i], rest[i+1:]
	}
	hs.mu.Lock()
	n := 0
	for _, old := range hs.calls {
		if old.delayID == c.delayID && old.action == c.action {
			n++
		}
	}
	hs.calls = append(hs.calls, c)
	reply := hs.reply
	hs.mu.Unlock()
	rep := csReply{status: 200, body: "{}"}
	if reply != nil {
		rep = reply(c, n)
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (hs *fakeHS) setReply(f func(c csCall, n int) csReply) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.reply = f
}

// callsFor returns the calls for delay id and action ("" for any).
func (hs *fakeHS) callsFor(delayID, action string) []csCall {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var out []csCall
	for _, c := range hs.calls {
		if (delayID == "" || c.delayID == delayID) && (action == "" || c.action == action) {
			out = append(out, c)
		}
	}
	return out
}

// fakeLK is a LiveKit RoomService with a set of connected participants.
type fakeLK struct {
	mu      sync.Mutex
	present map[jobKey]bool
	err     error // returned instead when set
	calls   int   // lookups and listings
	lists   int   // listings
}

func newFakeLK() *fakeLK { return &fakeLK{present: map[jobKey]bool{}} }

func (f *fakeLK) GetParticipant(_ context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if f.present[jobKey{req.Room, req.Identity}] {
		return &livekit.ParticipantInfo{Identity: req.Identity}, nil
	}
	return nil, twirp.NotFoundError("participant not found")
}

func (f *fakeLK) ListParticipants(_ context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.lists++
	if f.err != nil {
		return nil, f.err
	}
	resp := &livekit.ListParticipantsResponse{}
	for k, present := range f.present {
		if present && k.room == req.Room {
			resp.Participants = append(resp.Participants, &livekit.ParticipantInfo{Identity: k.identity})
		}
	}
	return resp, nil
}

func (f *fakeLK) set(room, identity string, present bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.present[jobKey{room, identity}] = present
}

func (f *fakeLK) listCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func (f *fakeLK) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeLK) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// harness runs a Manager against a fake clock, homeserver and LiveKit.
type harness struct {
	t      *testing.T
	clock  *fakeClock
	hs     *fakeHS
	lk     *fakeLK
	m      *Manager
	runErr chan error

	mu          sync.Mutex
	transitions []Transition
}

// newHarness starts a manager; edit may change its config. It checks for
// leaked goroutines, so tests using it must not be parallel.
// setup runs before the manager does (a LiveKit state a reload must find).
func newHarness(t *testing.T, edit func(*Config), setup ...func(*harness)) *harness {
	t.Helper()
	return newHarnessLK(t, edit, true, setup...)
}

// newHarnessLK is newHarness with or without a LiveKit client.
func newHarnessLK(t *testing.T, edit func(*Config), withLK bool, setup ...func(*harness)) *harness {
	t.Helper()
	leakcheck.Check(t)
	h := &harness{t: t, clock: newFakeClock(), lk: newFakeLK(), runErr: make(chan error, 1)}
	h.hs = newFakeHS(t, h.clock)
	cfg := Config{
		Now:     h.clock.Now,
		After:   h.clock.After,
		Rand:    func() float64 { return 0.5 }, // no jitter
		Observe: h.observe,
	}
	if edit != nil {
		edit(&cfg)
	}
	var lk Participants
	if withLK {
		lk = h.lk
	}
	m, err := New(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})), cfg, h.hs.srv.Client(), lk)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	for _, f := range setup {
		f(h)
	}
	go func() { h.runErr <- m.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = m.Close()
		select {
		case err := <-h.runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after Close")
		}
	})
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (h *harness) observe(tr Transition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.transitions = append(h.transitions, tr)
}

// path returns the states job id went through, as "A>B>C".
func (h *harness) path(id uint64) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var states []string
	for _, tr := range h.transitions {
		if tr.JobID == id {
			states = append(states, tr.To.String())
		}
	}
	return strings.Join(states, ">")
}

// causes returns the inputs of job id's transitions.
func (h *harness) causes(id uint64) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var c []string
	for _, tr := range h.transitions {
		if tr.JobID == id {
			c = append(c, tr.Cause)
		}
	}
	return strings.Join(c, ">")
}

// settle waits (in real time) until the manager has nothing in flight,
// queued or due, and returns its snapshot.
func (h *harness) settle() snapshot {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing
	for {
		s, ok := h.m.snapshot()
		if !ok {
			h.t.Fatal("manager stopped")
		}
		if s.idle {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("manager did not settle: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}

// advance runs fake time forward by d, stopping at every due timer so that
// each fires at its own time.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	target := h.clock.Now().Add(d)
	for {
		s := h.settle()
		if s.next.IsZero() || s.next.After(target) {
			h.clock.Set(target)
			h.settle()
			return
		}
		h.clock.Set(s.next)
	}
}

func (h *harness) add(p Params) {
	h.t.Helper()
	if err := h.m.Add(context.Background(), p); err != nil {
		h.t.Fatalf("Add: %v", err)
	}
	h.settle()
}

func (h *harness) webhook(kind EventKind, room, identity string) {
	h.t.Helper()
	h.m.HandleWebhook(Event{Kind: kind, Room: room, Identity: identity})
	h.settle()
}

// state is the job's state, or StateUnknown when there is no job.
func (h *harness) state(room, identity string) State {
	h.t.Helper()
	return h.settle().states[jobKey{room, identity}]
}

func (h *harness) params(room, identity, delayID string, timeout time.Duration) Params {
	return Params{Room: room, Identity: identity, DelayID: delayID, DelayTimeout: timeout, CSAPIURL: h.hs.srv.URL}
}

// offsets returns the fake times of calls relative to epoch.
func offsets(calls []csCall) []time.Duration {
	out := make([]time.Duration, len(calls))
	for i, c := range calls {
		out[i] = c.at.Sub(epoch)
	}
	return out
}

func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var errTransport = errors.New("connection refused")

type (
	livekitIdentity    = livekit.RoomParticipantIdentity
	livekitInfo        = livekit.ParticipantInfo
	livekitListRequest = livekit.ListParticipantsRequest
	livekitList        = livekit.ListParticipantsResponse
)
