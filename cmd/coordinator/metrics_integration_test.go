package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// testMetricsToken passes check-config's strength rule.
const testMetricsToken = "test-metrics-token-0123456789abcdefgh"

// scrape is one parsed exposition of /metrics.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics reads addr's /metrics with the token and parses it with
// the Prometheus text parser.
func scrapeMetrics(t *testing.T, addr, token string) scrape {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value sums the series of name whose labels include want (pairs of name
// and value); a histogram counts its observations. A family that is not
// exposed at all fails the test: a missing metric is not a zero.
func (s scrape) value(t *testing.T, name string, want ...string) float64 {
	t.Helper()
	fam, ok := s[name]
	if !ok {
		t.Fatalf("%s not exposed", name)
	}
	sum := 0.0
	for _, m := range fam.Metric {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if !slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == want[i] && l.GetValue() == want[i+1] }) {
			return false
		}
	}
	return true
}

// moved checks that each counter moved from before to after by exactly
// its expected amount.
func moved(t *testing.T, what string, before, after scrape, want []counterMove) {
	t.Helper()
	for _, w := range want {
		if d := after.value(t, w.name, w.labels...) - before.value(t, w.name, w.labels...); d != w.by {
			t.Errorf("%s: %s%v moved by %v, want %v", what, w.name, w.labels, d, w.by)
		}
	}
}

type counterMove struct {
	name   string
	labels []string
	by     float64
}

func move(by float64, name string, labels ...string) counterMove {
	return counterMove{name: name, labels: labels, by: by}
}

// noMatrixIDLabels fails if a label value looks like a room or user id:
// label sets must stay bounded.
func noMatrixIDLabels(t *testing.T, s scrape, serverName string) {
	t.Helper()
	for name, fam := range s {
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				v := l.GetValue()
				if strings.HasPrefix(v, "!") || strings.HasPrefix(v, "@") || strings.Contains(v, ":"+serverName) {
					t.Errorf("%s has label %s=%q, a Matrix id", name, l.GetName(), v)
				}
			}
		}
	}
}

