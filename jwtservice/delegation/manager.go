package delegation

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Limits on job parameters. Matrix opaque ids are at most 255 bytes.
const (
	maxDelayIDBytes  = 255
	maxNameBytes     = 1024 // LiveKit room names and identities
	maxDelayTimeout  = 30 * 24 * time.Hour
	maxInitialWait   = time.Hour // the sticky membership timeout
	minRestartPeriod = 100 * time.Millisecond
	minSendWindow    = time.Second
	maxSendWindow    = time.Hour
)

// Params describe one delegated delayed leave.
type Params struct {
	Room, Identity string // LiveKit room name and participant identity: the job key
	// UserID and DeviceID say whose job it is (the verified Matrix user and
	// its claimed device), for the per-user limit and the admin view.
	UserID, DeviceID string
	DelayID          string // MSC4140 delay_id; a capability, never logged in full
	DelayTimeout     time.Duration
	CSAPIURL         string // client-server API base URL of the user's homeserver
}

// Participants is the part of the LiveKit RoomService the manager uses;
// *lksdk.RoomServiceClient satisfies it. GetParticipant reports a confirmed
// absence with a Twirp NotFound error or ErrParticipantNotFound;
// ListParticipants (the phase-2 checks of a whole room at once) reports a
// room that does not exist, so has nobody, with a Twirp NotFound error.
type Participants interface {
	GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error)
	ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error)
}

// Transition describes one state change, for Config.Observe.
type Transition struct {
	JobID          uint64
	Room, Identity string
	From, To       State
	Cause          string // the input that caused it, e.g. "Joined", "WaitExpired"
}

// Config holds the manager's knobs; the zero value gives the defaults.
type Config struct {
	// SanityCheckInterval is how often a connected participant is looked
	// up on LiveKit (phase 2); 0 disables it. The jobs of one room share
	// one listing of it per interval, and a room another poller reported
	// through ObserveRoom within the interval is not listed.
	SanityCheckInterval time.Duration
	// ReconnectGrace is how long a participant that vanished from LiveKit
	// without leaving (connection aborted, sanity miss) may take to come
	// back before the leave is sent; 0 sends at once.
	ReconnectGrace time.Duration
	// Store keeps jobs across restarts; nil keeps them in memory only.
	Store Store
	// RequestTimeout bounds each CS-API and LiveKit call. Default 5 s.
	RequestTimeout time.Duration
	// MaxJobs bounds the job table. Default 10,000.
	MaxJobs int
	// MaxJobsPerUser bounds the jobs one Matrix user (Params.UserID) holds,
	// so one user cannot fill the table. Default 8.
	MaxJobsPerUser int
	// WebhookQueue is how many webhook events may wait for the actor;
	// more are dropped with a warning. Default 1024.
	WebhookQueue int
	// Backoff paces phase-1 lookups and CS-API retries.
	// Default 1 s ×1.5, jitter 0.5, at most 60 s.
	Backoff Backoff
	// Now and After are the clock; default time.Now and time.After. Every
	// timer of the manager goes through them (HTTP timeouts do not).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Rand returns values in [0, 1) for backoff jitter; default math/rand/v2.
	Rand func() float64
	// Observe, if set, is called on the manager's goroutine for every state
	// change, including the start of a job (From StateUnknown, Cause
	// "Added"); for metrics and tests. It must not block and must not call
	// the Manager.
	Observe func(Transition)
	// Metrics, if set, counts restarts and sends.
	Metrics *Metrics
}

func (c Config) withDefaults() (Config, error) {
	if c.SanityCheckInterval < 0 || c.RequestTimeout < 0 || c.MaxJobs < 0 || c.MaxJobsPerUser < 0 || c.WebhookQueue < 0 || c.ReconnectGrace < 0 {
		return c, fmt.Errorf("delegation: negative config value")
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.MaxJobs == 0 {
		c.MaxJobs = 10_000
	}
	if c.MaxJobsPerUser == 0 {
		c.MaxJobsPerUser = 8
	}
	if c.WebhookQueue == 0 {
		c.WebhookQueue = 1024
	}
	c.Backoff = c.Backoff.withDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c, nil
}

// Manager keeps delegated delayed leave events from firing while their
// participants are on LiveKit, and sends them when the participants leave.
//
// Concurrency: one goroutine, the actor started by Run, owns the job table,
// every job's state and the timer heap (see actor). Add, HandleWebhook and
// Close only send messages to it. Each LiveKit or CS-API call runs on a
// short-lived goroutine that sends its result back to the actor and ends;
// the actor waits on one clock timer for the earliest due job timer. Run
// returns only after the actor and every call goroutine have ended.
//
// With a Store, jobs are saved as they change and reloaded by Run, which
// looks every reloaded participant up at once. Without one they live in
// memory only: after a shutdown nothing restarts the delayed events, so the
// homeserver fires them (the leave happens) within their timeout.
type Manager struct {
	logger *slog.Logger
	cfg    Config
	hc     *http.Client
	lk     Participants

	adds         chan addRequest // unbuffered: a request is either taken or refused
	events       chan Event      // bounded webhook queue
	observations chan observation
	snaps        chan chan snapshot
	reports      chan chan Report

	quit      chan struct{} // closed by Close
	closeOnce sync.Once
	started   atomic.Bool
	dropped   atomic.Uint64 // webhook events dropped on a full queue
	stopped   chan struct{} // closed when the actor loop has ended
	finished  chan struct{} // closed when Run has returned
}

type addRequest struct {
	p     Params
	reply chan error // buffered 1
}

// New builds a Manager; it starts nothing until Run. hc carries the CS-API
// calls (give it the SSRF-guarded client; redirects are never followed);
// nil means a plain http.Client. lk may be nil: then participants are
// tracked by webhooks alone (no phase-1 or phase-2 lookups).
func New(logger *slog.Logger, cfg Config, hc *http.Client, lk Participants) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		logger:  logger.With("component", "delegation"),
		cfg:     cfg,
		hc:      noRedirects(hc),
		lk:      lk,
		adds:    make(chan addRequest),
		events:  make(chan Event, cfg.WebhookQueue),
		snaps:   make(chan chan snapshot),
		reports: make(chan chan Report),
		// One observation per LiveKit room per enforcer pass.
		observations: make(chan observation, cfg.WebhookQueue),
		quit:         make(chan struct{}),
		stopped:      make(chan struct{}),
		finished:     make(chan struct{}),
	}, nil
}

