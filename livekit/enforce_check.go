package livekit

import (
	"context"
	"log/slog"
	"time"

	"github.com/livekit/protocol/livekit"
)

// enforceState is what the enforcer remembers between checks: since when
// each participant (by room and identity) has been seen without a
// membership, and since when each room has had no member at all.
type enforceState struct {
	strangers map[string]map[string]time.Time // LiveKit room -> identity -> first seen without membership
	empty     map[string]time.Time            // LiveKit room -> first seen with no valid member
}

func newEnforceState() *enforceState {
	return &enforceState{strangers: map[string]map[string]time.Time{}, empty: map[string]time.Time{}}
}

// check compares LiveKit with the memberships once and acts on what has
// been wrong for the whole grace period. It returns when to check next: at
// the end of the earliest running grace period, or after the interval.
func (e *Enforcer) check(ctx context.Context, st *enforceState) time.Duration {
	next := e.cfg.Interval
	members, err := e.members.Snapshot(ctx)
	if err != nil {
		return next
	}
	views := viewsByLiveKitRoom(e.rooms.Rooms(), members)
	lctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	resp, err := e.rs.ListRooms(lctx, &livekit.ListRoomsRequest{})
	cancel()
	if err != nil {
		e.logger.Warn("enforcement: cannot list LiveKit rooms", "error", err)
		return next
	}
	now := e.now()
	seenRooms := map[string]bool{}
	for _, room := range resp.GetRooms() {
		name := room.GetName()
		view := views[name]
		if view == nil {
			continue // not a room of a Matrix room the bot sees: not ours to judge
		}
		seenRooms[name] = true
		wait := e.checkRoom(ctx, st, name, view, now)
		if wait > 0 && wait < next {
			next = wait
		}
	}
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
func (e *Enforcer) checkRoom(ctx context.Context, st *enforceState, name string, view *roomView, now time.Time) time.Duration {
	log := e.logger.With("livekit_room", name, "matrix_room", view.room)
	var wait time.Duration
	pending := func(since time.Time) {
		if left := e.cfg.Grace - now.Sub(since); left > 0 && (wait == 0 || left < wait) {
			wait = left
		}
	}
	if len(view.identities) == 0 {
		since, ok := st.empty[name]
		if !ok {
			since = now
			st.empty[name] = now
		}
		if now.Sub(since) >= e.cfg.Grace {
			e.deleteRoom(ctx, name, log)
			delete(st.empty, name)
			delete(st.strangers, name)
			return 0
		}
		pending(since)
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
	known := st.strangers[name]
	current := map[string]time.Time{}
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
		if now.Sub(since) < e.cfg.Grace {
			current[ident] = since
			pending(since)
			continue
		}
		e.removeParticipant(ctx, name, ident, log)
	}
	if len(current) == 0 {
		delete(st.strangers, name)
	} else {
		st.strangers[name] = current
	}
	return wait
}

func (e *Enforcer) removeParticipant(ctx context.Context, room, ident string, log *slog.Logger) {
	lctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	if _, err := e.rs.RemoveParticipant(lctx, &livekit.RoomParticipantIdentity{Room: room, Identity: ident}); err != nil {
		log.Warn("enforcement: could not remove participant", "identity", ident, "error", err)
		return
	}
	log.Info("enforcement: removed participant", "identity", ident,
		"reason", "no valid Matrix call membership for the whole grace period", "grace", e.cfg.Grace)
}

func (e *Enforcer) deleteRoom(ctx context.Context, name string, log *slog.Logger) {
	lctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	if _, err := e.rs.DeleteRoom(lctx, &livekit.DeleteRoomRequest{Room: name}); err != nil {
		log.Warn("enforcement: could not delete room", "error", err)
		return
	}
	log.Info("enforcement: deleted LiveKit room", "reason", "no valid Matrix call member left for the whole grace period", "grace", e.cfg.Grace)
	if e.cfg.OnRoomDeleted != nil {
		e.cfg.OnRoomDeleted(name)
	}
}
