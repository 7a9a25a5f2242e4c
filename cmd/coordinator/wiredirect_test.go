package main

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/mesh"
)

// directBatches hands on each sync's call events per room at the sync's
// end, with the sync's Initial flag; other events, undecryptable ones and
// those of a failed sync are not handed on.
func TestDirectBatches(t *testing.T) {
	in := make(chan matrixbot.Event)
	out := make(chan mesh.RoomBatch)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); directBatches(ctx, in, out) }()
	defer func() { cancel(); <-done }()
	timeline := func(room, typ, evID string, undecryptable bool) matrixbot.Event {
		return matrixbot.Event{Kind: matrixbot.KindTimeline, RoomID: id.RoomID(room), Undecryptable: undecryptable,
			Evt: &event.Event{Type: event.Type{Type: typ}, ID: id.EventID(evID), Sender: "@a:x", Timestamp: 1000,
				Content: event.Content{VeryRaw: []byte(`{}`)}}}
	}
	next := func() mesh.RoomBatch {
		t.Helper()
		select {
		case b := <-out:
			return b
		case <-time.After(10 * time.Second):
			t.Fatal("no batch")
			return mesh.RoomBatch{}
		}
	}
	// A failed sync's events are dropped.
	in <- timeline("!a:x", "m.call.invite", "$lost", false)
	in <- matrixbot.Event{Kind: matrixbot.KindSyncFailed}
	// The initial sync.
	in <- timeline("!a:x", "m.call.invite", "$old", false)
	in <- matrixbot.Event{Kind: matrixbot.KindSyncDone, Initial: true}
	if b := next(); !b.Initial || b.RoomID != "!a:x" || len(b.Events) != 1 || b.Events[0].EventID != "$old" {
		t.Fatalf("initial batch %+v", b)
	}
	// A live sync with two rooms, in order, without the others.
	in <- timeline("!b:x", "m.call.invite", "$b1", false)
	in <- timeline("!a:x", "m.room.message", "$msg", false)
	in <- timeline("!a:x", "m.call.candidates", "$a1", false)
	in <- timeline("!a:x", "m.call.hangup", "$undecryptable", true)
	in <- timeline("!b:x", "org.matrix.call.sdp_stream_metadata_changed", "$b2", false)
	in <- matrixbot.Event{Kind: matrixbot.KindSyncDone}
	b1, b2 := next(), next()
	if b1.RoomID != "!b:x" || b1.Initial || len(b1.Events) != 2 || b1.Events[0].EventID != "$b1" || b1.Events[1].EventID != "$b2" {
		t.Errorf("first batch %+v", b1)
	}
	if b2.RoomID != "!a:x" || len(b2.Events) != 1 || b2.Events[0].EventID != "$a1" || !b2.Events[0].Sent.Equal(time.UnixMilli(1000)) {
		t.Errorf("second batch %+v", b2)
	}
	// A sync without call events hands nothing on.
	in <- matrixbot.Event{Kind: matrixbot.KindSyncDone}
	in <- timeline("!c:x", "m.call.invite", "$c", false)
	in <- matrixbot.Event{Kind: matrixbot.KindSyncDone}
	if b := next(); b.RoomID != "!c:x" {
		t.Errorf("after an empty sync: %+v", b)
	}
}
