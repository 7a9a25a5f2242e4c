package livekit

import (
	"context"
	"log/slog"
	"time"

	"github.com/livekit/protocol/livekit"
	"maunium.net/go/mautrix/id"
)

// enforceState is what the enforcer remembers between checks: since when
// each participant (by room and identity) has been seen without a
// membership, since when each room has had no member at all, and what it
// last said about pausing, so that is said once.
type enforceState struct {
	strangers map[string]map[string]time.Time // LiveKit room -> identity -> first seen without membership
	empty     map[string]time.Time            // LiveKit room -> first seen with no valid member
	paused    bool                            // the last check was skipped: sync not current
	held      map[id.RoomID]bool              // Matrix rooms skipped last time: unreadable events
}

func newEnforceState() *enforceState {
	return &enforceState{strangers: map[string]map[string]time.Time{}, empty: map[string]time.Time{},
		held: map[id.RoomID]bool{}}
}

// check compares LiveKit with the memberships once and acts on what has
// been wrong for the whole grace period. It returns when to check next: at
// the end of the earliest running grace period, or after the interval.
func (e *Enforcer) check(ctx context.Context, st *enforceState) time.Duration {
	next := e.cfg.Interval
	if !e.matrix.Current() {
		if !st.paused {
			e.logger.Warn("enforcement paused: the bot's view of Matrix is not current (sync failing or behind); nobody is judged until it is")
			st.paused = true
		}
		return next
	}
	if st.paused {
		e.logger.Info("enforcement resumed: the bot's sync is current again")
		st.paused = false
	}
	members, err := e.members.Snapshot(ctx)
	if err != nil {
		return next
	}
	rooms := e.matrix.Rooms()
	views := viewsByLiveKitRoom(rooms, members)
	now := e.clock.Now()
	for name, v := range views {
		e.names.note(name, v.room, now)
	}
	lctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	resp, err := e.rs.ListRooms(lctx, &livekit.ListRoomsRequest{})
	cancel()
	if err != nil {
		e.logger.Warn("enforcement: cannot list LiveKit rooms", "error", err)
		return next
	}
	now = e.clock.Now()
	byRoom := viewsByMatrixRoom(views)
	seenRooms := map[string]bool{}
	held := map[id.RoomID]bool{}
	for _, room := range resp.GetRooms() {
		name := room.GetName()
		seenRooms[name] = true
		view := views[name]
		if view == nil {
			// A name only the JWT service knows (a token's slot, a named
			// call whose members all left): judged if its room is ours.
			if mroom, ok := e.names.lookup(name); ok {
				view = byRoom[mroom]
			}
		}
		if view == nil {
			continue // not a room of a Matrix room the bot sees: not ours to judge
		}
		if n := e.matrix.Unreadable(view.room); n > 0 {
			if !st.held[view.room] {
				e.logger.Info("enforcement: room not judged while some of its events cannot be read yet",
					"matrix_room", view.room, "unreadable", n)
			}
			held[view.room] = true
			continue
		}
		wait := e.checkRoom(ctx, st, name, view, now)
		if wait > 0 && wait < next {
			next = wait
		}
	}
	st.held = held
	e.names.prune(seenRooms, now, e.cfg.NameRetention)
	for name := range st.strangers {
		if !seenRooms[name] {
			delete(st.strangers, name)
		}
	}
	for name := range st.empty {
		if !seenRooms[name] {
			delete(st.empty, name)
		}
	}
	return next
}

