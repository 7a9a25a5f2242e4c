package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// LiveKit is a livekit-server of one test's own, on loopback ports of its
// own, for tests that stop and restart LiveKit: the shared one serves every
// other test and must never go down. Same binary and settings as the shared
// one (no auto-created rooms), but no webhooks.
type LiveKit struct {
	URL     string // ws://127.0.0.1:port
	HTTPURL string
	Key     string
	Secret  string

	t      testing.TB
	bin    string
	config string
	log    string
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
}

// liveKitReadyTimeout bounds a start: a server that does not answer by then
// is broken, not slow.
const liveKitReadyTimeout = 30 * time.Second

// liveKitStopTimeout bounds a stop before the server is killed.
const liveKitStopTimeout = 15 * time.Second

// StartLiveKit starts a livekit-server for t alone, built by scripts/testenv
// next to env's, and waits until it answers. The test's end stops it; on
// failure its log is shown.
func StartLiveKit(t testing.TB, env *Env) *LiveKit {
	t.Helper()
	// The env file is $CACHE/instances/$INSTANCE/env; the binary $CACHE/bin/livekit-server.
	bin := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(env.File))), "bin", "livekit-server")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("livekit-server of the test environment: %v; %s", err, howToFix)
	}
	port, udp := freeLoopbackPort(t, "tcp"), freeLoopbackPort(t, "udp")
	for udp == port {
		udp = freeLoopbackPort(t, "udp")
	}
	dir := t.TempDir()
	lk := &LiveKit{
		URL: fmt.Sprintf("ws://127.0.0.1:%d", port), HTTPURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		Key: "devkey", Secret: randomHex(t, 24),
		t: t, bin: bin, config: filepath.Join(dir, "livekit.yaml"), log: filepath.Join(dir, "livekit.log"),
	}
	// The shared instance's settings (scripts/testenv write_livekit_config).
	cfg := fmt.Sprintf(`port: %d
bind_addresses: ["127.0.0.1"]
keys:
  %s: %s
rtc:
  tcp_port: 0
  udp_port: %d
  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  interfaces:
    includes: ["lo"]
  ips:
    includes: ["127.0.0.1/32"]
  stun_servers: ["127.0.0.1:3478"]
room:
  auto_create: false
logging:
  level: info
`, port, lk.Key, lk.Secret, udp)
	if err := os.WriteFile(lk.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lk.Stop()
		if t.Failed() {
			raw, _ := os.ReadFile(lk.log)
			if len(raw) > 64<<10 {
				raw = raw[len(raw)-64<<10:]
			}
			t.Logf("the test's livekit-server log (%s), last part:\n%s", lk.log, raw)
		}
	})
	lk.Start()
	return lk
}

// Start runs the server (again, on the same ports) and returns once its
// HTTP port answers; a server that does not come up fails the test.
func (lk *LiveKit) Start() {
	lk.t.Helper()
	if lk.cmd != nil {
		lk.t.Fatal("testenv: LiveKit.Start while it runs")
	}
	logf, err := os.OpenFile(lk.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		lk.t.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n===== testenv: starting livekit-server %s =====\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(lk.bin, "--config", lk.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + os.Getenv("HOME")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lk.t.Fatalf("start livekit-server: %v", err)
	}
	lk.cmd, lk.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(lk.exited)
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(liveKitReadyTimeout)
	for {
		if res, err := client.Get(lk.HTTPURL + "/"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-lk.exited:
			lk.cmd = nil
			lk.t.Fatalf("livekit-server exited during startup (%v); log %s", cmd.ProcessState, lk.log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			lk.t.Fatalf("livekit-server did not answer %s within %v; log %s", lk.HTTPURL, liveKitReadyTimeout, lk.log)
		}
	}
}

// Stop ends the server as an operator's stop would, SIGTERM, and waits for
// it to exit. livekit-server waits for its rooms to drain on the first
// signal and leaves on the second, so, like scripts/testenv, it sends a
// second after 1 s; a server still there after liveKitStopTimeout is killed.
// Stopping a stopped server does nothing.
func (lk *LiveKit) Stop() {
	if lk.cmd == nil {
		return
	}
	p, exited := lk.cmd.Process, lk.exited
	lk.cmd = nil
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(time.Second):
	}
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(liveKitStopTimeout):
		_ = p.Kill()
		<-exited
	}
}

// freeLoopbackPort picks a port free on 127.0.0.1 for proto, below the
// ephemeral range (as scripts/testenv does), so that no outgoing connection
// takes it while the server is down between a stop and a start.
func freeLoopbackPort(t testing.TB, proto string) int {
	t.Helper()
	lo := 32768
	if raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(raw)); len(f) > 0 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				lo = n
			}
		}
	}
	lo = max(lo, 20100)
	for range 1000 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(lo-20000)))
		if err != nil {
			t.Fatal(err)
		}
		port := 20000 + int(n.Int64())
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if proto == "udp" {
			if c, err := net.ListenPacket("udp", addr); err == nil {
				c.Close()
				return port
			}
		} else if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal(errors.New("testenv: no free loopback port"))
	return 0
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
