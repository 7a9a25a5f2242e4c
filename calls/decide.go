package calls

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// Decision is what the supervisor decided for one seat we could take (a
// call, in one dialect), and why.
type Decision struct {
	Room        string    `json:"room_id"`
	Application string    `json:"application"`
	CallID      string    `json:"call_id"`
	Scope       string    `json:"scope"`
	Dialect     string    `json:"dialect"`
	State       string    `json:"state"` // joined, refused, uncarried
	Engine      string    `json:"engine,omitempty"`
	FocusType   string    `json:"focus_type,omitempty"`
	Reason      string    `json:"reason"`
	Since       time.Time `json:"since"`
	// Features are the media features a joined call has (config and room
	// commands).
	Features []string `json:"features,omitempty"`
}

// Decision states.
const (
	StateJoined    = "joined"    // we hold the seat; an engine carries the call
	StateRefused   = "refused"   // a bound on our seats
	StateUncarried = "uncarried" // no engine can carry the call now
)

// carriage is one call an engine carries for us.
type carriage struct {
	engine Engine
	focus  membership.Focus
}

// state is one Run's, owned by its goroutine.
type state struct {
	self      id.UserID
	live      map[memberID]membership.Member
	limits    *seatLimits
	carried   map[membership.CallKey]carriage
	decisions map[membership.SeatKey]Decision
	features  map[membership.CallKey]*callFeatures

	// The room commands' overrides, kept across restarts by Config.Store
	// when there is one. joins: !call join (true) or leave (false); echo:
	// !call echo on|off, for the room's calls now and later; record: !call
	// record start|stop, for one call, forgotten when we leave it.
	joins  map[id.RoomID]bool
	echo   map[id.RoomID]bool
	record map[membership.CallKey]bool
	// saved is what the store last took; storeBroken: it could not be
	// read, so it is left as it was.
	saved       []Override
	storeBroken bool
}

// memberID names one membership in the tracker's view.
type memberID struct {
	call     membership.CallKey
	dialect  membership.Dialect
	user     id.UserID
	device   id.DeviceID
	stateKey string
}

func idOf(m membership.Member) memberID {
	return memberID{call: m.Call, dialect: m.Dialect, user: m.UserID, device: m.DeviceID, stateKey: m.StateKey}
}

func newState(self id.UserID, cfg Config) *state {
	return &state{self: self, live: map[memberID]membership.Member{}, limits: newSeatLimits(cfg.MaxSeatsPerRoom, cfg.MaxSeats),
		carried: map[membership.CallKey]carriage{}, decisions: map[membership.SeatKey]Decision{},
		features: map[membership.CallKey]*callFeatures{}, joins: map[id.RoomID]bool{}, echo: map[id.RoomID]bool{},
		record: map[membership.CallKey]bool{}}
}

func (st *state) reload(ctx context.Context, members Members) error {
	ms, err := members.Snapshot(ctx)
	if err != nil {
		return err
	}
	clear(st.live)
	for _, m := range ms {
		st.live[idOf(m)] = m
	}
	return nil
}

func (st *state) note(c membership.Change) {
	switch c.Kind {
	case membership.Joined, membership.Updated:
		st.live[idOf(c.Member)] = c.Member
	case membership.Left, membership.Expired:
		delete(st.live, idOf(c.Member))
	}
}

// decide makes every decision again from the live members, the policy,
// the engines and the bounds, and tells the seat writer and the engines.
// It reports whether a call waits for our membership to be written before
// its engine may take it.
func (s *Supervisor) decide(st *state) bool {
	now := s.cfg.Clock.Now()
	others := make([]membership.Member, 0, len(st.live))
	for _, m := range st.live {
		others = append(others, m)
	}
	want := wantedSeats(others, st.self, func(room id.RoomID) bool { return s.allows(st, room) })
	next := map[membership.SeatKey]Decision{}
	carriable := map[membership.SeatKey]membership.Member{}
	focusOf := map[membership.CallKey]carriage{}
	for k, tmpl := range want {
		d := decisionOf(k)
		focus, ok := callFocus(tmpl)
		if !ok {
			d.State, d.Reason = StateUncarried, "the call's members name no focus"
			next[k] = d
			continue
		}
		d.FocusType = focus.Type
		eng, why := s.pick(st, k.Call, focus)
		if eng == nil {
			d.State, d.Reason = StateUncarried, why
			next[k] = d
			continue
		}
		d.Engine = eng.Name()
		next[k] = d
		carriable[k] = tmpl
		focusOf[k.Call] = carriage{engine: eng, focus: focus}
	}
	granted, fresh := st.limits.grant(carriable, func(k membership.SeatKey) bool {
		return st.decisions[k].State == StateJoined
	}, now)
	for k, reason := range fresh {
		s.logger.Warn("refusing a seat in a call", "room", k.Call.Room, "call_id", k.Call.CallID, "dialect", k.Dialect.String(),
			"reason", reason)
	}
	refused := st.limits.refusals()
	specs := make(map[membership.SeatKey]membership.SeatSpec, len(granted))
	calls := map[membership.CallKey]carriage{}
	for k := range carriable {
		d := next[k]
		if reason, ok := refused[k]; ok {
			d.State, d.Reason = StateRefused, reason
			next[k] = d
			continue
		}
		why := fmt.Sprintf("policy %s allows it", s.cfg.Policy.Mode(k.Call.Room))
		if st.joins[k.Call.Room] {
			why = "a room command (" + Command{Verb: VerbJoin}.String() + ") asks for it"
		}
		d.State, d.Reason = StateJoined, fmt.Sprintf("%s and engine %s carries %s calls", why, d.Engine, d.FocusType)
		d.Features = st.featureNames(s.cfg.Features, k.Call)
		next[k] = d
		specs[k] = membership.SeatSpec{Foci: seatFoci(k.Dialect, granted[k])}
		calls[k.Call] = focusOf[k.Call]
	}
	for call := range st.record {
		if _, ok := calls[call]; !ok {
			delete(st.record, call) // a recording command was for that call only
		}
	}
	s.seats.Hold(specs)
	waiting := s.steer(st, calls)
	s.setFeatures(st)
	s.record(st, next, refused, now)
	return waiting
}

