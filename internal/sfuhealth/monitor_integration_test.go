package sfuhealth

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// firstState runs a monitor on rs until its first check is recorded.
func firstState(t *testing.T, rs Lister) Status {
	t.Helper()
	m := New(nil, Config{Timeout: 5 * time.Second}, rs)
	defer m.Close()
	ch := m.Changed()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	wait(t, ch, "first check")
	cancel()
	waitRun(t, done)
	return m.Status()
}

// TestRealLiveKitIsHealthy asks the testenv's livekit-server.
func TestRealLiveKitIsHealthy(t *testing.T) {
	env := testenv.Require(t)
	if st := firstState(t, env.RoomService()); st.State != StateHealthy || st.LastError != "" {
		t.Fatalf("status = %+v", st)
	}
}

// TestClosedPortIsUnreachable points the monitor at a loopback port nobody
// listens on: unreachable at the first check, with the refusal as reason.
func TestClosedPortIsUnreachable(t *testing.T) {
	env := testenv.Require(t) // for a real key and secret only
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rs := lksdk.NewRoomServiceClient("http://"+addr, env.LKKey, env.LKSecret.Reveal())
	st := firstState(t, rs)
	if st.State != StateUnreachable || st.ConsecutiveFailures != 1 || !strings.Contains(st.LastError, "connection refused") {
		t.Fatalf("status = %+v", st)
	}
	if strings.Contains(st.LastError, env.LKSecret.Reveal()) || strings.Contains(st.LastError, "eyJ") {
		t.Fatalf("LastError shows a credential: %q", st.LastError)
	}
	t.Logf("reason shown: %s", st.LastError)
}
