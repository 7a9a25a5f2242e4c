package main

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/callsim"
)

// TestKeyDistribution runs the coordinator in an 8-member MatrixRTC call (it
// and 7 simulated Element Call devices with the js-sdk's key rollout, see
// callsim) in an encrypted room on the real Synapse. A joiner 2 s after the
// last key change (members reuse their current key) and one after 11 s
// without a key change (every member makes a new key) must each get a valid
// Olm-encrypted key from all 8, the coordinator's among them. It checks
// correctness only; bench/keydist measures the times (BENCHMARKS.md).
func TestKeyDistribution(t *testing.T) {
	env := testenv.Require(t)
	_, bot := startBotCoordinator(t, env, map[string]string{"SWITCHBOARD_CALLS_JOIN": "all"})
	call := callsim.NewCall(t, env, bot, 2)
	call.Join(t, call.Joiners[0], 2*time.Second)
	call.Join(t, call.Joiners[1], 11*time.Second)
}
