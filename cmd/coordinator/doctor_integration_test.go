package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/doctor"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// doctorStack is a coordinator with its bot on the test environment,
// listening on SWB_SERVICE_PORT (where the test LiveKit sends its webhooks
// and where the test Synapse's matrix_rtc.transports point), and the
// configuration file it runs from.
type doctorStack struct {
	env     *testenv.Env
	config  string // path of the YAML configuration
	dataDir string
	secrets []secret.Value // every secret the configuration or data dir holds
	fields  map[string]string
}

// doctorConfigYAML writes a configuration for the bot in dir; secret is
// the LiveKit secret it names.
func (s *doctorStack) writeConfig(t *testing.T, name, lkSecret string) string {
	t.Helper()
	f := s.fields
	y := fmt.Sprintf(`http:
  bind: 127.0.0.1:%s
livekit:
  url: %s
  key: %s
  secret: %q
  full_access_homeservers: [%s]
  service_url: %s
matrix:
  homeserver_url: %s
  server_name: %s
  homeserver_urls: {%s: %s}
  registration_shared_secret: %q
  bot:
    user_id: %q
    password: %q
data_dir: %s
admin:
  token: %q
  bind: 127.0.0.1:0
`, s.env.Var("SWB_SERVICE_PORT"), s.env.LKURL, s.env.LKKey, lkSecret, s.env.ServerName, s.env.ServiceURL,
		s.env.HSURL, s.env.ServerName, s.env.ServerName, s.env.HSURL, s.env.SharedSecret.Reveal(),
		f["bot"], f["password"], s.dataDir, testAdminToken)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startDoctorStack starts the coordinator on the service port (waiting
// while another test holds it) and returns once its bot is logged in with
// its Olm keys uploaded.
func startDoctorStack(t *testing.T) *doctorStack {
	t.Helper()
	env := testenv.Require(t)
	bot, pass := env.RegisterAccount(t, "switchboard")
	s := &doctorStack{env: env, dataDir: t.TempDir(), fields: map[string]string{"bot": bot.String(), "password": pass.Reveal()},
		secrets: []secret.Value{pass, env.LKSecret, env.SharedSecret, testAdminToken}}
	s.config = s.writeConfig(t, "config.yaml", env.LKSecret.Reveal())
	env.HoldServicePort(t)
	waitPortFree(t, "127.0.0.1:"+env.Var("SWB_SERVICE_PORT"))
	cenv := map[string]string{"SWITCHBOARD_CONFIG": s.config}
	startServeWith(t, cenv, func(stderr io.Writer) error {
		cenv["LIVEKIT_JWT_BIND"] = "127.0.0.1:" + env.Var("SWB_SERVICE_PORT") // startServeWith set :0
		return run(t.Context(), []string{"coordinator", "serve"}, envOf(cenv), io.Discard, stderr)
	})
	// The bot stores its session, then uploads its keys: wait for both.
	deadline := time.Now().Add(60 * time.Second) // hang guard
	for {
		sess, err := matrixbot.ReadSession(t.Context(), s.dataDir)
		if err == nil && deviceHasKeys(t, env, sess) {
			s.secrets = append(s.secrets, sess.AccessToken)
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bot did not log in and upload its keys within 60 s (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitPortFree waits until addr can be bound: a server outside the tests
// (bench/delegation) may hold it, which the lock does not cover.
func waitPortFree(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // hang guard
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s stays in use: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func deviceHasKeys(t *testing.T, env *testenv.Env, sess matrixbot.StoredSession) bool {
	t.Helper()
	q, _ := json.Marshal(map[string]any{"device_keys": map[string][]string{string(sess.UserID): {string(sess.DeviceID)}}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, env.HSURL+"/_matrix/client/v3/keys/query", bytes.NewReader(q))
	req.Header.Set("Authorization", "Bearer "+sess.AccessToken.Reveal())
	res, err := env.HTTPClient().Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var r struct {
		DeviceKeys map[string]map[string]struct {
			Keys map[string]string `json:"keys"`
		} `json:"device_keys"`
	}
	_ = json.NewDecoder(res.Body).Decode(&r)
	return r.DeviceKeys[string(sess.UserID)][string(sess.DeviceID)].Keys["ed25519:"+string(sess.DeviceID)] != ""
}

// wellKnownServer serves /.well-known/matrix/client naming the homeserver
// and service, with CORS, on loopback.
func wellKnownServer(t *testing.T, hsURL, service string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"m.homeserver": map[string]string{"base_url": hsURL},
		doctor.WellKeyFoci: []map[string]string{{"type": "livekit", "livekit_service_url": service}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/matrix/client" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// proxyTo is a reverse proxy in front of target, passing every path on
// unchanged (so it keeps any prefix), with modify applied to each answer.
func proxyTo(t *testing.T, target string, modify func(*http.Response) error) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = modify
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// runDoctorCmd runs `coordinator doctor` with args (JSON and text) and
// checks that neither output holds a secret. It returns the JSON report,
// the text and the command's error.
func (s *doctorStack) runDoctorCmd(t *testing.T, args ...string) (*doctor.Report, string, error) {
	t.Helper()
	var js, text, stderr bytes.Buffer
	errJSON := run(t.Context(), append([]string{"coordinator", "doctor", "--json"}, args...), envOf(nil), &js, &stderr)
	errText := run(t.Context(), append([]string{"coordinator", "doctor"}, args...), envOf(nil), &text, &stderr)
	for _, v := range s.secrets {
		for name, out := range map[string]string{"JSON": js.String(), "text": text.String(), "stderr": stderr.String()} {
			if v.Reveal() != "" && strings.Contains(out, v.Reveal()) {
				t.Errorf("the %s report holds a secret (%d bytes)", name, len(v))
			}
		}
	}
	var r doctor.Report
	if err := json.Unmarshal(js.Bytes(), &r); err != nil {
		t.Fatalf("doctor --json printed %q (%v); stderr %q", js.String(), err, stderr.String())
	}
	if (errJSON == nil) != (errText == nil) {
		t.Errorf("JSON run: %v, text run: %v", errJSON, errText)
	}
	t.Logf("doctor %s:\n%s", strings.Join(args, " "), text.String())
	return &r, text.String(), errJSON
}

func stepOf(t *testing.T, r *doctor.Report, name string) doctor.Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", name, r.Steps)
	return doctor.Step{}
}

// wantStep checks a step's status and that its text (found and fix)
// contains each of the fragments.
func wantStep(t *testing.T, r *doctor.Report, name string, st doctor.Status, fragments ...string) {
	t.Helper()
	s := stepOf(t, r, name)
	if s.Status != st {
		t.Errorf("step %s: %s (%s; fix %s), want %s", name, s.Status, s.Found, s.Fix, st)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(s.Found+" | "+s.Fix, f) {
			t.Errorf("step %s: %q / fix %q lacks %q", name, s.Found, s.Fix, f)
		}
	}
	if (st == doctor.StatusFail || st == doctor.StatusWarn) && s.Fix == "" {
		t.Errorf("step %s is %s with no fix", name, st)
	}
}

// TestDoctor runs `coordinator doctor --config` against the coordinator on
// the real Synapse and LiveKit: with a correct .well-known every step is
// ok but TURN (the test Synapse has none: an explained warning) and it
// exits 0; then against broken variants, each failure named with its fix.
// No report, text or JSON, holds a secret of the configuration or the
// bot's stored token.
func TestDoctor(t *testing.T) {
	s := startDoctorStack(t)
	env := s.env
	svc := env.ServiceURL

	t.Run("ok", func(t *testing.T) {
		r, _, err := s.runDoctorCmd(t, "--config", s.config, "--base", wellKnownServer(t, env.HSURL, svc), env.ServerName)
		if err != nil || !r.OK {
			t.Errorf("doctor: %v", err)
		}
		for _, st := range r.Steps {
			want := doctor.StatusOK
			if st.Name == "turn" {
				want = doctor.StatusWarn
			}
			if st.Status != want {
				t.Errorf("step %s: %s (%s), want %s", st.Name, st.Status, st.Found, want)
			}
		}
		wantStep(t, r, "livekit_webhook", doctor.StatusOK, "reached the service")
		wantStep(t, r, "delayed_events", doctor.StatusOK, "24h0m0s")
		wantStep(t, r, "turn", doctor.StatusWarn, "turn_uris")
		wantStep(t, r, "bot_keys", doctor.StatusOK, "curve25519 and ed25519")
	})

	t.Run("well-known points at a closed port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + ln.Addr().String()
		ln.Close()
		r, _, err := s.runDoctorCmd(t, "--config", s.config, "--base", wellKnownServer(t, env.HSURL, closed), env.ServerName)
		if err == nil || r.OK {
			t.Error("doctor passed")
		}
		wantStep(t, r, "rtc_foci", doctor.StatusWarn, "they differ", "matrix_rtc.transports")
		wantStep(t, r, "service_healthz", doctor.StatusFail, "connection refused", "run the coordinator")
		wantStep(t, r, "service_sfu_get", doctor.StatusSkipped)
	})

	t.Run("well-known points at Synapse", func(t *testing.T) {
		r, _, err := s.runDoctorCmd(t, "--config", s.config, "--base", wellKnownServer(t, env.HSURL, env.HSURL), env.ServerName)
		if err == nil || r.OK {
			t.Error("doctor passed")
		}
		wantStep(t, r, "service_sfu_get", doctor.StatusFail, "points at the homeserver", "coordinator's public URL")
	})

	t.Run("proxy keeps the prefix", func(t *testing.T) {
		proxy := proxyTo(t, svc, nil) + "/livekit/jwt"
		r, _, err := s.runDoctorCmd(t, "--config", s.config, "--base", wellKnownServer(t, env.HSURL, proxy), env.ServerName)
		if err == nil || r.OK {
			t.Error("doctor passed")
		}
		wantStep(t, r, "service_healthz", doctor.StatusFail, "/livekit/jwt/healthz unchanged", "proxy_pass http://127.0.0.1:8080/;")
		wantStep(t, r, "service_sfu_get", doctor.StatusFail, "/livekit/jwt/sfu/get unchanged", "strip the prefix", "proxy_pass http://127.0.0.1:8080/;")
		wantStep(t, r, "service_cors", doctor.StatusSkipped)
	})

	t.Run("proxy drops CORS", func(t *testing.T) {
		proxy := proxyTo(t, svc, func(res *http.Response) error {
			for k := range res.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					res.Header.Del(k)
				}
			}
			return nil
		})
		r, _, err := s.runDoctorCmd(t, "--config", s.config, "--base", wellKnownServer(t, env.HSURL, proxy), env.ServerName)
		if err == nil || r.OK {
			t.Error("doctor passed")
		}
		wantStep(t, r, "service_sfu_get", doctor.StatusOK)
		wantStep(t, r, "service_cors", doctor.StatusFail, "Access-Control-Allow-Origin", "CORS headers through the proxy")
	})

	t.Run("wrong LiveKit secret", func(t *testing.T) {
		wrong := "wrong-livekit-secret-0123456789abcdef"
		s.secrets = append(s.secrets, secret.Value(wrong))
		cfg := s.writeConfig(t, "wrong-secret.yaml", wrong)
		r, _, err := s.runDoctorCmd(t, "--config", cfg, "--base", wellKnownServer(t, env.HSURL, svc), env.ServerName)
		if err == nil || r.OK {
			t.Error("doctor passed")
		}
		wantStep(t, r, "livekit_api", doctor.StatusFail, "wrong key or secret", "livekit.secret")
		wantStep(t, r, "livekit_webhook", doctor.StatusSkipped)
	})

	t.Run("without config", func(t *testing.T) {
		r, _, err := s.runDoctorCmd(t, "--base", wellKnownServer(t, env.HSURL, svc), env.ServerName)
		if err != nil || !r.OK {
			t.Errorf("doctor: %v", err)
		}
		wantStep(t, r, "livekit_webhook", doctor.StatusOK, "received")
		wantStep(t, r, "bot_login", doctor.StatusSkipped)
	})
}
