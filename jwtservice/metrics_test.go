package jwtservice

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricsCountOutcomes: each answer is counted under its endpoint,
// status and errcode (none on success, the table's errcode on a refusal),
// and timed; a service without Metrics still answers.
func TestMetricsCountOutcomes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s, err := New(slog.New(slog.DiscardHandler), Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "devkey", APISecret: "devsecret", TokenTTL: time.Hour,
		FullAccessHomeservers: []string{"example.org"},
	}, Deps{Verifier: fakeVerifier{}, Rooms: &fakeRooms{}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for _, r := range []struct{ path, body string }{
		{"/get_token", `{"room_id":"!r:example.org","slot_id":"m.call#ROOM",` + member + `,` + okOpenID + `}`},
		{"/get_token", `{`},
		{"/sfu/get", `{"room":"!r:example.org","device_id":"D","openid_token":{"access_token":"no","matrix_server_name":"example.org"}}`},
		{"/sfu_webhook", `{}`},
	} {
		do(t, h, http.MethodPost, r.path, r.body)
	}
	do(t, h, http.MethodGet, "/sfu/get", "")
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{EndpointGetToken, "200", "none"}, 1},
		{[]string{EndpointGetToken, "400", "M_NOT_JSON"}, 1},
		{[]string{EndpointSFUGet, "401", "M_UNAUTHORIZED"}, 1},
		{[]string{EndpointSFUGet, "405", "none"}, 1},
		{[]string{EndpointWebhook, "401", "M_UNAUTHORIZED"}, 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("requests%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.latency); n != len(endpoints) {
		t.Errorf("%d latency series, want one per endpoint (%d)", n, len(endpoints))
	}
	if rec := do(t, newTestService(t, &fakeRooms{}, nil).Handler(), http.MethodPost, "/get_token", `{`); rec.Code != 400 {
		t.Errorf("without metrics: %d", rec.Code)
	}
}
