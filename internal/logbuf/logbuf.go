// Package logbuf is a log sink that concurrent writers (a component's
// logger) and a reader (a test, a client's log dump) share safely.
package logbuf

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects writes under a mutex; the zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count reports how many times s occurs in what was written.
func (b *Buffer) Count(s string) int { return strings.Count(b.String(), s) }
