package membership

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/timeheap"
)

// ErrClosed is returned by calls on a tracker that has stopped.
var ErrClosed = errors.New("membership: tracker closed")

// ChangeKind says what happened to a member.
type ChangeKind int

const (
	ChangeUnknown ChangeKind = iota
	Joined                   // a membership appeared
	Updated                  // it was rewritten (new expiry, foci, ...)
	Left                     // its event was replaced by one without it
	Expired                  // its expiry passed with no refresh
)

func (k ChangeKind) String() string {
	return [...]string{"unknown", "joined", "updated", "left", "expired"}[k]
}

// Change is one event for subscribers.
type Change struct {
	Kind   ChangeKind
	Member Member
	At     time.Time
}

// Source names the event a set of memberships came from: one state key of
// one event type in one room (or a sticky key).
type Source struct {
	Room      id.RoomID
	EventType string
	StateKey  string
}

// memberID is what makes a member unique within the tracker.
type memberID struct {
	call    CallKey
	dialect Dialect
	user    id.UserID
	device  id.DeviceID
}

func idOf(m Member) memberID {
	return memberID{call: m.Call, dialect: m.Dialect, user: m.UserID, device: m.DeviceID}
}

// Tracker holds every room's calls and members and tells subscribers what
// changes, expiring members by timer at their expiry even if no other event
// arrives (both reference SDKs re-check only on new events, which leaves
// ghosts).
//
// Concurrency: all state belongs to the goroutine of Run. Ingest, Subscribe
// and Snapshot only send it messages.
type Tracker struct {
	logger *slog.Logger
	clock  Clock
	in     chan any
	done   chan struct{}
	once   sync.Once

	// Owned by Run. State is split per room: many small maps grow far more
	// cheaply than two huge ones with wide keys.
	rooms  map[id.RoomID]*roomState
	expiry timeheap.Heap[*tracked]
	subs   []*subscriber
}

type roomState struct {
	members map[memberID]*tracked
	sources map[Source][]memberID
}

// room returns the state of room r, creating it.
func (t *Tracker) room(r id.RoomID) *roomState {
	rs := t.rooms[r]
	if rs == nil {
		rs = &roomState{members: map[memberID]*tracked{}, sources: map[Source][]memberID{}}
		t.rooms[r] = rs
	}
	return rs
}

// dropIfEmpty forgets a room with nothing left in it.
func (t *Tracker) dropIfEmpty(r id.RoomID, rs *roomState) {
	if len(rs.members) == 0 && len(rs.sources) == 0 {
		delete(t.rooms, r)
	}
}

type tracked struct {
	m      Member
	source Source
	entry  *timeheap.Entry[*tracked] // its place in the expiry heap
}

// NewTracker returns a tracker; it does nothing until Run.
func NewTracker(logger *slog.Logger, clock Clock) *Tracker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	return &Tracker{
		logger: logger, clock: clock, in: make(chan any, 1024), done: make(chan struct{}),
		rooms: map[id.RoomID]*roomState{},
	}
}

// Update says that Source now carries exactly Members (none: a leave).
type Update struct {
	Source  Source
	Members []Member
}

// ingest is a batch of updates, applied in order. A full batch is a
// snapshot: sources it does not mention no longer carry anyone.
type ingest struct {
	updates []Update
	full    bool
}

// Ingest records that src now carries exactly members (none: a leave).
func (t *Tracker) Ingest(ctx context.Context, src Source, members []Member) error {
	return t.IngestBatch(ctx, []Update{{src, members}})
}

// IngestBatch applies updates in order, as one sync batch delivers them. It
// blocks only while the tracker's queue is full, and returns ErrClosed once
// the tracker stopped. The tracker keeps the slices: do not reuse them.
func (t *Tracker) IngestBatch(ctx context.Context, updates []Update) error {
	return t.send(ctx, ingest{updates: updates})
}

// IngestSnapshot is IngestBatch for a complete view (an initial sync):
// members of sources it does not mention leave.
func (t *Tracker) IngestSnapshot(ctx context.Context, updates []Update) error {
	return t.send(ctx, ingest{updates: updates, full: true})
}

type forgetRoom id.RoomID

// ForgetRoom drops every member of a room, as when the bot leaves it: the
// coordinator no longer sees that room's state.
func (t *Tracker) ForgetRoom(ctx context.Context, room id.RoomID) error {
	return t.send(ctx, forgetRoom(room))
}