// checkRoom judges one LiveKit room; it returns how long until a grace
// period there ends (0 when none is running).
//
// Each participant without a membership gets the whole grace period from
// when it was first seen, whenever the room was made: a room with no valid
// member is deleted only once every participant in it has had its grace
// (and the room itself has been without a member for the grace period). A
// room with nobody in it is left to LiveKit's empty timeout.
func (e *Enforcer) checkRoom(ctx context.Context, st *enforceState, name string, view *roomView, now time.Time) time.Duration {
	log := e.logger.With("livekit_room", name, "matrix_room", view.room)
	var wait time.Duration
	pending := func(since time.Time) {
		if left := e.cfg.Grace - now.Sub(since); left > 0 && (wait == 0 || left < wait) {
			wait = left
		}
	}
	noMember := len(view.identities) == 0
	if noMember {
		if _, ok := st.empty[name]; !ok {
			st.empty[name] = now
		}
		pending(st.empty[name])
	} else {
		delete(st.empty, name)
	}
	lctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	resp, err := e.rs.ListParticipants(lctx, &livekit.ListParticipantsRequest{Room: name})
	cancel()
	if err != nil {
		log.Warn("enforcement: cannot list participants", "error", err)
		return wait
	}
	if e.cfg.Observer != nil {
		e.cfg.Observer.ObserveRoom(name, present(resp.GetParticipants()), now)
	}
	known := st.strangers[name]
	current := map[string]time.Time{}
	var due []string // strangers whose grace has passed
	for _, p := range resp.GetParticipants() {
		ident := p.GetIdentity()
		if p.GetKind() != livekit.ParticipantInfo_STANDARD || p.GetState() == livekit.ParticipantInfo_DISCONNECTED ||
			view.identities[ident] {
			continue // server-side participants (egress, agents, SIP) and members are fine
		}
		since, ok := known[ident]
		if !ok {
			since = now
			log.Info("enforcement: participant has no valid call membership; removing it after the grace period",
				"identity", ident, "grace", e.cfg.Grace)
		}
		current[ident] = since
		if now.Sub(since) < e.cfg.Grace {
			pending(since)
			continue
		}
		due = append(due, ident)
	}
	st.strangers[name] = current
	if noMember && len(resp.GetParticipants()) > 0 && len(due) == len(current) && now.Sub(st.empty[name]) >= e.cfg.Grace {
		e.deleteRoom(ctx, name, log)
		delete(st.empty, name)
		delete(st.strangers, name)
		return 0
	}
	for _, ident := range due {
		if e.removeParticipant(ctx, name, ident, log) {
			delete(current, ident)
		}
	}
	if len(current) == 0 {
		delete(st.strangers, name)
	}
	return wait
}

func (e *Enforcer) removeParticipant(ctx context.Context, room, ident string, log *slog.Logger) bool {
	lctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	_, err := e.rs.RemoveParticipant(lctx, &livekit.RoomParticipantIdentity{Room: room, Identity: ident})
	e.cfg.Metrics.enforced(actionRemoveParticipant, err)
	if err != nil {
		log.Warn("enforcement: could not remove participant", "identity", ident, "error", err)
		return false
	}
	log.Info("enforcement: removed participant", "identity", ident,
		"reason", "no valid Matrix call membership for the whole grace period", "grace", e.cfg.Grace)
	e.noted(ActionRemoved, room, ident)
	return true
}

func (e *Enforcer) deleteRoom(ctx context.Context, name string, log *slog.Logger) {
	lctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	_, err := e.rs.DeleteRoom(lctx, &livekit.DeleteRoomRequest{Room: name})
	e.cfg.Metrics.enforced(actionDeleteRoom, err)
	if err != nil {
		log.Warn("enforcement: could not delete room", "error", err)
		return
	}
	log.Info("enforcement: deleted LiveKit room",
		"reason", "no valid Matrix call member, and every participant had the whole grace period", "grace", e.cfg.Grace)
	e.noted(ActionDeleted, name, "")
	if e.cfg.OnRoomDeleted != nil {
		e.cfg.OnRoomDeleted(name)
	}
}

// present lists the identities of participants not already disconnecting,
// as a RoomObserver is told them.
func present(ps []*livekit.ParticipantInfo) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p.GetState() != livekit.ParticipantInfo_DISCONNECTED {
			out = append(out, p.GetIdentity())
		}
	}
	return out
}
