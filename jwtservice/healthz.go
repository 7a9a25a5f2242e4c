package jwtservice

import (
	"net/http"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/internal/sfuhealth"
)

// SFUHealth is where GET /healthz?detail=1 reads the SFU's health;
// *sfuhealth.Monitor is the real one, plugged in by cmd/coordinator.
type SFUHealth interface {
	Status() sfuhealth.Status
}

// healthDetail is the body of GET /healthz?detail=1.
type healthDetail struct {
	Status   string         `json:"status"` // "ok": this service answers
	SFU      *sfuDetail     `json:"sfu,omitempty"`
	Webhooks *webhookDetail `json:"webhooks"` // LiveKit's webhooks received (coordinator doctor reads it)
}

// sfuDetail is sfuhealth.Status on the wire; times are RFC 3339 in UTC.
type sfuDetail struct {
	State               sfuhealth.State `json:"state"`
	Since               time.Time       `json:"since"`
	LastCheck           *time.Time      `json:"last_check,omitempty"`
	LastError           string          `json:"last_error,omitempty"`
	ConsecutiveFailures int             `json:"consecutive_failures"`
}

// healthz keeps plain /healthz exactly lk-jwt-service's (200, empty body);
// only ?detail=1 answers with JSON. The detail is 200 whatever the SFU's
// state, so a load balancer pointed at it does not drop the token service
// while LiveKit blips: the state is in the body.
func (s *Service) healthz(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("detail") != "1" {
		Healthz(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	d := healthDetail{Status: "ok", Webhooks: s.hooks.detail()}
	if s.sfu != nil {
		st := s.sfu.Status()
		d.SFU = &sfuDetail{State: st.State, Since: st.Since.UTC(), LastError: st.LastError,
			ConsecutiveFailures: st.ConsecutiveFailures}
		if !st.LastCheck.IsZero() {
			last := st.LastCheck.UTC()
			d.SFU.LastCheck = &last
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	httpserve.WriteJSON(w, http.StatusOK, d)
}
