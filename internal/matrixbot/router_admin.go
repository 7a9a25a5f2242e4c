package matrixbot

import (
	"net/http"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
)

// adminRoute is a route in the admin view: stable JSON for operators and
// tests.
type adminRoute struct {
	Name       string    `json:"name"`
	Kinds      []string  `json:"kinds"` // empty: all
	RoomFilter bool      `json:"room_filter"`
	Overflow   Overflow  `json:"overflow"`
	QueueBound int       `json:"queue_bound"`
	Queued     int       `json:"queued"`
	Delivered  uint64    `json:"delivered"`
	Dropped    uint64    `json:"dropped"`
	BlockedMS  int64     `json:"blocked_ms"`
	Blocking   bool      `json:"blocking"`
	Since      time.Time `json:"blocking_since,omitzero"`
}

// AdminHandler serves the routes' counters as JSON ({"routes": [...]}),
// for GET /admin/v1/events.
func (rt *Router) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		stats := rt.Stats()
		routes := make([]adminRoute, 0, len(stats))
		for _, s := range stats {
			kinds := make([]string, 0, len(s.Kinds))
			for _, k := range s.Kinds {
				kinds = append(kinds, k.String())
			}
			routes = append(routes, adminRoute{
				Name: s.Name, Kinds: kinds, RoomFilter: s.Rooms, Overflow: s.Overflow,
				QueueBound: s.Bound, Queued: s.Queued, Delivered: s.Delivered, Dropped: s.Dropped,
				BlockedMS: s.Blocked.Milliseconds(), Blocking: !s.BlockedSince.IsZero(), Since: s.BlockedSince.UTC(),
			})
		}
		httpserve.WriteJSON(w, http.StatusOK, map[string]any{"routes": routes})
	})
}