// noRedirects returns a copy of hc (or of a plain client) that returns a
// redirect response instead of following it.
func noRedirects(hc *http.Client) *http.Client {
	c := &http.Client{}
	if hc != nil {
		*c = *hc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// Run is the actor loop. It returns nil when ctx ends or Close is called,
// after every goroutine of the manager has ended. Jobs are dropped
// without sending.
func (m *Manager) Run(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer close(m.finished)
	ctx, cancel := context.WithCancel(ctx)
	a := newActor(m, ctx)
	a.reload()
	a.loop()
	cancel() // aborts calls in flight
	close(m.stopped)
	a.wg.Wait()
	if n := len(a.jobs); n > 0 && m.cfg.Store == nil {
		m.logger.Info("delegation stopped; jobs dropped, their delayed events will fire by themselves", "jobs", n)
	} else if n > 0 {
		m.logger.Info("delegation stopped; jobs kept for the next start", "jobs", n)
	}
	return nil
}

// Add validates p and hands it to the actor: a new job for (Room, Identity)
// replaces the current one, which ends without sending. It fails with
// ErrBadParams, ErrTooManyJobs, ErrTooManyUserJobs, ErrShuttingDown (after Close or the end of
// Run's context), or ctx's error. Before Run it waits for Run.
func (m *Manager) Add(ctx context.Context, p Params) error {
	if err := p.validate(); err != nil {
		return err
	}
	select {
	case <-m.quit:
		return ErrShuttingDown
	case <-m.stopped:
		return ErrShuttingDown
	default:
	}
	req := addRequest{p: p, reply: make(chan error, 1)}
	select {
	case m.adds <- req:
		return <-req.reply // the actor answers before taking anything else
	case <-m.quit:
		return ErrShuttingDown
	case <-m.stopped:
		return ErrShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HandleWebhook forwards ev to the actor without blocking. Events of other
// kinds, events after Close and events that find the queue full are
// dropped (the latter with a warning). A lost joined event is covered by
// phase-1 lookups; a lost left event only by phase-2 sanity checks, so
// keep SanityCheckInterval > 0 where webhooks may be lost.
func (m *Manager) HandleWebhook(ev Event) {
	if ev.Kind.signal() == sigUnknown {
		return
	}
	select {
	case <-m.quit:
		return
	case <-m.stopped:
		return
	default:
	}
	select {
	case m.events <- ev:
	default:
		// Log the 1st, 2nd, 4th, 8th… drop: a flood must not flood the log.
		if n := m.dropped.Add(1); n&(n-1) == 0 {
			m.logger.Warn("delegation: webhook queue full; event dropped", "kind", ev.Kind,
				"room", ev.Room, "identity", ev.Identity, "dropped_total", n)
		}
	}
}

// Close stops the manager and, if Run is running, waits for it to return.
// Calls after the first return net.ErrClosed.
func (m *Manager) Close() error {
	err := net.ErrClosed
	m.closeOnce.Do(func() {
		close(m.quit)
		err = nil
	})
	if m.started.Load() {
		<-m.finished
	}
	return err
}

// validate checks p before it reaches the actor.
func (p Params) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadParams}, args...)...)
	}
	switch {
	case p.Room == "" || len(p.Room) > maxNameBytes:
		return bad("room name empty or longer than %d bytes", maxNameBytes)
	case p.Identity == "" || len(p.Identity) > maxNameBytes:
		return bad("identity empty or longer than %d bytes", maxNameBytes)
	case len(p.UserID) > maxNameBytes || len(p.DeviceID) > maxNameBytes:
		return bad("user or device id longer than %d bytes", maxNameBytes)
	case p.DelayID == "" || len(p.DelayID) > maxDelayIDBytes:
		return bad("delay_id empty or longer than %d bytes", maxDelayIDBytes)
	case p.DelayID == "." || p.DelayID == "..":
		// A dot segment survives path escaping and proxies normalise it.
		return bad("delay_id is a dot segment")
	case p.DelayTimeout <= 0 || p.DelayTimeout > maxDelayTimeout:
		return bad("delay_timeout must be positive and at most %s", maxDelayTimeout)
	}
	if _, err := parseBaseURL(p.CSAPIURL); err != nil {
		return bad("CS-API URL: %v", err)
	}
	return nil
}

// shortID is a loggable prefix of a delay id.
func shortID(id string) string {
	n := 0
	for i := range id {
		if n == 4 || i >= len(id)/2 {
			return id[:i] + "…"
		}
		n++
	}
	return "…"
}
