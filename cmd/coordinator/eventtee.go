package main

import (
	"context"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

// teeBuffer is each output's buffer: room to absorb one consumer's short
// pause without stalling the other.
const teeBuffer = 64

// eventTee hands every event of the bot's stream, in order, to the
// membership feed, and the to-device ones also to the key exchange. Both
// outputs are lossless: a consumer that falls behind slows the tee (and so
// the bot's sync), as the bot's stream does by itself. Run closes both
// outputs when the stream closes or ctx ends, so neither consumer waits on
// a tee that is gone, and the tee never waits on a consumer once ctx ended.
type eventTee struct {
	all      chan matrixbot.Event
	toDevice chan matrixbot.Event
}

func newEventTee() *eventTee {
	return &eventTee{all: make(chan matrixbot.Event, teeBuffer), toDevice: make(chan matrixbot.Event, teeBuffer)}
}

// All is the whole stream (the feed's input).
func (t *eventTee) All() <-chan matrixbot.Event { return t.all }

// ToDevice is the to-device part (the exchange's input).
func (t *eventTee) ToDevice() <-chan matrixbot.Event { return t.toDevice }

// Run copies in to the outputs until in closes or ctx ends.
func (t *eventTee) Run(ctx context.Context, in <-chan matrixbot.Event) error {
	defer close(t.all)
	defer close(t.toDevice)
	for {
		var ev matrixbot.Event
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-in:
			if !ok {
				return nil
			}
			ev = e
		}
		if !forward(ctx, t.all, ev) {
			return nil
		}
		if ev.Kind == matrixbot.KindToDevice && !forward(ctx, t.toDevice, ev) {
			return nil
		}
	}
}

func forward(ctx context.Context, out chan<- matrixbot.Event, ev matrixbot.Event) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
