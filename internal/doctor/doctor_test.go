package doctor

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

func stepNamed(t *testing.T, r *Report, name string) Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %s", name)
	return Step{}
}

func runOn(t *testing.T, base string, dep *Deployment, timeout time.Duration) *Report {
	t.Helper()
	d, err := New(Config{ServerName: "example.org", Base: base, Timeout: timeout, Deployment: dep})
	if err != nil {
		t.Fatal(err)
	}
	return d.Run(t.Context())
}

// TestHostileWellKnown: an oversized, silent, malformed or line-injecting
// .well-known fails the step with a clear message, the run returns, and no
// answer writes lines of its own into the text report.
func TestHostileWellKnown(t *testing.T) {
	leakcheck.Check(t)
	release := make(chan struct{})
	defer close(release)
	answers := map[string]http.HandlerFunc{
		"larger than 1 MiB": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"m.homeserver":{"base_url":"` + strings.Repeat("a", 2<<20) + `"}}`))
		},
		"timeout": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		},
		"not a JSON object": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>\nfail    fake_step   injected\n</html>"))
		},
		"HTTP 418": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("\nok      injected\n"))
		},
	}
	for want, h := range answers {
		t.Run(want, func(t *testing.T) {
			front := httptest.NewServer(h)
			defer front.Close()
			r := runOn(t, front.URL, nil, 300*time.Millisecond)
			s := stepNamed(t, r, "well_known")
			if s.Status != StatusFail || !strings.Contains(s.Found, want) || s.Fix == "" {
				t.Fatalf("well_known = %+v, want fail with %q", s, want)
			}
			var b strings.Builder
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), "\nfail    fake_step") || strings.Contains(b.String(), "\nok      injected") {
				t.Fatalf("the answer wrote its own lines:\n%s", b.String())
			}
			if r.OK {
				t.Fatal("report OK")
			}
		})
	}
}

// fakeHS is a homeserver that answers the delayed-event probe as told.
func fakeHS(t *testing.T, probe func(w http.ResponseWriter), cancelled *atomic.Bool) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		switch {
		case r.URL.Path == "/.well-known/matrix/client":
			w.Write([]byte(`{"m.homeserver":{"base_url":"` + srv.URL + `"}}`))
		case r.URL.Path == "/_matrix/client/versions":
			w.Write([]byte(`{"versions":["v1.12"],"unstable_features":{"org.matrix.msc4140":true}}`))
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/send/"):
			if r.URL.Query().Get("org.matrix.msc4140.delay") != "315360000000" || r.Header.Get("Authorization") != "Bearer tok-abc" {
				t.Errorf("probe %s %v", r.URL, r.Header)
			}
			probe(w)
		case strings.HasSuffix(r.URL.Path, "/cancel"):
			cancelled.Store(true)
			w.Write([]byte(`{}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestMaxDelayProbe: the maximum is read from Synapse's refusal (the text
// of 1.160, and the older unstable field), compared with our delays; a
// disallowing homeserver fails; a probe that was scheduled is cancelled.
func TestMaxDelayProbe(t *testing.T) {
	leakcheck.Check(t)
	for _, c := range []struct {
		name   string
		answer string
		status int
		want   Status
		text   string
		cancel bool
	}{
		{"synapse text, too short", `{"errcode":"M_FORBIDDEN","error":"The requested delay (315360000000ms) exceeds the allowed maximum (5000ms)"}`, 403, StatusWarn, "5s, shorter than the 18s of calls.famedly_leave_delay", false},
		{"synapse text, enough", `{"errcode":"M_FORBIDDEN","error":"The requested delay (315360000000ms) exceeds the allowed maximum (86400000ms)"}`, 403, StatusOK, "24h0m0s", false},
		{"unstable field", `{"errcode":"M_UNKNOWN","error":"too long","org.matrix.msc4140.errcode":"M_MAX_DELAY_EXCEEDED","org.matrix.msc4140.max_delay":1000}`, 400, StatusWarn, "1s, shorter", false},
		{"disallowed", `{"errcode":"M_FORBIDDEN","error":"Sending delayed events has been disallowed"}`, 403, StatusFail, "disallowed", false},
		{"room unknown", `{"errcode":"M_NOT_FOUND","error":"Unknown room"}`, 404, StatusOK, "accepted", false},
		{"scheduled", `{"delay_id":"syd_1"}`, 200, StatusOK, "cancelled", true},
		{"garbage", `<html>`, 500, StatusWarn, "unknown", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cancelled atomic.Bool
			base := fakeHS(t, func(w http.ResponseWriter) { w.WriteHeader(c.status); w.Write([]byte(c.answer)) }, &cancelled)
			r := runOn(t, base, &Deployment{HomeserverURL: base, BotUserID: "@bot:example.org", AccessToken: "tok-abc",
				TokenSource: "test", Delays: map[string]time.Duration{"calls.famedly_leave_delay": 18 * time.Second, "calls.matrixrtc_leave_delay": 10 * time.Second}}, time.Second)
			s := stepNamed(t, r, "delayed_events")
			if s.Status != c.want || !strings.Contains(s.Found, c.text) {
				t.Fatalf("delayed_events = %+v, want %s with %q", s, c.want, c.text)
			}
			if cancelled.Load() != c.cancel {
				t.Fatalf("cancelled = %v", cancelled.Load())
			}
			for _, st := range r.Steps {
				if strings.Contains(st.Found+st.Fix, "tok-abc") {
					t.Fatalf("step %s shows the token", st.Name)
				}
			}
		})
	}
}
