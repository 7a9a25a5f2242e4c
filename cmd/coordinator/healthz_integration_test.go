package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// TestHealthzDetailShowsRealLiveKit: serve wires the SFU monitor to the real
// LiveKit, /healthz?detail=1 reports it healthy, and plain /healthz is still
// an empty 200.
func TestHealthzDetailShowsRealLiveKit(t *testing.T) {
	env := testenv.Require(t)
	addr, _ := startServe(t, map[string]string{
		"LIVEKIT_URL": env.LKURL, "LIVEKIT_KEY": env.LKKey, "LIVEKIT_SECRET": env.LKSecret.Reveal(),
		"LIVEKIT_FULL_ACCESS_HOMESERVERS": env.ServerName,
	})
	get := func(path string) (int, []byte) {
		t.Helper()
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if code, body := get("/healthz"); code != http.StatusOK || len(body) != 0 {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	// The first check runs at start; poll until it is recorded.
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing
	for {
		code, body := get("/healthz?detail=1")
		var d struct {
			Status string `json:"status"`
			SFU    struct {
				State string `json:"state"`
			} `json:"sfu"`
		}
		if err := json.Unmarshal(body, &d); code != http.StatusOK || err != nil || d.Status != "ok" {
			t.Fatalf("/healthz?detail=1 = %d %q (%v)", code, body, err)
		}
		if d.SFU.State == "healthy" {
			break
		}
		if d.SFU.State != "unknown" || time.Now().After(deadline) {
			t.Fatalf("SFU state %q, want healthy: %s", d.SFU.State, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	http.DefaultClient.CloseIdleConnections()
}
