package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/media"
)

// sentEvent is a room event Direct sent.
type sentEvent struct {
	room, typ string
	content   map[string]any
}

// nopFeature stands for the echo: it takes no source.
type nopFeature struct{}

func (nopFeature) Name() string                                          { return "nop" }
func (nopFeature) Start(media.Call, *slog.Logger) (media.Feature, error) { return nopFeature{}, nil }
func (nopFeature) SourceAdded(media.Source) media.Sink                   { return nil }
func (nopFeature) Close() error                                          { return nil }

// directHarness runs a Direct whose sends are recorded; direct says which
// rooms are direct.
type directHarness struct {
	t    *testing.T
	d    *Direct
	in   chan RoomBatch
	sent chan sentEvent
	// stop ends Run and waits for it: every send has been made then.
	stop func()
}

func newDirectHarness(t *testing.T, mode DirectMode, max int, maxDuration time.Duration, direct func(room string) bool,
	edit ...func(*DirectConfig)) *directHarness {
	t.Helper()
	leakcheck.Check(t)
	h := &directHarness{t: t, in: make(chan RoomBatch), sent: make(chan sentEvent, 64)}
	cfg := DirectConfig{UserID: drBot, DeviceID: "BOTDEV", Mode: mode, Max: max, MaxDuration: maxDuration,
		ICE: func() ICEConfig { return ICEConfig{LoopbackOnly: true} }, Feature: nopFeature{}, Logger: testLogger(t),
		IsDirect: func(_ context.Context, room, caller string) (bool, error) {
			return direct(room) && caller == drCaller, nil
		},
		Send: func(ctx context.Context, room, typ string, content json.RawMessage) error {
			var m map[string]any
			if err := json.Unmarshal(content, &m); err != nil {
				t.Errorf("sent %s: %v", typ, err)
			}
			select {
			case h.sent <- sentEvent{room, typ, m}:
			case <-ctx.Done():
			}
			return nil
		}}
	for _, e := range edit {
		e(&cfg)
	}
	d, err := NewDirect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx, h.in) }()
	h.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case <-ran:
		case <-time.After(hang):
			t.Error("Direct.Run did not return")
		}
	})
	t.Cleanup(h.stop)
	return h
}

// invite hands Direct a batch with a fresh invite of call in room.
func (h *directHarness) invite(room, call string, edit func(map[string]any)) {
	h.t.Helper()
	e := roomEvent(h.t, "invite", drCaller, time.Now(), func(m map[string]any) {
		m["call_id"] = call
		if edit != nil {
			edit(m)
		}
	})
	e.RoomID = room
	h.in <- RoomBatch{RoomID: room, Events: []RoomEvent{e}}
}

// next is the next event Direct sent of call ("": of any call).
func (h *directHarness) next(call string) sentEvent {
	h.t.Helper()
	for {
		select {
		case s := <-h.sent:
			if call == "" || s.content["call_id"] == call {
				return s
			}
		case <-time.After(hang):
			h.t.Fatalf("nothing sent for call %s", call)
		}
	}
}

// Beyond calls.direct_max an invite is rejected as busy; an invite for
// someone else, and one in a room that is not direct, take no place.
func TestDirectLimits(t *testing.T) {
	h := newDirectHarness(t, DirectEcho, 1, time.Hour, func(room string) bool { return room == "!dm:x" })
	h.invite("!dm:x", "for-carol", func(m map[string]any) { m["invitee"] = "@carol:example.org" })
	h.invite("!big:x", "in-a-big-room", nil)
	h.invite("!dm:x", "first", nil)
	if s := h.next("first"); s.typ != "m.call.answer" || s.room != "!dm:x" {
		t.Fatalf("first call: %s in %s", s.typ, s.room)
	}
	h.invite("!dm:x", "second", nil)
	s := h.next("second")
	if s.typ != "m.call.reject" || s.content["reason"] != "user_busy" {
		t.Fatalf("second call: %s %v", s.typ, s.content)
	}
}

// calls.direct reject declines calls in direct rooms, nothing else is
// sent: no answer, and no reject in a room of three (it would end a call
// meant for others there).
func TestDirectRejectMode(t *testing.T) {
	h := newDirectHarness(t, DirectReject, 5, time.Hour, func(room string) bool { return room == "!dm:x" })
	h.invite("!big:x", "big", nil)
	h.invite("!dm:x", "call", nil)
	var got []string
	take := func(s sentEvent) string {
		got = append(got, fmt.Sprintf("%s %v %v", s.typ, s.content["call_id"], s.content["reason"]))
		return got[len(got)-1]
	}
	for take(h.next("")) != "m.call.reject call <nil>" {
	}
	h.stop() // every send made
	for len(h.sent) > 0 {
		take(<-h.sent)
	}
	if len(got) != 1 || got[0] != "m.call.reject call <nil>" {
		t.Errorf("sent %q, want one reject of the call in the direct room", got)
	}
}

// A call that lasts calls.direct_max_duration is hung up by us.
func TestDirectMaxDuration(t *testing.T) {
	h := newDirectHarness(t, DirectEcho, 5, 300*time.Millisecond, func(string) bool { return true })
	h.invite("!dm:x", "long", nil)
	if s := h.next("long"); s.typ != "m.call.answer" {
		t.Fatalf("%s", s.typ)
	}
	for {
		s := h.next("long")
		if s.typ == "m.call.hangup" {
			if s.content["reason"] != "user_hangup" {
				t.Errorf("hangup %v", s.content)
			}
			return
		}
	}
}

// A hangup that comes while the invite's room is still being checked
// ends the call once it is answered: the invite is first in the peer's
// inbox, the hangup after it.
func TestDirectHangupWhileChecked(t *testing.T) {
	gate := make(chan struct{})
	h := newDirectHarness(t, DirectEcho, 1, time.Hour, func(string) bool { <-gate; return true })
	h.invite("!dm:x", "quick", nil)
	hu := roomEvent(t, "hangup", drCaller, time.Now(), func(m map[string]any) { m["call_id"] = "quick" })
	hu.RoomID = "!dm:x"
	h.in <- RoomBatch{RoomID: "!dm:x", Events: []RoomEvent{hu}}
	close(gate)
	if s := h.next("quick"); s.typ != "m.call.answer" {
		t.Fatalf("%s", s.typ)
	}
	// Answered, so counted; the hangup then ends it.
	deadline := time.Now().Add(hang)
	for h.d.active.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call hung up while its room was checked is still running")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
