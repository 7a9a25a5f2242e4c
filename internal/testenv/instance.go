package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartInstance brings up an instance of its own (Synapse and LiveKit on
// free loopback ports, beside the shared "test" one) through scripts/testenv
// with extra environment (e.g. SWB_HS_DELAYED_EVENTS=off), for a test that
// needs servers configured differently; the instance is stopped when the
// test ends. Like Require, it fails (never skips) under CI=true.
func StartInstance(t testing.TB, name string, extra ...string) *Env {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("integration test skipped by -short; " + howToFix)
	}
	script, err := testenvScript()
	if err != nil {
		t.Fatalf("instance %s: %v", name, err)
	}
	var env []string
	for _, kv := range os.Environ() {
		// Fixed ports and another instance's names are the shared one's.
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SWB_") || strings.HasPrefix(k, "SWITCHBOARD_TESTENV_") && k != "SWITCHBOARD_TESTENV_DIR" {
			continue
		}
		env = append(env, kv)
	}
	env = append(append(env, "SWITCHBOARD_TESTENV_INSTANCE="+name), extra...)
	script1 := func(ctx context.Context, cmd string) ([]byte, error) {
		c := exec.CommandContext(ctx, script, cmd)
		c.Env = env
		c.WaitDelay = 10 * time.Second
		return c.CombinedOutput()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // hang guard: a first run builds
	defer cancel()
	// A fresh start: an instance left running would keep its old config.
	if out, err := script1(ctx, "down"); err != nil {
		t.Fatalf("scripts/testenv down (instance %s): %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := script1(ctx, "down"); err != nil {
			t.Errorf("scripts/testenv down (instance %s): %v\n%s", name, err, out)
		}
	})
	if out, err := script1(ctx, "up"); err != nil {
		t.Fatalf("scripts/testenv up (instance %s): %v\n%s", name, err, out)
	}
	e, err := Load(DefaultFile(func(k string) string {
		if k == "SWITCHBOARD_TESTENV_INSTANCE" {
			return name
		}
		if k == "SWITCHBOARD_TESTENV_FILE" {
			return ""
		}
		return os.Getenv(k)
	}))
	if err != nil {
		t.Fatalf("instance %s: %v", name, err)
	}
	if err := e.ping(t.Context()); err != nil {
		t.Fatalf("instance %s is not answering: %v", name, err)
	}
	return e
}

// testenvScript finds scripts/testenv above the working directory (a
// test runs in its package's directory).
func testenvScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "testenv"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
