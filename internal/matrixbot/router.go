package matrixbot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"
)

// Errors returned by Router.Add.
var (
	// ErrRouterStarted: a route was added after Run began; routes are fixed
	// for the router's life, so no consumer misses part of the stream.
	ErrRouterStarted = errors.New("matrixbot: route added after the router started")
	// ErrBadRoute: the route has no name, a name already taken, a negative
	// queue or an unknown overflow policy.
	ErrBadRoute = errors.New("matrixbot: invalid route")
)

// DefaultQueue is a route's queue bound when Route.Queue is 0.
const DefaultQueue = 256

const (
	// stallWarn is how long the router waits on one Block route before it
	// says so (once per stall, not per event).
	stallWarn = time.Second
	// dropLogEvery spaces a Drop route's warnings after its first drop.
	dropLogEvery = 10 * time.Second
)

// Overflow is what the router does with an event for a route whose queue
// is full.
type Overflow int

const (
	// Block (the zero value) is lossless: the router waits until the
	// consumer takes an event, and so holds back every other route and,
	// through the bot's stream, the sync itself. For consumers that must see
	// everything: the membership feed, the key exchange, call signalling.
	Block Overflow = iota
	// Drop never waits: an event that finds the queue full is dropped and
	// counted. For optional consumers that can live with gaps.
	Drop
)

func (o Overflow) String() string {
	switch o {
	case Block:
		return "block"
	case Drop:
		return "drop"
	default:
		return fmt.Sprintf("Overflow(%d)", int(o))
	}
}

// MarshalText shows the policy by name in the admin view.
func (o Overflow) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Route is one consumer of the bot's event stream: which events it gets and
// how much it may fall behind.
type Route struct {
	// Name identifies the route in the logs and the admin view; unique.
	Name string
	// Kinds the route gets; empty: every kind.
	Kinds []Kind
	// Rooms, when set, keeps the events of the rooms it accepts. Events
	// without a room (to-device, device lists, key counts, sync done or
	// failed) then never pass: a route that needs them leaves Rooms nil.
	Rooms func(id.RoomID) bool
	// Queue is the most events the route holds that its consumer has not
	// taken yet; 0 means DefaultQueue.
	Queue int
	// Overflow is what happens to an event that finds the queue full.
	Overflow Overflow
}

func (r *Route) matches(ev Event) bool {
	if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, ev.Kind) {
		return false
	}
	return r.Rooms == nil || ev.RoomID != "" && r.Rooms(ev.RoomID)
}

// RouteStats is one route's counters (Router.Stats).
type RouteStats struct {
	Name     string
	Kinds    []Kind // empty: all
	Rooms    bool   // a room filter is set
	Overflow Overflow
	Bound    int // the queue's bound
	Queued   int // events waiting for the consumer now

	Delivered uint64 // events put in the queue
	Dropped   uint64 // events dropped because the queue was full (Drop)
	// Blocked is the total time the router waited on this route (Block),
	// the current wait included; BlockedSince is when the current wait
	// began, zero when the router is not waiting on it.
	Blocked      time.Duration
	BlockedSince time.Time
}

// route is a Route with its queue and counters. The counters are written by
// Run and read by Stats under the router's mutex; the log state is Run's own.
type route struct {
	Route
	out chan Event

	delivered, dropped uint64
	blocked            time.Duration
	blockedSince       time.Time

	stalledSince time.Time // the wait that was warned about; zero: none
	dropLogged   time.Time // last drop warning
	unlogged     uint64    // drops since then
}

// Router hands each event of the bot's stream, in order, to every route
// whose filter matches, each through its own bounded queue. Routes are added
// before Run; New starts nothing and Run starts no goroutine.
type Router struct {
	log *slog.Logger

	mu      sync.Mutex
	started bool
	routes  []*route
}

// NewRouter returns a router with no routes.
func NewRouter(logger *slog.Logger) *Router {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Router{log: logger.With("component", "event_router")}
}