// send hands a message to Run.
func (t *Tracker) send(ctx context.Context, msg any) error {
	if t.stopped() {
		return ErrClosed
	}
	select {
	case t.in <- msg:
		return nil
	case <-t.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

type snapshotReq struct{ reply chan []Member }

// Snapshot returns every live member, for the admin API and enforcement.
func (t *Tracker) Snapshot(ctx context.Context) ([]Member, error) {
	req := snapshotReq{reply: make(chan []Member, 1)}
	if t.stopped() {
		return nil, ErrClosed
	}
	select {
	case t.in <- req:
	case <-t.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case ms := <-req.reply:
		return ms, nil
	case <-t.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Run owns the state until ctx ends or Close is called; it returns after
// every subscriber's goroutine has ended.
func (t *Tracker) Run(ctx context.Context) error {
	timer := t.clock.NewTimer(time.Hour)
	timer.Stop()
	armed := time.Time{}
	var wg sync.WaitGroup
	defer func() {
		timer.Stop()
		t.Close()
		for _, s := range t.subs {
			s.close()
		}
		wg.Wait()
	}()
	for {
		// Arm the timer for the earliest expiry.
		if first := t.expiry.Peek(); first != nil && !first.At.Equal(armed) {
			armed = first.At
			timer.Stop()
			timer.Reset(max(armed.Sub(t.clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.done:
			return nil
		case <-timer.C():
			armed = time.Time{}
			t.expire()
		case msg := <-t.in:
			switch msg := msg.(type) {
			case ingest:
				t.applyBatch(msg)
			case forgetRoom:
				if rs := t.rooms[id.RoomID(msg)]; rs != nil {
					for src := range rs.sources {
						t.apply(src, nil)
					}
				}
			case snapshotReq:
				out := make([]Member, 0, t.expiry.Len())
				t.expiry.All(func(e *timeheap.Entry[*tracked]) { out = append(out, e.Value.m) })
				msg.reply <- out
			case *subscriber:
				t.subs = append(t.subs, msg)
				wg.Go(msg.pump)
			}
		}
	}
}

// stopped reports whether Close was called (checked first, so a closed
// tracker never accepts a message into its buffer).
func (t *Tracker) stopped() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// Close stops the tracker. Later calls return net.ErrClosed.
func (t *Tracker) Close() error {
	err := net.ErrClosed
	t.once.Do(func() { close(t.done); err = nil })
	return err
}

// apply replaces a source's members and emits the differences. A source
// carries few members (one per device of one user at most, capped by the
// codecs), so plain slices beat maps here.
func (t *Tracker) apply(src Source, members []Member) {
	now := t.clock.Now()
	next := make([]memberID, 0, len(members))
	live := members[:0:0]
	for _, m := range members {
		mid := idOf(m)
		if !m.ExpiresAt.After(now) || containsID(next, mid) {
			continue // already expired (never counted), or a duplicate entry
		}
		next = append(next, mid)
		live = append(live, m)
	}
	rs := t.room(src.Room)
	for _, mid := range rs.sources[src] {
		if !containsID(next, mid) {
			if tr, ok := rs.members[mid]; ok && tr.source == src {
				t.remove(rs, mid, tr)
				t.emit(Change{Kind: Left, Member: tr.m, At: now})
			}
		}
	}
	for i, mid := range next {
		m := live[i]
		if tr, ok := rs.members[mid]; ok {
			if tr.source != src { // the member moved to another event (e.g. state key form changed)
				rs.sources[tr.source] = without(rs.sources[tr.source], mid)
			}
			tr.m, tr.source = m, src
			t.expiry.Move(tr.entry, m.ExpiresAt)
			t.emit(Change{Kind: Updated, Member: m, At: now})
			continue
		}
		tr := &tracked{m: m, source: src}
		tr.entry = t.expiry.Push(m.ExpiresAt, tr)
		rs.members[mid] = tr
		t.emit(Change{Kind: Joined, Member: m, At: now})
	}
	if len(next) == 0 {
		delete(rs.sources, src)
	} else {
		rs.sources[src] = next
	}
	t.dropIfEmpty(src.Room, rs)
}

func containsID(ids []memberID, mid memberID) bool {
	for _, x := range ids {
		if x == mid {
			return true
		}
	}
	return false
}

func (t *Tracker) applyBatch(b ingest) {
	for _, u := range b.updates {
		t.apply(u.Source, u.Members)
	}
	if !b.full {
		return
	}
	seen := make(map[Source]bool, len(b.updates))
	for _, u := range b.updates {
		seen[u.Source] = true
	}
	for _, rs := range t.rooms {
		for src := range rs.sources {
			if !seen[src] {
				t.apply(src, nil)
			}
		}
	}
}

// expire removes every member whose time has come.
func (t *Tracker) expire() {
	now := t.clock.Now()
	for e := t.expiry.Peek(); e != nil && !e.At.After(now); e = t.expiry.Peek() {
		tr := e.Value
		mid := idOf(tr.m)
		rs := t.room(tr.source.Room)
		t.remove(rs, mid, tr)
		rs.sources[tr.source] = without(rs.sources[tr.source], mid)
		if len(rs.sources[tr.source]) == 0 {
			delete(rs.sources, tr.source)
		}
		t.dropIfEmpty(tr.source.Room, rs)
		t.logger.Debug("membership expired", "room", tr.m.Call.Room, "user", tr.m.UserID, "device", tr.m.DeviceID)
		t.emit(Change{Kind: Expired, Member: tr.m, At: now})
	}
}

func (t *Tracker) remove(rs *roomState, mid memberID, tr *tracked) {
	delete(rs.members, mid)
	t.expiry.Remove(tr.entry)
}

func without(ids []memberID, mid memberID) []memberID {
	out := ids[:0]
	for _, x := range ids {
		if x != mid {
			out = append(out, x)
		}
	}
	return out
}
