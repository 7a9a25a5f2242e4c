package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckConfigDelegationStore: check-config says when delegated leaves
// would be kept in memory only (no data_dir to keep them in) and is quiet
// when data_dir exists; the delegation keys are checked with the rest.
func TestCheckConfigDelegationStore(t *testing.T) {
	check := func(env map[string]string) (string, error) {
		var out bytes.Buffer
		err := run(t.Context(), []string{"coordinator", "check-config"}, envOf(env), &out, &out)
		return out.String(), err
	}
	env := minimalEnv()
	env["SWITCHBOARD_DATA_DIR"] = filepath.Join(t.TempDir(), "absent")
	if out, err := check(env); err != nil || !strings.Contains(out, "kept in memory only (data_dir "+env["SWITCHBOARD_DATA_DIR"]+" does not exist)") {
		t.Errorf("absent data_dir: %v\n%s", err, out)
	}
	env["SWITCHBOARD_DATA_DIR"] = t.TempDir()
	if out, err := check(env); err != nil || strings.Contains(out, "memory only") {
		t.Errorf("existing data_dir: %v\n%s", err, out)
	}
	env["SWITCHBOARD_LIVEKIT_DELEGATION_GRACE"] = "-1s"
	env["SWITCHBOARD_LIVEKIT_DELEGATION_MAX_PER_USER"] = "0"
	out, err := check(env)
	for _, want := range []string{"livekit.delegation_grace:", "livekit.delegation_max_per_user: must be at least 1"} {
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestDelegationDefaults: departures are looked for by default (issue #10).
func TestDelegationDefaults(t *testing.T) {
	lk := defaultConfig().LiveKit
	if lk.SanityCheckInterval != 5*time.Second || lk.DelegationGrace != 3*time.Second || lk.DelegationMaxPerUser != 8 {
		t.Errorf("defaults: sanity %s, grace %s, per user %d", lk.SanityCheckInterval, lk.DelegationGrace, lk.DelegationMaxPerUser)
	}
}