// Add registers r and returns its queue, which Run closes when it returns.
// It fails after Run began (ErrRouterStarted) or for an invalid route
// (ErrBadRoute).
func (rt *Router) Add(r Route) (<-chan Event, error) {
	switch {
	case r.Name == "":
		return nil, fmt.Errorf("%w: no name", ErrBadRoute)
	case r.Queue < 0:
		return nil, fmt.Errorf("%w: %s: queue %d", ErrBadRoute, r.Name, r.Queue)
	case r.Overflow != Block && r.Overflow != Drop:
		return nil, fmt.Errorf("%w: %s: overflow %v", ErrBadRoute, r.Name, r.Overflow)
	}
	if r.Queue == 0 {
		r.Queue = DefaultQueue
	}
	r.Kinds = slices.Clone(r.Kinds)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.started {
		return nil, fmt.Errorf("%w: %s", ErrRouterStarted, r.Name)
	}
	if slices.ContainsFunc(rt.routes, func(o *route) bool { return o.Name == r.Name }) {
		return nil, fmt.Errorf("%w: %s: name taken", ErrBadRoute, r.Name)
	}
	q := &route{Route: r, out: make(chan Event, r.Queue)}
	rt.routes = append(rt.routes, q)
	return q.out, nil
}

// Run routes in until it closes or ctx ends, then closes every route's
// queue, so no consumer waits on a router that is gone. A second Run
// returns ErrRunTwice.
func (rt *Router) Run(ctx context.Context, in <-chan Event) error {
	rt.mu.Lock()
	if rt.started {
		rt.mu.Unlock()
		return ErrRunTwice
	}
	rt.started = true
	routes := rt.routes
	rt.mu.Unlock()
	defer func() {
		for _, r := range routes {
			close(r.out)
		}
	}()
	for {
		var ev Event
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-in:
			if !ok {
				return nil
			}
			ev = e
		}
		for _, r := range routes {
			if r.matches(ev) && !rt.deliver(ctx, r, ev) {
				return nil
			}
		}
	}
}

// deliver puts ev in r's queue, or drops it, or waits for room, as r's
// policy says; false means ctx ended while waiting.
func (rt *Router) deliver(ctx context.Context, r *route, ev Event) bool {
	select {
	case r.out <- ev:
		rt.delivered(r)
		return true
	default:
	}
	if r.Overflow == Drop {
		rt.drop(r)
		return true
	}
	since := time.Now()
	rt.mu.Lock()
	r.blockedSince = since
	rt.mu.Unlock()
	warn := time.NewTimer(stallWarn)
	defer warn.Stop()
	for {
		select {
		case r.out <- ev:
			rt.unblock(r, since)
			rt.delivered(r)
			return true
		case <-warn.C:
			if r.stalledSince.IsZero() {
				r.stalledSince = since
				rt.log.Warn("event router waiting on a full route; the bot's sync is held back", "route", r.Name,
					"queue", cap(r.out), "waiting_since", since)
			}
		case <-ctx.Done():
			rt.unblock(r, since)
			return false
		}
	}
}

func (rt *Router) unblock(r *route, since time.Time) {
	rt.mu.Lock()
	r.blocked += time.Since(since)
	r.blockedSince = time.Time{}
	rt.mu.Unlock()
}

// delivered counts a delivery. A stalled route counts as moving again once
// a delivery leaves room in its queue: a consumer that keeps the queue full
// stays one stall, with one warning, however many events it lets through.
func (rt *Router) delivered(r *route) {
	rt.mu.Lock()
	r.delivered++
	rt.mu.Unlock()
	if !r.stalledSince.IsZero() && len(r.out) < cap(r.out) {
		rt.log.Info("event router: route moving again", "route", r.Name, "stalled_for", time.Since(r.stalledSince))
		r.stalledSince = time.Time{}
	}
}

// drop counts a dropped event; it warns at the first drop and then at most
// once per dropLogEvery, with the drops since the last warning.
func (rt *Router) drop(r *route) {
	rt.mu.Lock()
	r.dropped++
	total := r.dropped
	rt.mu.Unlock()
	r.unlogged++
	if now := time.Now(); r.dropLogged.IsZero() || now.Sub(r.dropLogged) >= dropLogEvery {
		rt.log.Warn("event router dropping events: route full", "route", r.Name, "queue", cap(r.out),
			"dropped", r.unlogged, "dropped_total", total)
		r.dropLogged, r.unlogged = now, 0
	}
}

// Stats reports every route's counters, in the order they were added. It is
// safe to call at any time.
func (rt *Router) Stats() []RouteStats {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make([]RouteStats, 0, len(rt.routes))
	for _, r := range rt.routes {
		s := RouteStats{
			Name: r.Name, Kinds: slices.Clone(r.Kinds), Rooms: r.Rooms != nil, Overflow: r.Overflow,
			Bound: cap(r.out), Queued: len(r.out), Delivered: r.delivered, Dropped: r.dropped,
			Blocked: r.blocked, BlockedSince: r.blockedSince,
		}
		if !r.blockedSince.IsZero() {
			s.Blocked += time.Since(r.blockedSince)
		}
		out = append(out, s)
	}
	return out
}
