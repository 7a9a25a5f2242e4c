package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envOf turns a map into a getenv function.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// minimalEnv is what lk-jwt-service needs to start.
func minimalEnv() map[string]string {
	return map[string]string{
		"LIVEKIT_URL":                     "ws://127.0.0.1:9", // loopback, nothing listens: tests never leave the machine
		"LIVEKIT_KEY":                     "devkey",
		"LIVEKIT_SECRET":                  "devsecret",
		"LIVEKIT_FULL_ACCESS_HOMESERVERS": "example.org",
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckConfigPrintsEveryProblem(t *testing.T) {
	path := writeFile(t, "c.yaml", `
log:
  level: loud
http:
  bindd: ":8080"
livekit:
  url: wss://sfu.example.org
  key: k
  secret: s
  token_ttl: forever
  full_access_homeservers: [example.org]
`)
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"coordinator", "check-config", "--config", path}, envOf(nil), &out, &errOut)
	if err == nil {
		t.Fatal("check-config accepted a bad config")
	}
	for _, want := range []string{
		`log.level: "loud" is not one of`,
		`http.bindd: unknown key (line 5)`,
		`livekit.token_ttl: "forever" is not a duration`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCheckConfigAcceptsGoodFileAndEnvOnly(t *testing.T) {
	path := writeFile(t, "c.yaml", `
log: {level: debug, format: json}
http: {bind: "127.0.0.1:9000"}
livekit:
  url: ws://127.0.0.1:7880
  key: devkey
  secret: devsecret
matrix:
  homeserver_url: http://127.0.0.1:8008
  server_name: localhost
  bot: {user_id: "@switchboard:localhost", password: pw}
data_dir: /tmp/sb
calls: {join: invited, rooms: {"!a:localhost": all}}
`)
	for name, args := range map[string][]string{
		"file":     {"coordinator", "check-config", "--config", path},
		"env only": {"coordinator", "check-config"},
	} {
		var out bytes.Buffer
		if err := run(t.Context(), args, envOf(minimalEnv()), &out, &out); err != nil {
			t.Errorf("%s: %v\n%s", name, err, out.String())
		}
	}
}

func TestLoadFileThenEnv(t *testing.T) {
	path := writeFile(t, "c.yaml", "livekit: {url: ws://file, key: filekey, secret: filesecret}\nmatrix: {server_name: example.org}\n")
	env := map[string]string{"LIVEKIT_URL": "wss://env", "SWITCHBOARD_LIVEKIT_TOKEN_TTL": "2h"}
	cfg, _, err := loadConfig(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LiveKit.URL != "wss://env" || cfg.LiveKit.Key != "filekey" || cfg.LiveKit.TokenTTL != 2*time.Hour {
		t.Errorf("env did not override file: %+v", cfg.LiveKit)
	}
	// full_access_homeservers defaults to the bot's own server name.
	if !reflect.DeepEqual(cfg.LiveKit.FullAccessHomeservers, []string{"example.org"}) {
		t.Errorf("full access default = %v", cfg.LiveKit.FullAccessHomeservers)
	}
}

func TestConfigDocMatchesREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- config-doc:begin -->\n", "<!-- config-doc:end -->"
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	if got := s[i+len(begin) : j]; got != configDoc() {
		t.Errorf("README.md configuration table is stale; regenerate it with `go run ./cmd/coordinator config-doc`.\nwant:\n%s", configDoc())
	}
}

func TestEveryFieldDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range configFields() {
		if f.doc == "" {
			t.Errorf("%s has no doc tag", f.key)
		}
		if seen[f.env] {
			t.Errorf("%s: duplicate variable %s", f.key, f.env)
		}
		seen[f.env] = true
	}
}

// TestDeployExampleConfigIsValid keeps the admins' example config true.
func TestDeployExampleConfigIsValid(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"coordinator", "check-config", "--config", "../../deploy/switchboard/config.yaml"}, envOf(minimalEnv()), &out, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
}

func TestE2EEConfigChecks(t *testing.T) {
	env := minimalEnv()
	env["SWITCHBOARD_E2EE_FAMEDLY_EVENT_TYPES"] = "com.famedly.call.encryption_keys,io.element.call.encryption_keys"
	env["SWITCHBOARD_E2EE_HOLD_FOR"] = "0s"
	env["SWITCHBOARD_E2EE_FAMEDLY_USE_DELAY"] = "2m"
	_, _, err := loadConfig("", envOf(env))
	if err == nil {
		t.Fatal("bad e2ee section accepted")
	}
	for _, key := range []string{"e2ee.famedly_event_types", "e2ee.hold_for", "e2ee.famedly_use_delay"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("no complaint about %s in %v", key, err)
		}
	}
	env = minimalEnv()
	env["SWITCHBOARD_E2EE_FAMEDLY_EVENT_TYPES"] = "com.famedly.call.member.encryption_keys"
	cfg, _, err := loadConfig("", envOf(env))
	if err != nil || len(cfg.E2EE.FamedlyEventTypes) != 1 || cfg.E2EE.RTCRotateDelay != 0 || cfg.E2EE.FamedlyRotateDelay != 4*time.Second {
		t.Fatalf("%+v %v", cfg.E2EE, err)
	}
}
