package jwtservice

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/sfuhealth"
)

type fixedSFU sfuhealth.Status

func (f fixedSFU) Status() sfuhealth.Status { return sfuhealth.Status(f) }

func serviceWithSFU(t *testing.T, sfu SFUHealth) http.Handler {
	t.Helper()
	s, err := New(slog.New(slog.DiscardHandler), Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "devkey", APISecret: "devsecret", TokenTTL: time.Hour,
	}, Deps{Verifier: fakeVerifier{}, Rooms: &fakeRooms{}, SFU: sfu})
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

// TestHealthzPlainUnchanged: with an SFU monitor plugged in (and unhealthy),
// plain /healthz is still lk-jwt-service's: 200, no body, no content type,
// whatever other query it carries.
func TestHealthzPlainUnchanged(t *testing.T) {
	h := serviceWithSFU(t, fixedSFU{State: sfuhealth.StateUnreachable, LastError: "connection refused"})
	for _, path := range []string{"/healthz", "/healthz?detail=0", "/healthz?x=1"} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			rec := do(t, h, m, path, "")
			if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
				t.Errorf("%s %s = %d %q %q", m, path, rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
			}
		}
	}
	if rec := do(t, h, http.MethodPost, "/healthz?detail=1", ""); rec.Code != 405 {
		t.Errorf("POST /healthz?detail=1 = %d", rec.Code)
	}
}

func TestHealthzDetail(t *testing.T) {
	since := time.Date(2026, 12, 4, 12, 0, 0, 0, time.FixedZone("x", 3600))
	for _, c := range []struct {
		name string
		sfu  SFUHealth
		want string
	}{
		{"no monitor", nil, `{"status":"ok","webhooks":{"received":0,"refused":0}}`},
		{"unknown", fixedSFU{State: sfuhealth.StateUnknown, Since: since},
			`{"status":"ok","sfu":{"state":"unknown","since":"2026-12-04T11:00:00Z","consecutive_failures":0},"webhooks":{"received":0,"refused":0}}`},
		{"unreachable", fixedSFU{State: sfuhealth.StateUnreachable, Since: since, LastCheck: since.Add(20 * time.Second),
			LastError: "connection refused", ConsecutiveFailures: 3},
			`{"status":"ok","sfu":{"state":"unreachable","since":"2026-12-04T11:00:00Z","last_check":"2026-12-04T11:00:20Z","last_error":"connection refused","consecutive_failures":3},"webhooks":{"received":0,"refused":0}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := do(t, serviceWithSFU(t, c.sfu), http.MethodGet, "/healthz?detail=1", "")
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("= %d %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var got any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body.String(), err)
			}
			if g, _ := json.Marshal(got); string(g) != mustCanon(c.want) {
				t.Fatalf("body = %s\nwant   %s", rec.Body.String(), c.want)
			}
		})
	}
}

// mustCanon re-encodes JSON with sorted keys, for comparison.
func mustCanon(s string) string {
	var v any
	_ = json.Unmarshal([]byte(s), &v)
	b, _ := json.Marshal(v)
	return string(b)
}

// TestHealthzDetailWebhooks: /healthz?detail=1 counts the verified and the
// refused LiveKit webhooks, and names the last doctor probe room, but no
// other room.
func TestHealthzDetailWebhooks(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s, err := New(slog.New(slog.DiscardHandler), Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "devkey", APISecret: "devsecret", TokenTTL: time.Hour,
		Now: func() time.Time { return now },
	}, Deps{Verifier: fakeVerifier{}, Rooms: &fakeRooms{}})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for _, c := range []struct{ key, secret, room string }{
		{"devkey", "devsecret", "switchboard-doctor-abc"},
		{"devkey", "devsecret", "secret-call-room"},
		{"devkey", "wrong", "switchboard-doctor-forged"},
	} {
		body := `{"event":"room_started","room":{"name":"` + c.room + `"}}`
		h.ServeHTTP(httptest.NewRecorder(), signedWebhook(t, c.key, c.secret, body))
	}
	rec := do(t, h, http.MethodGet, "/healthz?detail=1", "")
	want := `{"status":"ok","webhooks":{"received":2,"last_at":"2026-12-04T12:00:00Z","refused":1,"last_refused_at":"2026-12-04T12:00:00Z","last_probe":"switchboard-doctor-abc","last_probe_at":"2026-12-04T12:00:00Z"}}`
	var got any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if g, _ := json.Marshal(got); string(g) != mustCanon(want) {
		t.Fatalf("body = %s\nwant   %s", rec.Body.String(), want)
	}
}
