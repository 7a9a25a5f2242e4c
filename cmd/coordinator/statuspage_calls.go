package main

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/statuspage"
	"github.com/switchboard-rtc/switchboard/membership"
)

// gatherCalls fills the calls (members from the tracker, our seats and the
// supervisor's decisions, each engine's state, the keys held) and the
// recent key refusals.
func (p *statusPage) gatherCalls(ctx context.Context, v *statuspage.View) {
	if p.bp == nil {
		v.CallsUnavailable = "needs the Matrix bot (matrix.homeserver_url)"
		v.RefusalsUnavailable = v.CallsUnavailable
		return
	}
	members, err := p.bp.tracker.Snapshot(ctx)
	if err != nil {
		v.CallsUnavailable = "the membership tracker did not answer: " + err.Error()
	}
	keys := p.bp.keys.Report(e2ee.ReportFilter{})
	for i := len(keys.Refusals) - 1; i >= 0; i-- { // newest first
		r := keys.Refusals[i]
		v.Refusals = append(v.Refusals, statuspage.Refusal{At: r.At, Room: string(r.Room), UserID: string(r.UserID),
			DeviceID: string(r.DeviceID), Reason: r.Reason.String()})
	}
	if err != nil {
		return
	}
	self, _ := p.bp.bot.Self()
	byKey := map[membership.CallKey]*statuspage.Call{}
	call := func(k membership.CallKey) *statuspage.Call {
		c := byKey[k]
		if c == nil {
			c = &statuspage.Call{RoomID: string(k.Room), CallID: k.CallID, Application: k.Application}
			byKey[k] = c
		}
		return c
	}
	for _, m := range members {
		c := call(m.Call)
		if d := m.Dialect.String(); !slices.Contains(c.Dialects, d) {
			c.Dialects = append(c.Dialects, d)
		}
		c.Members = append(c.Members, statuspage.Member{UserID: string(m.UserID), DeviceID: string(m.DeviceID),
			Dialect: m.Dialect.String(), MembershipID: m.MembershipID, ExpiresAt: m.ExpiresAt,
			KeysHeld: keysHeld(keys, m), Ours: m.UserID == self})
	}
	if p.sup != nil {
		for _, s := range p.sup.Seats() {
			k := membership.CallKey{Room: id.RoomID(s.Room), Application: s.Application, CallID: s.CallID, Scope: s.Scope}
			c := call(k)
			c.Seats = append(c.Seats, statuspage.Seat{Dialect: s.Dialect, State: s.State, Reason: s.Reason,
				MembershipID: s.MembershipID, DelayedLeave: s.DelayedLeave, LeaveDelay: s.LeaveDelay,
				LastRestart: s.LastRestart, RestartFailures: s.RestartFailures,
				JoinedAt: s.JoinedAt, LastWrite: s.LastWrite, LastError: s.LastError})
		}
		for _, d := range p.sup.Decisions() {
			k := membership.CallKey{Room: id.RoomID(d.Room), Application: d.Application, CallID: d.CallID, Scope: d.Scope}
			c := call(k)
			c.Decision, c.Reason, c.Engine, c.Features = d.State, d.Reason, d.Engine, d.Features
		}
	}
	p.engineStates(byKey)
	for _, pr := range keys.Participants {
		k := membership.CallKey{Room: pr.Room, Application: pr.Application, CallID: pr.CallID, Scope: pr.Scope}
		c := byKey[k]
		if c == nil {
			continue // keys of a call no longer tracked
		}
		h := statuspage.KeyHolder{Identity: pr.Identity, Current: pr.CurrentIndex}
		for _, ki := range pr.Keys {
			h.Keys = append(h.Keys, statuspage.Key{Index: ki.Index, Arrived: ki.ArrivedAt})
		}
		c.Keys = append(c.Keys, h)
	}
	rooms := make([]id.RoomID, 0, len(byKey))
	for k := range byKey {
		rooms = append(rooms, k.Room)
	}
	names := p.names.lookup(ctx, p.bp, rooms)
	for _, c := range byKey {
		n := names[id.RoomID(c.RoomID)]
		c.RoomName = n.name
		for i := range c.Members {
			c.Members[i].DisplayName = n.display[id.UserID(c.Members[i].UserID)]
		}
		slices.SortFunc(c.Members, func(a, b statuspage.Member) int {
			return cmp.Or(cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.DeviceID, b.DeviceID))
		})
		v.Calls = append(v.Calls, *c)
	}
	slices.SortFunc(v.Calls, func(a, b statuspage.Call) int {
		return cmp.Or(cmp.Compare(a.RoomID, b.RoomID), cmp.Compare(a.CallID, b.CallID), cmp.Compare(a.Application, b.Application))
	})
}

