package main

import (
	"context"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

// TestEventTee: the feed gets every event in order, the exchange the
// to-device ones; both outputs close when the stream closes, and a stuck
// consumer does not keep the tee alive past ctx.
func TestEventTee(t *testing.T) {
	leakcheck.Check(t)
	in := make(chan matrixbot.Event)
	tee := newEventTee()
	done := make(chan error, 1)
	go func() { done <- tee.Run(t.Context(), in) }()
	kinds := []matrixbot.Kind{matrixbot.KindState, matrixbot.KindToDevice, matrixbot.KindSyncDone, matrixbot.KindToDevice}
	go func() {
		for i, k := range kinds {
			in <- matrixbot.Event{Kind: k, Batch: string(rune('a' + i))}
		}
		close(in)
	}()
	var all, td string
	for ev := range tee.All() {
		all += ev.Batch
	}
	for ev := range tee.ToDevice() {
		td += ev.Batch
	}
	if all != "abcd" || td != "bd" {
		t.Errorf("all %q, to-device %q", all, td)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Nobody reads: cancelling ctx still ends Run.
	ctx, cancel := context.WithCancel(t.Context())
	in = make(chan matrixbot.Event, teeBuffer+2)
	for range teeBuffer + 2 {
		in <- matrixbot.Event{Kind: matrixbot.KindToDevice}
	}
	tee = newEventTee()
	go func() { done <- tee.Run(ctx, in) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
