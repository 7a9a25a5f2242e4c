package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
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
	// Resync says the subscriber fell so far behind that its queued
	// changes were dropped: read Snapshot again. Member is empty.
	Resync
)

func (k ChangeKind) String() string {
	names := [...]string{"unknown", "joined", "updated", "left", "expired", "resync"}
	if k < 0 || int(k) >= len(names) {
		return fmt.Sprintf("ChangeKind(%d)", int(k))
	}
	return names[k]
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

	// Owned by Run.
	rooms  map[id.RoomID]*roomState
	expiry timeheap.Heap[*tracked]
	subs   []*subscriber
	// apply's scratch, reused so that an event allocates nothing it does
	// not keep.
	kept []keptMember
	cur  []*tracked
}

// keptMember is a member of an update that counts: its id and its index in
// the update.
type keptMember struct {
	id memberID
	i  int
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
type forgetSender struct {
	room id.RoomID
	user id.UserID
}

// ForgetSender drops every membership user sent in room (all dialects), as
// when the user leaves the room: a member must be joined to the room, or it
// is a ghost whatever its expiry says (matrixrtc-js.md 1.6 step 3).
func (t *Tracker) ForgetSender(ctx context.Context, room id.RoomID, user id.UserID) error {
	return t.send(ctx, forgetSender{room: room, user: user})
}

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
	return ask(ctx, t, req, req.reply)
}

// snapshotRoomReq asks for one room's live members.
type snapshotRoomReq struct {
	room  id.RoomID
	reply chan []Member
}

// SnapshotRoom returns the live members of one room (none if it has no
// call), at the cost of that room alone: a filtered subscriber re-reads
// its rooms with it after a Resync.
func (t *Tracker) SnapshotRoom(ctx context.Context, room id.RoomID) ([]Member, error) {
	req := snapshotRoomReq{room: room, reply: make(chan []Member, 1)}
	return ask(ctx, t, req, req.reply)
}

// members copies the room's members; a nil room has none.
func (rs *roomState) members() []Member {
	if rs == nil {
		return nil
	}
	out := make([]Member, 0, len(rs.all)+len(rs.byID))
	if rs.indexed() {
		for _, tr := range rs.byID {
			out = append(out, tr.m)
		}
		return out
	}
	for _, tr := range rs.all {
		out = append(out, tr.m)
	}
	return out
}

// countSubs asks Run how many subscribers it has (tests).
type countSubs chan int

// flushReq is closed by Run once it has handled every message sent before.
type flushReq chan struct{}

// Flush waits until the tracker has applied every call made before it (to
// see one's own Ingest in a later read, or to time ingest), at the cost of
// one round trip and no copy of the state.
func (t *Tracker) Flush(ctx context.Context) error {
	req := make(flushReq)
	_, err := ask(ctx, t, req, req)
	return err
}

// ask sends msg to Run and waits for its answer on reply.
func ask[R any](ctx context.Context, t *Tracker, msg any, reply <-chan R) (R, error) {
	var zero R
	if err := t.send(ctx, msg); err != nil {
		return zero, err
	}
	select {
	case r := <-reply:
		return r, nil
	case <-t.done:
		return zero, ErrClosed
	case <-ctx.Done():
		return zero, ctx.Err()
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
					for _, src := range rs.sources() {
						t.apply(src, nil)
					}
				}
			case forgetSender:
				if rs := t.rooms[msg.room]; rs != nil {
					for _, src := range rs.sourcesOf(msg.user) {
						t.apply(src, nil)
					}
				}
			case snapshotReq:
				out := make([]Member, 0, t.expiry.Len())
				t.expiry.All(func(e *timeheap.Entry[*tracked]) { out = append(out, e.Value.m) })
				msg.reply <- out
			case snapshotRoomReq:
				msg.reply <- t.rooms[msg.room].members()
			case flushReq:
				close(msg)
			case *subscriber:
				t.subs = append(t.subs, msg)
				wg.Go(func() { msg.pump(t) })
			case countSubs:
				msg <- len(t.subs)
			case unsubscribe:
				t.subs = slices.DeleteFunc(t.subs, func(s *subscriber) bool { return s == msg.s })
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
// codecs), so plain lists beat maps here.
func (t *Tracker) apply(src Source, members []Member) {
	now := t.clock.Now()
	kept := t.kept[:0]
	for i := range members {
		m := &members[i]
		mid := idOf(*m)
		if !m.ExpiresAt.After(now) || containsID(kept, mid) {
			continue // already expired (never counted), or a duplicate entry
		}
		kept = append(kept, keptMember{id: mid, i: i})
	}
	rs := t.rooms[src.Room]
	if rs == nil && len(kept) > 0 {
		rs = &roomState{}
		t.rooms[src.Room] = rs
	}
	if rs != nil {
		t.applyRoom(rs, src, members, kept, now)
	}
	clear(kept) // hold no strings between calls
	t.kept = kept[:0]
}

// applyRoom is apply once the room exists: kept are the members that count.
func (t *Tracker) applyRoom(rs *roomState, src Source, members []Member, kept []keptMember, now time.Time) {
	old := rs.carried(src, t.cur[:0])
	for _, tr := range old {
		if !containsID(kept, idOf(tr.m)) {
			t.remove(rs, tr)
			t.notify(Left, &tr.m, now)
		}
	}
	cur := old[:0]
	for _, k := range kept {
		m := &members[k.i]
		tr := rs.find(k.id)
		if tr != nil {
			if tr.source != src { // the member moved to another event (e.g. state key form changed)
				rs.detach(tr)
			}
			tr.m, tr.source = *m, src
			t.expiry.Move(&tr.entry, m.ExpiresAt)
			t.notify(Updated, m, now)
		} else {
			tr = &tracked{m: *m, source: src}
			tr.entry.Value = tr
			t.expiry.Schedule(&tr.entry, m.ExpiresAt)
			rs.add(tr, k.id)
			t.notify(Joined, m, now)
		}
		cur = append(cur, tr)
	}
	rs.setSource(src, cur)
	if rs.empty() {
		delete(t.rooms, src.Room)
	}
	clear(cur)
	t.cur = cur[:0]
}

// notify emits a change; with no subscriber it costs nothing.
func (t *Tracker) notify(kind ChangeKind, m *Member, at time.Time) {
	if len(t.subs) > 0 {
		t.emit(Change{Kind: kind, Member: *m, At: at})
	}
}

func containsID(kept []keptMember, mid memberID) bool {
	for _, k := range kept {
		if k.id == mid {
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
		for _, src := range rs.sources() {
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
		rs := t.rooms[tr.source.Room]
		t.remove(rs, tr)
		if rs.empty() {
			delete(t.rooms, tr.source.Room)
		}
		t.logger.Debug("membership expired", "room", tr.m.Call.Room, "user", tr.m.UserID, "device", tr.m.DeviceID)
		t.notify(Expired, &tr.m, now)
	}
}

func (t *Tracker) remove(rs *roomState, tr *tracked) {
	rs.delete(tr)
	t.expiry.Remove(&tr.entry)
}
