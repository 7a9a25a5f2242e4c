package lifecycle

import (
	"context"
	"testing"
)

func TestCloserEndsRun(t *testing.T) {
	var c Closer
	ctx, cancel := c.Start(context.Background())
	defer cancel()
	if ctx.Err() != nil {
		t.Fatal("ended before Close")
	}
	c.Close()
	c.Close() // idempotent
	if ctx.Err() == nil {
		t.Fatal("Close did not end Run's context")
	}
}

func TestCloseBeforeStart(t *testing.T) {
	var c Closer
	c.Close()
	ctx, cancel := c.Start(context.Background())
	defer cancel()
	if ctx.Err() == nil {
		t.Fatal("a Run started after Close did not end at once")
	}
}
