package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/logbuf"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/callwire"
)

// TestMeshICERestart: a device's media path is cut mid-call (its one
// socket drops every packet both ways; the coordinator is not touched).
// The coordinator's connection to it goes disconnected and restarts ICE:
// a negotiate offer with a new ice-ufrag reaches the device, which
// answers it. Once that offer has come the path is restored, and the
// same call recovers on the new ICE credentials: the echo comes back
// again. Four outages in a row, one more than the three restarts a call
// gets (mesh.maxICERestarts): a recovered connection starts counting
// afresh, as the SDK's does. No hangup was sent, no new call replaced
// the first, and the coordinator logged its restarts.
func TestMeshICERestart(t *testing.T) {
	env := testenv.Require(t)
	api, path := callwire.CuttableAPI(t)
	var logs logbuf.Buffer
	_, bot, _, peers := meshRigWith(t, env, meshOpts{logs: &logs, api: api}, "amy")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("coordinator log:\n%s", logs.String())
		}
	})
	amy := peers[0]
	amy.Start(bot)
	waitFor(t, 60*time.Second, "amy hearing her own packets echoed", func() bool { return amy.Heard().Own > 50 })
	callID := amy.CallID()

	const outages = 4
	var ufrag string
	for i := 1; i <= outages; i++ {
		path.Cut()
		select {
		case ufrag = <-amy.Restarts():
		case id := <-amy.Hangups():
			t.Fatalf("outage %d: the bot hung up call %s without restarting ICE", i, id)
		case <-time.After(2 * time.Minute): // a hang guard: pion calls a silent path disconnected after 5 s
			t.Fatalf("outage %d: no ICE restart offer reached amy (%s)", i, amy.State())
		}
		path.Restore()
		base := amy.Heard().Own
		waitFor(t, 60*time.Second, fmt.Sprintf("amy hearing her echo again after outage %d", i), func() bool {
			return amy.Heard().Own > base+100
		})
	}

	if id := amy.CallID(); id != callID {
		t.Errorf("amy's call is %q after the restarts, want the same call %q", id, callID)
	}
	select {
	case id := <-amy.Hangups():
		t.Errorf("the bot hung up call %s", id)
	default:
	}
	if sdp := amy.Voice().PC().RemoteDescription().SDP; !strings.Contains(sdp, "a=ice-ufrag:"+ufrag+"\r\n") {
		t.Errorf("amy's call is not on the last restart's credentials (ice-ufrag %s):\n%s", ufrag, sdp)
	}
	if !jsonLogHas(&logs, func(l meshLog) bool { return l.Msg == "mesh: ICE restart" && l.Attempt == 1 }) {
		t.Error("the coordinator did not log ICE restart attempt 1")
	}
	if jsonLogHas(&logs, func(l meshLog) bool { return l.Msg == "mesh: call ended" }) {
		t.Error("the coordinator's peer ended its call")
	}
}

// meshLog is a line of the coordinator's JSON log about a mesh peer.
type meshLog struct {
	Msg, Reason string
	Attempt     int
}
