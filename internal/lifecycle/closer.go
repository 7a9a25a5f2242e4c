// Package lifecycle holds the one piece of our component lifecycle that
// every Run/Close pair repeats: Close must end a Run that is running, and
// a Run that starts after Close must end at once, without a watcher
// goroutine that would outlive Run.
package lifecycle

import (
	"context"
	"sync"
)

// Closer is embedded (or held) by a component whose Run is ended by Close.
// The zero value is ready to use.
type Closer struct {
	mu     sync.Mutex
	closed bool
	cancel context.CancelFunc
}

// Start derives Run's context from ctx: it ends with ctx, on Close, or at
// once if Close came first. Run defers the returned cancel.
func (c *Closer) Start(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.cancel = cancel
	if c.closed {
		cancel()
	}
	c.mu.Unlock()
	return ctx, cancel
}

// Close ends Run's context (now, or when Run starts); it is idempotent.
func (c *Closer) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.cancel != nil {
		c.cancel()
	}
}
