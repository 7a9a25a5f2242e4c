// Package leakcheck fails a test that leaves goroutines behind. Call Check at
// the start of a test: at cleanup it waits briefly for goroutines started
// since then to end and reports the stacks of those that did not.
package leakcheck

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// settle is how long goroutines get to finish after the test body returns.
const settle = 5 * time.Second

// Check registers the leak check for t.
func Check(t testing.TB) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(settle)
		var leaked []string
		for {
			leaked = leaked[:0]
			for id, stack := range goroutines() {
				if _, ok := before[id]; !ok && !ignorable(stack) {
					leaked = append(leaked, stack)
				}
			}
			if len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(leaked) > 0 {
			t.Errorf("%d goroutine(s) leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
	})
}

// goroutines maps goroutine header ("goroutine 42") to its full stack.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, " [")
		out[header] = g
	}
	return out
}

// ignorable stacks belong to the runtime, the signal package (its loop starts
// once per process) or the test framework (other tests' goroutines), not to
// code under test.
func ignorable(stack string) bool {
	for _, s := range []string{
		"leakcheck.goroutines", "testing.tRunner(", "testing.(*M).", "testing.runTests",
		"os/signal.", "runtime.ensureSigM",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}
