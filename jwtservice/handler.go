package jwtservice

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
)

// Handler returns the service's routes. Paths match exactly, as upstream's
// ServeMux did (a reverse proxy strips any prefix such as /livekit/jwt).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	m := s.metrics
	mux.Handle("/sfu/get", m.instrument(EndpointSFUGet, corsJSON(s.limited(s.handleLegacy))))
	mux.Handle("/get_token", m.instrument(EndpointGetToken, corsJSON(s.limited(s.handleGetToken))))
	mux.Handle("/delegate_delayed_leave", m.instrument(EndpointDelegate, corsJSON(s.limited(s.handleDelegate))))
	mux.HandleFunc("/healthz", s.healthz)
	mux.Handle("/sfu_webhook", m.instrument(EndpointWebhook, http.HandlerFunc(s.handleWebhook)))
	return mux
}

// corsJSON gives the POST endpoints lk-jwt-service's envelope: CORS and JSON
// headers on every answer, OPTIONS answered 200 with no body, any method other
// than POST 405 with no body.
func corsJSON(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Allow-Methods", "POST")
		hd.Set("Access-Control-Allow-Headers", "Accept, Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token")
		switch r.Method {
		case http.MethodPost:
			h(w, r)
		case http.MethodOptions:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

// Healthz answers GET and HEAD with 200 and an empty body. It is not
// logged: load balancers call it every few seconds.
func Healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// limited refuses clients over the configured rate before any work is done.
func (s *Service) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.limiter.allow(r) {
			s.fail(w, r, ErrRateLimited)
			return
		}
		h(w, r)
	}
}

func (s *Service) handleGetToken(w http.ResponseWriter, r *http.Request) {
	req, err := DecodeTokenRequest(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answer(w, r, tokenJob{
		openID: req.OpenID, claimedUser: req.Member.ClaimedUserID, deviceID: req.Member.ClaimedDeviceID, roomID: req.RoomID,
		identity: func(userID string) string {
			return LiveKitIdentityFor(userID, req.Member.ClaimedDeviceID, req.Member.ID)
		},
		lkRoom: LiveKitRoomFor(req.RoomID, req.SlotID),
		delay:  req.Delay,
	})
}

func (s *Service) handleLegacy(w http.ResponseWriter, r *http.Request) {
	req, err := DecodeLegacyRequest(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answer(w, r, tokenJob{
		openID: req.OpenID, roomID: req.Room, deviceID: req.DeviceID,
		identity: func(userID string) string { return LegacyIdentityFor(userID, req.DeviceID) },
		lkRoom:   LiveKitRoomFor(req.Room, legacySlot),
		delay:    req.Delay,
	})
}

func (s *Service) answer(w http.ResponseWriter, r *http.Request, job tokenJob) {
	g, err := s.issue(r.Context(), job)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, g)
}

// fail logs the cause (never a token: errors here are built not to carry
// one) and answers with the table's Matrix error.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	me := lookupError(err)
	level := slog.LevelInfo
	if me.status >= 500 && !errors.Is(err, ErrShuttingDown) {
		level = slog.LevelError
	}
	s.logger.Log(r.Context(), level, "token request refused",
		"path", r.URL.Path, "status", me.status, "errcode", me.errcode, "reason", err.Error(), "remote", r.RemoteAddr)
	writeError(w, err)
}
