package membership

import (
	"net/http"
	"sort"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
)

// SeatLister reports our own memberships (the call supervisor, which adds
// the seats it refused to what the seat writer holds).
type SeatLister interface{ Seats() []SeatStatus }

// KeyReporter describes the media keys held for a room's participants and
// the key events refused there, for the call view (the e2ee key store's
// report, plugged in by cmd). It never includes key bytes.
type KeyReporter interface{ KeysFor(room id.RoomID) any }

// AdminHandler serves the operators' view of the tracker and of our own
// memberships (seats may be nil): GET /admin/v1/calls (every room) and
// GET /admin/v1/calls/{roomId}. It does no authentication: the caller serves
// it behind a bearer token on a listener of its own (cmd/coordinator).
func AdminHandler(t *Tracker, seats SeatLister) http.Handler {
	return AdminHandlerWithKeys(t, seats, nil)
}

// AdminHandlerWithKeys is AdminHandler whose room views also carry keys'
// report ("e2ee"), when keys is not nil.
func AdminHandlerWithKeys(t *Tracker, seats SeatLister, keys KeyReporter) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v1/calls", func(w http.ResponseWriter, r *http.Request) {
		serveCalls(w, r, t, seats, keys, "")
	})
	mux.HandleFunc("GET /admin/v1/calls/{roomId}", func(w http.ResponseWriter, r *http.Request) {
		serveCalls(w, r, t, seats, keys, id.RoomID(r.PathValue("roomId")))
	})
	return mux
}

// Admin view types: stable JSON for operators and tests.
type (
	adminRoom struct {
		RoomID id.RoomID   `json:"room_id"`
		Calls  []adminCall `json:"calls"`
		// Own is our own memberships in the room and their state.
		Own []SeatStatus `json:"own_memberships"`
		// E2EE is the KeyReporter's view of the room, when there is one.
		E2EE any `json:"e2ee,omitempty"`
	}
	adminCall struct {
		Application string        `json:"application"`
		CallID      string        `json:"call_id"`
		Scope       string        `json:"scope"`
		Members     []adminMember `json:"members"`
	}
	adminMember struct {
		UserID       id.UserID   `json:"user_id"`
		DeviceID     id.DeviceID `json:"device_id"`
		Dialect      string      `json:"dialect"`
		MembershipID string      `json:"membership_id"`
		Identity     string      `json:"livekit_identity"`
		Foci         []Focus     `json:"foci"`
		ExpiresAt    time.Time   `json:"expires_at"`
	}
)

func serveCalls(w http.ResponseWriter, r *http.Request, t *Tracker, seats SeatLister, keys KeyReporter, only id.RoomID) {
	members, err := t.Snapshot(r.Context())
	if err != nil {
		httpserve.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"errcode": "M_UNKNOWN", "error": "tracker not running"})
		return
	}
	rooms := map[id.RoomID]map[CallKey][]adminMember{}
	for _, m := range members {
		if only != "" && m.Call.Room != only {
			continue
		}
		if rooms[m.Call.Room] == nil {
			rooms[m.Call.Room] = map[CallKey][]adminMember{}
		}
		foci := m.ActiveFoci
		if len(foci) == 0 {
			foci = m.Preferred
		}
		rooms[m.Call.Room][m.Call] = append(rooms[m.Call.Room][m.Call], adminMember{
			UserID: m.UserID, DeviceID: m.DeviceID, Dialect: m.Dialect.String(), MembershipID: m.MembershipID,
			Identity: m.Identity(), Foci: foci, ExpiresAt: m.ExpiresAt.UTC(),
		})
	}
	own := map[id.RoomID][]SeatStatus{}
	if seats != nil {
		for _, st := range seats.Seats() {
			room := id.RoomID(st.Room)
			if only != "" && room != only {
				continue
			}
			own[room] = append(own[room], st)
			if rooms[room] == nil {
				rooms[room] = map[CallKey][]adminMember{}
			}
		}
	}
	out := make([]adminRoom, 0, len(rooms))
	for room, calls := range rooms {
		ar := adminRoom{RoomID: room, Calls: []adminCall{}, Own: own[room]}
		if keys != nil {
			ar.E2EE = keys.KeysFor(room)
		}
		if ar.Own == nil {
			ar.Own = []SeatStatus{}
		}
		for key, ms := range calls {
			sort.Slice(ms, func(i, j int) bool { return ms[i].Identity < ms[j].Identity })
			ar.Calls = append(ar.Calls, adminCall{Application: key.Application, CallID: key.CallID, Scope: key.Scope, Members: ms})
		}
		sort.Slice(ar.Calls, func(i, j int) bool { return ar.Calls[i].CallID < ar.Calls[j].CallID })
		out = append(out, ar)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RoomID < out[j].RoomID })
	if only != "" {
		if len(out) == 0 {
			ar := adminRoom{RoomID: only, Calls: []adminCall{}, Own: []SeatStatus{}}
			if keys != nil {
				ar.E2EE = keys.KeysFor(only)
			}
			httpserve.WriteJSON(w, http.StatusOK, ar)
			return
		}
		httpserve.WriteJSON(w, http.StatusOK, out[0])
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"rooms": out})
}
