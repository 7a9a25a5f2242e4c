package jwtservice

import (
	"log/slog"
	"net/http"
)

// NewHandler returns the service's HTTP routes.
func NewHandler(logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", handleHealthz)
	mux.HandleFunc("HEAD /healthz", handleHealthz)
	return mux
}

// handleHealthz answers 200 with an empty body, as lk-jwt-service does. It is
// not logged: load balancers call it every few seconds.
func handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
}
