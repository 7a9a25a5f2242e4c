// Package browser drives a real Chromium running the real livekit-client, for
// acceptance tests that need a browser participant in a LiveKit call.
//
// Start serves our page (js/index.html, js/page.js) and livekit-client's
// build on 127.0.0.1 and starts js/driver.mjs under node, which launches
// Debian's /usr/bin/chromium with playwright-core and relays JSON commands
// (one line each way) between Go and the pages. Each Join opens one page,
// which joins a room with E2EE keyed per participant as Element Call does,
// can publish a tone, and reports what it hears (Page.Report).
//
// scripts/browser-deps (run by `scripts/testenv up`) installs Chromium and
// the npm packages pinned in js/package-lock.json. A missing piece fails the
// test; nothing here skips.
package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

// Chromium is the browser the driver launches (Debian's package).
const Chromium = "/usr/bin/chromium"

// Hang guards: how long the driver may take to launch Chromium, and to end
// after its stdin is closed before it and Chromium are killed.
const (
	startTimeout  = 90 * time.Second
	closeTimeout  = 15 * time.Second
	lingerTimeout = 5 * time.Second
)

var (
	// ErrGone is returned by calls after the driver ended (Close, or a crash).
	ErrGone = errors.New("browser driver ended")
	// ErrPage is an error the page or the driver reported for a command.
	ErrPage = errors.New("browser command failed")
)

// Browser is one Chromium, driven by one node process, with its page server.
type Browser struct {
	t      testing.TB
	jsDir  string
	srv    *http.Server
	served chan struct{} // closed when srv.Serve returned
	base   string        // http://127.0.0.1:port/
	log    logbuf.Buffer // driver stderr, page console, events

	cmd      *exec.Cmd
	stdinMu  sync.Mutex
	stdin    interface{ Write([]byte) (int, error) }
	closeIn  func() error
	exited   chan struct{} // closed when the driver's stdout ended
	ready    chan string   // the driver's ready line
	children []int         // pids of the processes node started (Chromium)

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan reply
	pages   []*Page

	closeOnce sync.Once
}

// reply is one line from the driver: a command's answer (ID > 0) or an event.
type reply struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *string         `json:"error"`
	Event  string          `json:"event"`
	Page   int             `json:"page"`
	Text   string          `json:"text"`
	Pids   []int           `json:"pids"`
}

// jsDir is js/ next to this source file: tests of any package find it.
func jsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "js")
}

// missing lists what scripts/browser-deps should have installed but did not.
func missing(dir string) []string {
	var out []string
	for _, p := range []string{
		Chromium,
		filepath.Join(dir, "node_modules", "playwright-core", "package.json"),
		filepath.Join(dir, "node_modules", "livekit-client", "dist", "livekit-client.esm.mjs"),
		filepath.Join(dir, "node_modules", "livekit-client", "dist", "livekit-client.e2ee.worker.js"),
	} {
		if _, err := os.Stat(p); err != nil {
			out = append(out, p)
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		out = append(out, "node (in PATH)")
	}
	return out
}

// Start launches Chromium for t and closes it when t ends; on failure the
// browser's log goes to t.Log. A missing Chromium or npm package fails t.
func Start(t testing.TB) *Browser {
	t.Helper()
	dir := jsDir()
	if m := missing(dir); len(m) > 0 {
		t.Fatalf("the browser harness needs %s: run scripts/browser-deps (scripts/testenv up runs it)", strings.Join(m, ", "))
	}
	b := &Browser{t: t, jsDir: dir, served: make(chan struct{}), exited: make(chan struct{}),
		ready: make(chan string, 1), pending: map[int64]chan reply{}}
	t.Cleanup(func() {
		b.Close()
		if t.Failed() {
			b.dumpLog()
		}
	})
	if err := b.serve(); err != nil {
		t.Fatalf("browser harness page server: %v", err)
	}
	if err := b.startDriver(); err != nil {
		t.Fatalf("browser harness driver: %v", err)
	}
	select {
	case line := <-b.ready:
		b.logf("driver: %s", line)
	case <-b.exited:
		t.Fatalf("browser harness: the driver ended before Chromium was up:\n%s", b.log.String())
	case <-time.After(startTimeout):
		t.Fatalf("browser harness: Chromium not up after %v:\n%s", startTimeout, b.log.String())
	}
	return b
}

// serve starts the page server on a random loopback port.
func (b *Browser) serve() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.base = "http://" + ln.Addr().String() + "/"
	mux := http.NewServeMux()
	lk := http.Dir(filepath.Join(b.jsDir, "node_modules", "livekit-client", "dist"))
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.Handle("/lk/", http.StripPrefix("/lk/", http.FileServer(lk)))
	for path, file := range map[string]string{"/": "index.html", "/page.js": "page.js"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path {
				http.NotFound(w, r)
				return
			}
			http.ServeFile(w, r, filepath.Join(b.jsDir, file))
		})
	}
	// Module scripts need a JavaScript type, whatever the host's mime table says.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".js") || strings.HasSuffix(r.URL.Path, ".mjs") {
			w.Header().Set("Content-Type", "text/javascript")
		}
		mux.ServeHTTP(w, r)
	})
	b.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(b.served)
		_ = b.srv.Serve(ln)
	}()
	return nil
}

