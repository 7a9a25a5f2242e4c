package membership

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

// Feed turns the bot's sync stream into tracker updates: each call-member
// state event (either dialect) or sticky member event is decoded, refused
// entries are logged with their reason, and one sync batch becomes one
// tracker batch (a snapshot when the sync was initial).
type Feed struct {
	logger  *slog.Logger
	tracker *Tracker
	roster  *Roster
	ready   chan struct{} // closed once the first sync is in the tracker
	invites *InviteLog    // optional
	health  syncHealth
}

// NewFeed returns a feed into tracker and roster (who is joined where), and
// into invites (may be nil) which rooms the bot was invited to.
func NewFeed(logger *slog.Logger, tracker *Tracker, roster *Roster, invites *InviteLog) *Feed {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Feed{logger: logger, tracker: tracker, roster: roster, ready: make(chan struct{}), invites: invites,
		health: syncHealth{now: time.Now}}
}

// Ready is closed once the first sync response (the full state of every
// joined room, or the delta since the persisted position) is in the
// tracker and the roster.
func (f *Feed) Ready() <-chan struct{} { return f.ready }

// Run consumes events until the channel closes or ctx ends.
func (f *Feed) Run(ctx context.Context, events <-chan matrixbot.Event) error {
	b := newPending()
	for {
		var ev matrixbot.Event
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case ev, ok = <-events:
			if !ok {
				return nil
			}
		}
		switch ev.Kind {
		case matrixbot.KindState, matrixbot.KindTimeline:
			if b.left[ev.RoomID] {
				continue // the bot left the room in this batch: its last events judge nothing
			}
			if f.unreadable(ev) {
				continue
			}
			if c, ok := roomMember(ev); ok {
				b.joins = append(b.joins, c)
			} else if u, ok := f.decode(ev); ok {
				b.updates = append(b.updates, u)
			}
		case matrixbot.KindMembership:
			b.botMembership(ev)
			if err := f.botMembership(ctx, ev); err != nil {
				return err
			}
		case matrixbot.KindSyncFailed:
			f.health.failed()
		case matrixbot.KindSyncDone:
			if err := f.commit(ctx, b, ev.Initial); err != nil {
				return ignoreClosed(err)
			}
			f.roster.settleUnreadable()
			b = newPending()
			f.health.done()
			select {
			case <-f.ready:
			default:
				close(f.ready)
			}
		}
	}
}

// dropUnjoined empties updates whose sender is not joined to the room (in
// rooms whose members the roster knows): a membership counts only while its
// sender is in the room, as MatrixRTC clients require, and for Famedly too,
// since a user who left cannot be in the call.
func (f *Feed) dropUnjoined(batch []Update) {
	for i := range batch {
		u := &batch[i]
		if len(u.Members) == 0 || !f.roster.Knows(u.Source.Room) {
			continue
		}
		if sender := u.Members[0].UserID; !f.roster.Joined(u.Source.Room, sender) {
			f.logger.Info("call membership refused", "room", u.Source.Room, "sender", sender,
				"state_key", u.Source.StateKey, "reason", "the sender is not joined to the room")
			u.Members = nil
		}
	}
}

// botMembership follows the bot's own membership: an invite is logged for
// the join policy; leaving a room forgets everything about it.
func (f *Feed) botMembership(ctx context.Context, ev matrixbot.Event) error {
	switch ev.Membership {
	case event.MembershipInvite:
		if f.invites != nil {
			if err := f.invites.record(ctx, ev.RoomID, ev.Sender); err != nil {
				f.logger.Warn("could not record an invite", "room", ev.RoomID, "error", err)
			}
		}
	case event.MembershipLeave, event.MembershipBan:
		f.roster.forget(ev.RoomID)
		if f.invites != nil {
			if err := f.invites.forget(ctx, ev.RoomID); err != nil {
				f.logger.Warn("could not forget an invite", "room", ev.RoomID, "error", err)
			}
		}
		if err := f.tracker.ForgetRoom(ctx, ev.RoomID); err != nil {
			return ignoreClosed(err)
		}
	}
	return nil
}

// decode reads one event into an update, or reports that it is not a
// call-member event.
func (f *Feed) decode(ev matrixbot.Event) (Update, bool) {
	e := ev.Evt
	if e == nil {
		return Update{}, false
	}
	room := ev.RoomID
	content := e.Content.VeryRaw
	origin := time.UnixMilli(e.Timestamp)
	switch {
	case e.Type.Type == FamedlyEventType && e.StateKey != nil:
		members, refused := ParseFamedly(room, e.Sender, *e.StateKey, content)
		f.logRefused(ev, refused...)
		return Update{Source: Source{Room: room, EventType: FamedlyEventType, StateKey: *e.StateKey}, Members: members}, true
	case e.Type.Type == MatrixRTCEventType && e.StateKey != nil:
		m, err := ParseMatrixRTC(room, e.Sender, *e.StateKey, content, origin)
		f.logRefused(ev, err)
		return Update{Source: Source{Room: room, EventType: MatrixRTCEventType, StateKey: *e.StateKey}, Members: one(m)}, true
	case e.Type.Type == RTCStickyEventType && e.StateKey == nil:
		return f.decodeSticky(ev)
	}
	return Update{}, false
}

// roomMember reads an m.room.member state event of a room the bot is in
// (invites carry stripped state of rooms it is not in: skipped).
func roomMember(ev matrixbot.Event) (MemberChange, bool) {
	e := ev.Evt
	if ev.Kind != matrixbot.KindState || ev.Source == matrixbot.SourceInvite || e == nil ||
		e.Type != event.StateMember || e.StateKey == nil {
		return MemberChange{}, false
	}
	var c struct {
		Membership string `json:"membership"`
	}
	_ = json.Unmarshal(e.Content.VeryRaw, &c) // anything unreadable counts as not joined
	return MemberChange{Room: ev.RoomID, User: id.UserID(*e.StateKey), Joined: c.Membership == string(event.MembershipJoin)}, true
}

func (f *Feed) logRefused(ev matrixbot.Event, errs ...error) {
	for _, err := range errs {
		if err != nil {
			f.logger.Info("call membership refused", "room", ev.RoomID, "sender", ev.Evt.Sender, "event_id", ev.Evt.ID, "reason", err.Error())
		}
	}
}

func one(m *Member) []Member {
	if m == nil {
		return nil
	}
	return []Member{*m}
}

func ignoreClosed(err error) error {
	if err == ErrClosed || err == context.Canceled {
		return nil
	}
	return err
}