// TestMetricsOnLiveCoordinator (#15 acceptance): /metrics on the running
// coordinator (real Synapse and LiveKit), behind its token, scraped before
// and after token requests, a MatrixRTC call with keys both ways and an
// enforcement action; the Prometheus text parser reads it and the counters
// move by exactly what happened, the gauges show the call while it runs,
// and no label value is a Matrix id.
func TestMetricsOnLiveCoordinator(t *testing.T) {
	env := testenv.Require(t)
	const grace = 3 * time.Second
	addr, bot := startBotCoordinator(t, env, map[string]string{
		"SWITCHBOARD_METRICS_ENABLED": "true", "SWITCHBOARD_METRICS_TOKEN": testMetricsToken,
		"SWITCHBOARD_CALLS_JOIN": "all", "SWITCHBOARD_LIVEKIT_SERVICE_URL": env.ServiceURL,
		"SWITCHBOARD_LIVEKIT_ENFORCE_GRACE": grace.String(), "SWITCHBOARD_LIVEKIT_ENFORCE_INTERVAL": "1s",
	})
	for _, token := range []string{"", "wrong-token"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/metrics with token %q: %d, want 401", token, res.StatusCode)
		}
	}
	s0 := scrapeMetrics(t, addr, testMetricsToken)

	// 1. Token requests: one granted, one not JSON, one whose OpenID token
	// the homeserver rejects.
	alice := env.RegisterUser(t, "alice")
	plain := env.CreateRoom(t, alice)
	if code, res := sfuGet(t, env, addr, alice, plain, "ADEV"); code != 200 {
		t.Fatalf("/sfu/get: %d %s", code, res.msg())
	}
	if code, res := postToken(t, addr, "/sfu/get", "{"); code != 400 || res.ErrCode != "M_NOT_JSON" {
		t.Fatalf("bad JSON: %d %s", code, res.msg())
	}
	bogus := fmt.Sprintf(`{"room":%q,"device_id":"X","openid_token":{"access_token":"bogus","matrix_server_name":%q}}`, plain, env.ServerName)
	if code, res := postToken(t, addr, "/sfu/get", bogus); code != 401 || res.ErrCode != "M_UNAUTHORIZED" {
		t.Fatalf("bogus OpenID token: %d %s", code, res.msg())
	}
	s1 := scrapeMetrics(t, addr, testMetricsToken)
	moved(t, "token requests", s0, s1, []counterMove{
		move(1, "switchboard_http_requests_total", "endpoint", "sfu_get", "status", "200", "errcode", "none"),
		move(1, "switchboard_http_requests_total", "endpoint", "sfu_get", "status", "400", "errcode", "M_NOT_JSON"),
		move(1, "switchboard_http_requests_total", "endpoint", "sfu_get", "status", "401", "errcode", "M_UNAUTHORIZED"),
		move(3, "switchboard_http_requests_total", "endpoint", "sfu_get"),
		move(0, "switchboard_http_requests_total", "endpoint", "get_token"),
		move(3, "switchboard_http_request_duration_seconds", "endpoint", "sfu_get"),
		move(2, "switchboard_openid_cache_lookups_total", "result", "miss"),
		move(0, "switchboard_openid_cache_lookups_total", "result", "hit"),
		move(2, "switchboard_openid_userinfo_duration_seconds"),
		move(1, "switchboard_openid_userinfo_failures_total", "reason", "rejected"),
		move(1, "switchboard_openid_userinfo_failures_total"),
	})

	// 2. A MatrixRTC call in an encrypted room: the coordinator joins, its
	// key reaches bob, bob's key reaches it.
	bc, room, td := rtcCallWithBot(t, env, bot)
	bob, dev := bc.User, bc.DeviceID()
	sendRTCKey(t, bc, room, bot, td.SenderDevice, 0)
	waitFor(t, 30*time.Second, "bob's key in the admin API", func() bool { return adminKeys(t, addr, room).holds(bob.ID, dev, 0) })
	// The gauges show the call while it runs: bob and us, our seat joined,
	// the engine connected, both keys held; our delayed leave restarts.
	var s2 scrape
	waitFor(t, 30*time.Second, "the call in the gauges", func() bool {
		s2 = scrapeMetrics(t, addr, testMetricsToken)
		return s2.value(t, "switchboard_engine_calls", "engine", "livekit", "state", "connected") == 1 &&
			s2.value(t, "switchboard_seat_delayed_leave_restarts_total", "dialect", "matrixrtc", "outcome", "ok") > 0
	})
	for _, g := range []counterMove{
		move(1, "switchboard_calls", "dialect", "matrixrtc"),
		move(2, "switchboard_call_members", "dialect", "matrixrtc"),
		move(0, "switchboard_call_members", "dialect", "famedly"),
		move(1, "switchboard_seats", "dialect", "matrixrtc", "state", "joined"),
		move(1, "switchboard_seats"),
		move(1, "switchboard_engine_calls"),
		move(2, "switchboard_e2ee_keys_held"),
		move(2, "switchboard_e2ee_key_participants"),
	} {
		if v := s2.value(t, g.name, g.labels...); v != g.by {
			t.Errorf("during the call: %s%v = %v, want %v", g.name, g.labels, v, g.by)
		}
	}
	moved(t, "the call", s1, s2, []counterMove{
		move(1, "switchboard_e2ee_keys_received_total", "dialect", "matrixrtc"),
		move(1, "switchboard_e2ee_keys_received_total"),
		move(1, "switchboard_e2ee_key_sends_total", "dialect", "matrixrtc", "kind", "keys", "outcome", "ok"),
		move(1, "switchboard_e2ee_key_sends_total"),
		move(0, "switchboard_e2ee_key_refusals_total"),
		move(0, "switchboard_seat_delayed_leave_restarts_total", "outcome", "failed"),
		move(0, "switchboard_enforcement_actions_total"),
	})

	// 3. Enforcement: mallory, with a token but no membership, joins the
	// call's LiveKit room and is removed; the room stays (bob is a member).
	mallory := env.RegisterUser(t, "mallory")
	lkRoom := lkid.Room(room.String(), "m.call#ROOM")
	malloryIdent := lkid.Legacy(mallory.ID.String(), "MDEV")
	lkConnect(t, env, addr, mallory, room, "MDEV")
	waitFor(t, 5*time.Second, "mallory connected", func() bool { return slices.Contains(lkParticipants(t, env, lkRoom), malloryIdent) })
	waitFor(t, grace+10*time.Second, "mallory removed", func() bool { return !slices.Contains(lkParticipants(t, env, lkRoom), malloryIdent) })
	s3 := scrapeMetrics(t, addr, testMetricsToken)
	moved(t, "enforcement", s2, s3, []counterMove{
		move(1, "switchboard_enforcement_actions_total", "action", "remove_participant", "outcome", "ok"),
		move(1, "switchboard_enforcement_actions_total"),
		move(1, "switchboard_http_requests_total", "endpoint", "sfu_get", "status", "200"),
	})
	for _, s := range []scrape{s0, s1, s2, s3} {
		noMatrixIDLabels(t, s, env.ServerName)
	}
}
