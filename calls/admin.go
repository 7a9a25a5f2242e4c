package calls

import (
	"net/http"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/membership"
)

// Decisions lists the latest decision for every seat we could take.
func (s *Supervisor) Decisions() []Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Decision(nil), s.view...)
}

// Seats lists our memberships as the seat writer reports them, and the
// seats refused by a bound (state "refused", with the reason).
func (s *Supervisor) Seats() []membership.SeatStatus {
	out := s.seats.Seats()
	s.mu.Lock()
	for k, reason := range s.refused {
		st := membership.NewSeatStatus(k)
		st.State, st.Reason = StateRefused, reason
		out = append(out, st)
	}
	s.mu.Unlock()
	membership.SortSeats(out)
	return out
}

// EngineView is one engine's state for the admin view.
type EngineView struct {
	Name    string            `json:"name"`
	Healthy bool              `json:"healthy"`
	Reason  string            `json:"reason,omitempty"`
	Calls   []EngineCallState `json:"calls"`
}

// EngineCallState is one call an engine carries.
type EngineCallState struct {
	Room   string `json:"room_id"`
	CallID string `json:"call_id"`
	State  string `json:"state"`
}

// AdminHandler serves GET /admin/v1/supervisor: every decision with its
// reason and features, each engine's health and calls, and the room
// commands in force.
func (s *Supervisor) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		decisions := s.Decisions()
		engines := make([]EngineView, 0, len(s.engines))
		for _, e := range s.engines {
			ok, reason := e.Health()
			v := EngineView{Name: e.Name(), Healthy: ok, Reason: reason, Calls: []EngineCallState{}}
			seen := map[string]bool{}
			for _, d := range decisions {
				if d.Engine != e.Name() || d.State != StateJoined || seen[d.Room+"\x00"+d.CallID] {
					continue
				}
				seen[d.Room+"\x00"+d.CallID] = true
				call := membership.CallKey{Room: id.RoomID(d.Room), Application: d.Application, CallID: d.CallID, Scope: d.Scope}
				v.Calls = append(v.Calls, EngineCallState{Room: d.Room, CallID: d.CallID, State: e.CallState(call)})
			}
			engines = append(engines, v)
		}
		overrides := s.Overrides()
		if overrides == nil {
			overrides = []Override{}
		}
		httpserve.WriteJSON(w, http.StatusOK, struct {
			Decisions []Decision   `json:"decisions"`
			Engines   []EngineView `json:"engines"`
			Overrides []Override   `json:"overrides"`
		}{decisions, engines, overrides})
	})
}