// pick chooses the engine for call: the one carrying it already while it
// still can (a health blip does not move a call), else the first healthy
// engine that can. It says why when none can.
func (s *Supervisor) pick(st *state, call membership.CallKey, focus membership.Focus) (Engine, string) {
	if c, ok := st.carried[call]; ok && c.engine.CanCarry(focus) {
		return c.engine, ""
	}
	why := fmt.Sprintf("no engine carries a %q focus", focus.Type)
	for _, e := range s.engines {
		if !e.CanCarry(focus) {
			continue
		}
		if ok, reason := e.Health(); !ok {
			why = fmt.Sprintf("engine %s is not healthy: %s", e.Name(), reason)
			continue
		}
		return e, ""
	}
	return nil, why
}

// steer tells the engines the calls to carry now: new ones and focus
// changes are carried, the rest released. An engine takes a call only once
// our membership there is written (members see who we are before we show
// up in the media); it reports whether a call is still waiting for that.
func (s *Supervisor) steer(st *state, calls map[membership.CallKey]carriage) (waiting bool) {
	for call, c := range st.carried {
		if n, ok := calls[call]; !ok || n.engine != c.engine {
			c.engine.Release(call)
			delete(st.carried, call)
			delete(st.features, call)
		}
	}
	var written map[membership.CallKey]bool
	for call, n := range calls {
		c, carried := st.carried[call]
		if carried && c.focus == n.focus {
			continue
		}
		if !carried {
			if written == nil {
				written = s.writtenCalls()
			}
			if !written[call] {
				waiting = true
				continue
			}
		}
		n.engine.Carry(call, n.focus)
		st.carried[call] = n
		if f := st.features[call]; f != nil {
			f.told = false // tell the features again after every Carry
		}
	}
	return waiting
}

// writtenCalls are the calls where the seat writer has written a
// membership of ours.
func (s *Supervisor) writtenCalls() map[membership.CallKey]bool {
	out := map[membership.CallKey]bool{}
	for _, seat := range s.seats.Seats() {
		if seat.State == "joined" {
			out[membership.CallKey{Room: id.RoomID(seat.Room), Application: seat.Application, CallID: seat.CallID, Scope: seat.Scope}] = true
		}
	}
	return out
}

// record keeps the decisions (a decision's Since is when its state last
// changed), logs the changes, and publishes a copy for the admin view.
func (s *Supervisor) record(st *state, next map[membership.SeatKey]Decision, refused map[membership.SeatKey]string, now time.Time) {
	for k, d := range next {
		old, ok := st.decisions[k]
		if ok && old.State == d.State && old.Engine == d.Engine && old.Reason == d.Reason {
			d.Since = old.Since
		} else {
			d.Since = now.UTC()
			if d.State == StateUncarried && (!ok || old.Reason != d.Reason) {
				s.logger.Info("not joining call", "room", k.Call.Room, "call_id", k.Call.CallID, "dialect", k.Dialect.String(),
					"reason", d.Reason)
			}
		}
		next[k] = d
	}
	st.decisions = next
	view := make([]Decision, 0, len(next))
	for _, d := range next {
		view = append(view, d)
	}
	sort.Slice(view, func(i, j int) bool {
		a, b := view[i], view[j]
		if a.Room != b.Room {
			return a.Room < b.Room
		}
		if a.CallID != b.CallID {
			return a.CallID < b.CallID
		}
		return a.Dialect < b.Dialect
	})
	overrides := st.overrides()
	s.mu.Lock()
	s.view, s.refused, s.overrides = view, maps.Clone(refused), overrides
	s.mu.Unlock()
}

func decisionOf(k membership.SeatKey) Decision {
	return Decision{Room: string(k.Call.Room), Application: k.Call.Application, CallID: k.Call.CallID,
		Scope: k.Call.Scope, Dialect: k.Dialect.String()}
}
