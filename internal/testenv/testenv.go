// Package testenv connects integration tests to the real Synapse and
// livekit-server that scripts/testenv runs on loopback. It reads the env file
// that `scripts/testenv up` writes and offers the chores every integration
// test needs: users, rooms, OpenID tokens, a LiveKit RoomService client.
//
// A missing environment is a test failure, never a silent skip. Only outside
// CI, and only with -short, are integration tests skipped on purpose.
package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// Env is one running test environment.
type Env struct {
	File         string
	HSURL        string // Synapse client, federation and OpenID API, http://127.0.0.1:port
	ServerName   string
	SharedSecret secret.Value
	LKURL        string // ws://127.0.0.1:port
	LKHTTPURL    string
	LKKey        string
	LKSecret     secret.Value
	ServiceURL   string // where Synapse advertises the livekit_service_url
	vars         map[string]string
	http         *http.Client
}

// howToFix is the sentence every failure to find the environment ends with.
const howToFix = "run `make test`, or `scripts/testenv up` and then go test"

// DefaultFile is where scripts/testenv writes the env file for an instance,
// following the same variables as the script.
func DefaultFile(getenv func(string) string) string {
	if f := getenv("SWITCHBOARD_TESTENV_FILE"); f != "" {
		return f
	}
	dir := getenv("SWITCHBOARD_TESTENV_DIR")
	if dir == "" {
		cache := getenv("XDG_CACHE_HOME")
		if cache == "" {
			cache = filepath.Join(getenv("HOME"), ".cache")
		}
		dir = filepath.Join(cache, "switchboard-testenv")
	}
	inst := getenv("SWITCHBOARD_TESTENV_INSTANCE")
	if inst == "" {
		inst = "test"
	}
	return filepath.Join(dir, "instances", inst, "env")
}

// Require returns the running environment or fails the test with how to
// start it. Under CI=true nothing can skip it.
func Require(t testing.TB) *Env {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("integration test skipped by -short; " + howToFix)
	}
	env, err := Load(DefaultFile(os.Getenv))
	if err != nil {
		t.Fatalf("integration test needs the test environment (Synapse + LiveKit): %v; %s", err, howToFix)
	}
	if err := env.ping(t.Context()); err != nil {
		t.Fatalf("test environment in %s is not answering: %v; %s", env.File, err, howToFix)
	}
	return env
}

// Load reads an env file written by scripts/testenv.
func Load(path string) (*Env, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	e := &Env{
		File: path, vars: vars,
		HSURL: vars["SWB_HS_URL"], ServerName: vars["SWB_HS_SERVER_NAME"],
		SharedSecret: secret.Value(vars["SWB_HS_SHARED_SECRET"]),
		LKURL:        vars["SWB_LK_URL"], LKHTTPURL: vars["SWB_LK_HTTP_URL"],
		LKKey: vars["SWB_LK_KEY"], LKSecret: secret.Value(vars["SWB_LK_SECRET"]),
		ServiceURL: vars["SWB_SERVICE_URL"],
		http:       &http.Client{Timeout: 30 * time.Second},
	}
	for k, v := range map[string]string{"SWB_HS_URL": e.HSURL, "SWB_HS_SERVER_NAME": e.ServerName,
		"SWB_HS_SHARED_SECRET": e.SharedSecret.Reveal(), "SWB_LK_URL": e.LKURL, "SWB_LK_HTTP_URL": e.LKHTTPURL,
		"SWB_LK_KEY": e.LKKey, "SWB_LK_SECRET": e.LKSecret.Reveal()} {
		if v == "" {
			return nil, fmt.Errorf("%s: %s missing", path, k)
		}
	}
	return e, nil
}

// Var returns any variable of the env file.
func (e *Env) Var(name string) string { return e.vars[name] }

// HTTPClient is a client with a timeout, for talking to the servers.
func (e *Env) HTTPClient() *http.Client { return e.http }

// RoomService returns a LiveKit server API client for the test LiveKit.
func (e *Env) RoomService() *lksdk.RoomServiceClient {
	return lksdk.NewRoomServiceClient(e.LKHTTPURL, e.LKKey, e.LKSecret.Reveal())
}

func (e *Env) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, u := range []string{e.HSURL + "/_matrix/client/versions", e.LKHTTPURL + "/"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		res, err := e.http.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: HTTP %d", u, res.StatusCode)
		}
	}
	return nil
}