func (b *Browser) startDriver() error {
	cmd := exec.Command("node", filepath.Join(b.jsDir, "driver.mjs"))
	cmd.Dir = b.jsDir
	cmd.Env = append(os.Environ(), "SWB_CHROMIUM="+Chromium)
	// Own process group, and gone with the test binary if it dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = prefixWriter{b, "node stderr: "}
	cmd.WaitDelay = closeTimeout
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start node: %w", err)
	}
	b.cmd, b.stdin, b.closeIn = cmd, in, in.Close
	go b.readLoop(bufio.NewScanner(out))
	return nil
}

// readLoop hands each answer to its caller and logs events, until stdout ends.
func (b *Browser) readLoop(sc *bufio.Scanner) {
	defer func() {
		b.mu.Lock()
		for id, ch := range b.pending {
			close(ch)
			delete(b.pending, id)
		}
		b.mu.Unlock()
		close(b.exited)
	}()
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var r reply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			b.logf("driver stdout: %s", sc.Text())
			continue
		}
		switch {
		case r.ID > 0:
			b.mu.Lock()
			ch := b.pending[r.ID]
			delete(b.pending, r.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		case r.Event == "ready":
			b.mu.Lock()
			b.children = r.Pids
			b.mu.Unlock()
			b.ready <- r.Text
		default:
			b.logf("page %d %s", r.Page, r.Text)
		}
	}
}

// call sends one command and waits for its answer.
func (b *Browser) call(ctx context.Context, cmd map[string]any, out any) error {
	ch := make(chan reply, 1)
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
	}()
	cmd["id"] = id
	line, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	b.stdinMu.Lock()
	_, err = b.stdin.Write(append(line, '\n'))
	b.stdinMu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrGone, err)
	}
	select {
	case r, ok := <-ch:
		switch {
		case !ok:
			return ErrGone
		case r.Error != nil:
			return fmt.Errorf("%w: %s %v: %s", ErrPage, cmd["op"], cmd["fn"], *r.Error)
		case out != nil:
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-b.exited:
		return ErrGone
	case <-ctx.Done():
		return fmt.Errorf("browser %s %v: %w", cmd["op"], cmd["fn"], ctx.Err())
	}
}

// Close ends every page, Chromium and node, and the page server. It leaves
// no process behind: what does not end within closeTimeout is killed.
// Idempotent; Start's cleanup calls it too.
func (b *Browser) Close() {
	b.closeOnce.Do(func() {
		if b.cmd != nil {
			b.stdinMu.Lock()
			_ = b.closeIn() // the driver closes the browser and exits
			b.stdinMu.Unlock()
			select {
			case <-b.exited:
			case <-time.After(closeTimeout):
				b.logf("driver did not end within %v; killing it", closeTimeout)
				_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
				<-b.exited
			}
			// Chromium runs in process groups of its own (playwright detaches
			// it); its helpers may linger a moment after the browser closed.
			if !b.awaitNoLeftovers() {
				for _, g := range b.groups() {
					_ = syscall.Kill(-g, syscall.SIGKILL)
				}
				if !b.awaitNoLeftovers() {
					b.logf("processes survived SIGKILL: %v", b.leftovers())
				}
			}
			_ = b.cmd.Wait()
		}
		if b.srv != nil {
			_ = b.srv.Close()
			<-b.served
		}
	})
}

// groups are the process groups of node and of what it started (Chromium).
// Node is not reaped before Close's cmd.Wait, so its group id stays ours.
func (b *Browser) groups() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int{b.cmd.Process.Pid}, b.children...)
}

// leftovers lists the live (not zombie) processes in our groups.
func (b *Browser) leftovers() []int {
	groups := map[int]bool{}
	for _, g := range b.groups() {
		groups[g] = true
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range dirs {
		stat, err := os.ReadFile(f)
		if err != nil {
			continue // ended meanwhile
		}
		// After the command's closing parenthesis: state ppid pgrp ...
		i := strings.LastIndexByte(string(stat), ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 3 || fields[0] == "Z" {
			continue
		}
		var pid, pgrp int
		_, _ = fmt.Sscan(filepath.Base(filepath.Dir(f)), &pid)
		_, _ = fmt.Sscan(fields[2], &pgrp)
		if groups[pgrp] {
			out = append(out, pid)
		}
	}
	return out
}

// awaitNoLeftovers waits up to lingerTimeout for our processes to end.
func (b *Browser) awaitNoLeftovers() bool {
	deadline := time.Now().Add(lingerTimeout)
	for len(b.leftovers()) > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func (b *Browser) logf(format string, args ...any) {
	fmt.Fprintf(&b.log, time.Now().UTC().Format("15:04:05.000 ")+format+"\n", args...)
}

// dumpLog writes the browser's log and each page's last report to t.Log.
func (b *Browser) dumpLog() {
	b.t.Logf("browser log:\n%s", b.log.String())
	b.mu.Lock()
	pages := append([]*Page(nil), b.pages...)
	b.mu.Unlock()
	for _, p := range pages {
		if r := p.lastReport(); r != "" {
			b.t.Logf("page %d (%s) last report: %s", p.id, p.identity, r)
		}
	}
}

// prefixWriter logs the driver's stderr line by line.
type prefixWriter struct {
	b      *Browser
	prefix string
}

func (w prefixWriter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		w.b.logf("%s%s", w.prefix, line)
	}
	return len(p), nil
}
