package doctor

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// fakeService answers as the JWT service does at its root: /healthz 200
// with no body, an invalid token request 400 M_BAD_JSON, CORS headers.
func fakeService() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {})
	refuse := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		if r.Method == http.MethodOptions {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"errcode":"M_BAD_JSON","error":"Missing room parameter"}`))
	}
	mux.HandleFunc("/sfu/get", refuse)
	mux.HandleFunc("/get_token", refuse)
	return mux
}

// deployment serves a .well-known naming service (a path on the same
// server), /versions, and front for everything else.
func deployment(t *testing.T, servicePath string, front http.Handler) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/matrix/client":
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Write([]byte(`{"m.homeserver":{"base_url":"` + srv.URL + `/hs"},"org.matrix.msc4143.rtc_foci":[{"type":"livekit","livekit_service_url":"` + srv.URL + servicePath + `"}]}`))
		case "/hs/_matrix/client/versions":
			w.Write([]byte(`{"versions":["v1.12"],"unstable_features":{"org.matrix.msc4140":true}}`))
		default:
			front.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestServiceMisroutes: the ways a service URL goes wrong behind a proxy
// are each named, with their fix.
func TestServiceMisroutes(t *testing.T) {
	leakcheck.Check(t)
	svc := fakeService()
	for _, c := range []struct {
		name, path string
		front      http.Handler
		step       string
		want       Status
		found, fix string
	}{
		{"served under the prefix", "/livekit/jwt", http.StripPrefix("/livekit/jwt", svc), "service_sfu_get", StatusOK, "the service itself answers", ""},
		{"url lacks the prefix", "", http.StripPrefix("/livekit/jwt", svc), "service_sfu_get", StatusFail, "lacks the path /livekit/jwt", "/livekit/jwt"},
		{"html 404", "/livekit/jwt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("<html><body>nginx</body></html>"))
		}), "service_sfu_get", StatusFail, "not the JWT service", "prefix stripped"},
		{"go 404 under prefix", "/livekit/jwt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/livekit/jwt/") {
				http.NotFound(w, r)
			}
		}), "service_sfu_get", StatusFail, "keeps the prefix /livekit/jwt", "proxy_pass http://127.0.0.1:8080/;"},
		{"bad gateway", "/livekit/jwt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}), "service_sfu_get", StatusFail, "cannot reach the service", "http.bind"},
		{"redirect", "/livekit/jwt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example.org"+r.URL.Path, http.StatusMovedPermanently)
		}), "service_sfu_get", StatusFail, "redirect loses", "final URL"},
		{"healthz not routed", "/livekit/jwt", http.StripPrefix("/livekit/jwt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			svc.ServeHTTP(w, r)
		})), "service_healthz", StatusWarn, "clients work", "prefix"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runOn(t, deployment(t, c.path, c.front), nil, 2*time.Second)
			s := stepNamed(t, r, c.step)
			if s.Status != c.want || !strings.Contains(s.Found, c.found) || !strings.Contains(s.Fix, c.fix) {
				t.Fatalf("%s = %+v\nwant %s with %q, fix %q", c.step, s, c.want, c.found, c.fix)
			}
		})
	}
}