// engineStates sets each call's state in the engine carrying it.
func (p *statusPage) engineStates(byKey map[membership.CallKey]*statuspage.Call) {
	find := func(room, callID string) *statuspage.Call {
		for k, c := range byKey {
			if string(k.Room) == room && k.CallID == callID {
				return c
			}
		}
		return nil
	}
	if p.lk != nil {
		for _, s := range p.lk.Calls() {
			if c := find(s.Room, s.CallID); c != nil {
				c.Engine, c.EngineState, c.EngineError = "livekit", s.State, s.Error
				c.Features = s.Features
			}
		}
	}
	if p.mesh != nil {
		for _, s := range p.mesh.Calls() {
			if c := find(s.Room, s.CallID); c != nil {
				c.Engine, c.EngineState, c.Features = "mesh", s.State, s.Features
			}
		}
	}
}

// keysHeld lists the key indices held for m's device in its call.
func keysHeld(r e2ee.Report, m membership.Member) []int {
	var out []int
	for _, p := range r.Participants {
		if p.Room == m.Call.Room && p.CallID == m.Call.CallID && p.Application == m.Call.Application &&
			p.UserID == m.UserID && p.DeviceID == m.DeviceID {
			for _, k := range p.Keys {
				out = append(out, k.Index)
			}
		}
	}
	return out
}

// nameCacheTTL is how long a room's name and members' display names are
// reused before the homeserver is asked again; nameLookupsPerView bounds
// the lookups of one rendering (the rest wait for the next).
const (
	nameCacheTTL       = 30 * time.Second
	nameLookupsPerView = 8
)

// roomLabel is what the homeserver says of a room: its name and its
// members' display names. Both are attacker-controlled text.
type roomLabel struct {
	at      time.Time
	name    string
	display map[id.UserID]string
}

// nameCache keeps room and display names for the status page.
type nameCache struct {
	mu    sync.Mutex
	rooms map[id.RoomID]roomLabel
}

func newNameCache() *nameCache { return &nameCache{rooms: map[id.RoomID]roomLabel{}} }

// lookup returns the labels of rooms, asking the homeserver (within
// statusNamesTimeout) for those not known lately; a failed lookup leaves
// the names out and is tried again next time. Rooms not asked for are
// forgotten.
func (n *nameCache) lookup(ctx context.Context, bp *botParts, rooms []id.RoomID) map[id.RoomID]roomLabel {
	ctx, cancel := context.WithTimeout(ctx, statusNamesTimeout)
	defer cancel()
	now := time.Now()
	out := make(map[id.RoomID]roomLabel, len(rooms))
	var stale []id.RoomID
	n.mu.Lock()
	for _, r := range rooms {
		if _, dup := out[r]; dup {
			continue
		}
		l := n.rooms[r]
		out[r] = l
		if now.Sub(l.at) > nameCacheTTL {
			stale = append(stale, r)
		}
	}
	n.mu.Unlock()
	if cli := bp.bot.Client(); cli != nil {
		for i, r := range stale {
			if i >= nameLookupsPerView || ctx.Err() != nil {
				break
			}
			resp, err := cli.JoinedMembers(ctx, r)
			if err != nil {
				continue
			}
			l := roomLabel{at: now, display: make(map[id.UserID]string, len(resp.Joined))}
			for u, m := range resp.Joined {
				l.display[u] = m.DisplayName
			}
			var name event.RoomNameEventContent
			if cli.StateEvent(ctx, r, event.StateRoomName, "", &name) == nil { // a room without a name has none
				l.name = name.Name
			}
			out[r] = l
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rooms = make(map[id.RoomID]roomLabel, len(out))
	for r, l := range out {
		if !l.at.IsZero() {
			n.rooms[r] = l
		}
	}
	return out
}
