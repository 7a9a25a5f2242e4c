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
	amy, path, logs := restartRig(t)
	callID := amy.CallID()
	var ufrag string
	for i := 1; i <= 4; i++ {
		ufrag = outage(t, amy, path, i, nil)
	}
	survived(t, amy, callID)
	if sdp := amy.Voice().PC().RemoteDescription().SDP; !strings.Contains(sdp, "a=ice-ufrag:"+ufrag+"\r\n") {
		t.Errorf("amy's call is not on the last restart's credentials (ice-ufrag %s):\n%s", ufrag, sdp)
	}
	if !jsonLogHas(logs, func(l meshLog) bool { return l.Msg == "mesh: ICE restart" && l.Attempt == 1 }) {
		t.Error("the coordinator did not log ICE restart attempt 1")
	}
	if jsonLogHas(logs, func(l meshLog) bool { return l.Msg == "mesh: call ended" }) {
		t.Error("the coordinator's peer ended its call")
	}
}

// TestMeshICERestartByDevice: the device restarts ICE itself (as the SDK
// does when its own connection goes down) as its path is cut. The
// coordinator answers the restart offer with new ICE credentials of its
// own (had its own restart offer crossed it, it would roll that back
// first: it is the polite side here); once that answer is in, the path is
// restored and the same call's echo comes back. Twice.
func TestMeshICERestartByDevice(t *testing.T) {
	amy, path, _ := restartRig(t)
	callID := amy.CallID()
	for i := 1; i <= 2; i++ {
		outage(t, amy, path, i, amy.RestartICE)
	}
	survived(t, amy, callID)
}

// restartRig is meshRig with one device, amy, on a path the test can cut,
// in a call with the bot whose echo she hears; it returns the
// coordinator's log too.
func restartRig(t *testing.T) (*callwire.Peer, *callwire.CutPath, *logbuf.Buffer) {
	t.Helper()
	env := testenv.Require(t)
	api, path := callwire.CuttableAPI(t)
	logs := &logbuf.Buffer{}
	_, bot, _, peers := meshRigWith(t, env, meshOpts{logs: logs, api: api}, "amy")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("coordinator log:\n%s", logs.String())
		}
	})
	amy := peers[0]
	amy.Start(bot)
	waitFor(t, 60*time.Second, "amy hearing her own packets echoed", func() bool { return amy.Heard().Own > 50 })
	return amy, path, logs
}

// outage cuts amy's path (then calls then, if set) until an ICE restart
// has been negotiated, then restores it and waits for her echo to come
// back; it returns the restart's remote ice-ufrag.
func outage(t *testing.T, amy *callwire.Peer, path *callwire.CutPath, i int, then func()) string {
	t.Helper()
	for len(amy.Restarts()) > 0 { // a late report of the last outage's restarts
		<-amy.Restarts()
	}
	path.Cut()
	if then != nil {
		then()
	}
	var ufrag string
	select {
	case ufrag = <-amy.Restarts():
	case id := <-amy.Hangups():
		t.Fatalf("outage %d: the bot hung up call %s without restarting ICE", i, id)
	case <-time.After(2 * time.Minute): // a hang guard: pion calls a silent path disconnected after 5 s
		t.Fatalf("outage %d: no ICE restart negotiated (%s)", i, amy.State())
	}
	path.Restore()
	base := amy.Heard().Own
	waitFor(t, 60*time.Second, fmt.Sprintf("amy hearing her echo again after outage %d", i), func() bool {
		return amy.Heard().Own > base+100
	})
	return ufrag
}

// survived checks that amy's call callID is still up: no hangup came and
// no other call replaced it.
func survived(t *testing.T, amy *callwire.Peer, callID string) {
	t.Helper()
	if id := amy.CallID(); id != callID {
		t.Errorf("amy's call is %q after the restarts, want the same call %q", id, callID)
	}
	select {
	case id := <-amy.Hangups():
		t.Errorf("the bot hung up call %s", id)
	default:
	}
}

// meshLog is a line of the coordinator's JSON log about a mesh peer.
type meshLog struct {
	Msg, Reason string
	Attempt     int
}
