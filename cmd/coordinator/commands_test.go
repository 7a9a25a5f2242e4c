package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

// The command reader's own logic, over a fake supervisor and sender; the
// real bot, Synapse and supervisor meet in commands_integration_test.go.

const cmdRoom = id.RoomID("!cmd:x")

type fakeRunner struct {
	mu  sync.Mutex
	ran []string
}

func (f *fakeRunner) Command(_ context.Context, room id.RoomID, cmd calls.Command) calls.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, string(room)+" "+cmd.String())
	return calls.Result{}
}

func (f *fakeRunner) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ran...)
}

// sentReplies hands each reply to the test, with its room.
type sentReplies chan sentReply

type sentReply struct {
	room id.RoomID
	n    matrixbot.Notice
}

func (s sentReplies) SendNotice(_ context.Context, room id.RoomID, n matrixbot.Notice) error {
	s <- sentReply{room, n}
	return nil
}

func (s sentReplies) next(t *testing.T) sentReply {
	t.Helper()
	select {
	case r := <-s:
		return r
	case <-time.After(30 * time.Second): // a hang guard, not a timing
		t.Fatal("no reply")
		return sentReply{}
	}
}

func stateEvent(room id.RoomID, typ event.Type, sender id.UserID, content string) matrixbot.Event {
	evt := &event.Event{Type: typ, RoomID: room, Sender: sender, StateKey: new(string),
		Content: event.Content{VeryRaw: json.RawMessage(content)}}
	return matrixbot.Event{Kind: matrixbot.KindState, RoomID: room, Source: matrixbot.SourceState, Evt: evt}
}

// message is an m.room.message; its event ID names its room, sender and
// body.
func message(room id.RoomID, sender id.UserID, msgtype event.MessageType, body string, at time.Time) matrixbot.Event {
	content := &event.MessageEventContent{MsgType: msgtype, Body: body}
	evt := &event.Event{Type: event.EventMessage, RoomID: room, Sender: sender, ID: id.EventID("$" + string(room) + string(sender) + body),
		Timestamp: at.UnixMilli(), Content: event.Content{Parsed: content}}
	return matrixbot.Event{Kind: matrixbot.KindTimeline, RoomID: room, Source: matrixbot.SourceTimeline, Evt: evt}
}

// TestCommandReader: only live m.text commands of others are answered, as
// replies, in order; the room's power levels decide, and unknown levels
// are fetched, never guessed.
func TestCommandReader(t *testing.T) {
	leakcheck.Check(t)
	runner := &fakeRunner{}
	replies := make(sentReplies, 16)
	var fetched []id.RoomID
	fetch := func(_ context.Context, room id.RoomID) (*roomAuth, error) {
		fetched = append(fetched, room)
		if room == "!unknown:x" {
			return nil, errRoomStateUnknown
		}
		a := &roomAuth{}
		a.note(stateEvent(room, event.StateCreate, "@creator:x", `{"room_version":"12"}`).Evt)
		a.note(stateEvent(room, event.StatePowerLevels, "@creator:x", `{"users":{"@mod:x":50}}`).Evt)
		return a, nil
	}
	var drops uint64
	cr := newCommandReader(slog.New(slog.DiscardHandler), 50, func() (id.UserID, id.DeviceID) { return "@bot:x", "BOT" },
		runner, replies, fetch, func() uint64 { return drops })
	in := make(chan matrixbot.Event)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cr.Run(ctx, in) }()
	now := time.Now()

	in <- stateEvent(cmdRoom, event.StateCreate, "@creator:x", `{"room_version":"10"}`)
	in <- stateEvent(cmdRoom, event.StatePowerLevels, "@creator:x", `{"users":{"@creator:x":100,"@mod:x":50}}`)
	in <- message(cmdRoom, "@mod:x", event.MsgText, "!call leave", now) // the first sync's backlog
	in <- matrixbot.Event{Kind: matrixbot.KindSyncDone, Initial: true}
	in <- message(cmdRoom, "@mod:x", event.MsgText, "!call echo on", now.Add(-6*time.Minute)) // too old
	in <- message(cmdRoom, "@mod:x", event.MsgNotice, "!call echo on", now)                   // a notice
	in <- message(cmdRoom, "@bot:x", event.MsgText, "!call echo on", now)                     // ours
	in <- message(cmdRoom, "@mod:x", event.MsgText, "hello", now)                             // no command
	edit := message(cmdRoom, "@mod:x", event.MsgText, "!call echo on", now)
	edit.Evt.Content.Parsed.(*event.MessageEventContent).RelatesTo = (&event.RelatesTo{}).SetReplace("$x")
	in <- edit
	permitted := message(cmdRoom, "@mod:x", event.MsgText, "!call echo on", now)
	in <- permitted
	r := replies.next(t)
	if r.room != cmdRoom || r.n.ReplyTo != permitted.Evt.ID || !strings.HasPrefix(r.n.Body, "Echo is on") {
		t.Errorf("reply %+v", r)
	}
	if got := runner.commands(); len(got) != 1 || got[0] != string(cmdRoom)+" !call echo on" {
		t.Fatalf("ran %q", got)
	}

	refused := message(cmdRoom, "@user:x", event.MsgText, "!call record start", now)
	in <- refused
	in <- message(cmdRoom, "@user:x", event.MsgText, "!call status", now)
	in <- message(cmdRoom, "@user:x", event.MsgText, "!call bogus", now)
	if r := replies.next(t); r.n.ReplyTo != refused.Evt.ID || !strings.Contains(r.n.Body, "needs power level 50") ||
		!strings.Contains(r.n.Body, "yours is 0") {
		t.Errorf("refusal %+v", r)
	}
	if r := replies.next(t); !strings.Contains(r.n.Body, "not in a call") {
		t.Errorf("status %+v", r)
	}
	if r := replies.next(t); !strings.Contains(r.n.Body, "not a command I know") {
		t.Errorf("unknown command %+v", r)
	}

	// An encrypted command whose session is not tied to a device of the
	// sender (forwarded, unknown device, keys that do not match) is refused;
	// status still answers, and a session of a known device is obeyed.
	for _, ts := range []id.TrustState{id.TrustStateForwarded, id.TrustStateUnknownDevice,
		id.TrustStateDeviceKeyMismatch, id.TrustStateBlacklisted, id.TrustStateBackup} {
		forged := message(cmdRoom, "@mod:x", event.MsgText, "!call leave", now)
		forged.Decrypted, forged.Evt.Mautrix.TrustState = true, ts
		in <- forged
		if r := replies.next(t); r.n.ReplyTo != forged.Evt.ID || !strings.Contains(r.n.Body, "cannot tell") {
			t.Errorf("%v session: %+v", ts, r)
		}
	}
	status := message(cmdRoom, "@mod:x", event.MsgText, "!call status", now)
	status.Decrypted, status.Evt.Mautrix.TrustState = true, id.TrustStateForwarded
	in <- status
	if r := replies.next(t); !strings.Contains(r.n.Body, "not in a call") {
		t.Errorf("status from a forwarded session %+v", r)
	}
	known := message(cmdRoom, "@mod:x", event.MsgText, "!call echo off", now)
	known.Decrypted = true // TrustStateUnset: the sender's device, not cross-signed
	in <- known
	if r := replies.next(t); !strings.HasPrefix(r.n.Body, "Echo is off") {
		t.Errorf("command of a known device %+v", r)
	}
	if got := runner.commands(); len(got) != 4 || got[3] != string(cmdRoom)+" !call echo off" {
		t.Fatalf("ran %q", got)
	}

	// A room the reader knows nothing of: its state is fetched; in room
	// version 12 the creator outranks everyone.
	in <- message("!other:x", "@creator:x", event.MsgText, "!call join", now)
	if r := replies.next(t); !strings.HasPrefix(r.n.Body, "OK: I am joining") {
		t.Errorf("creator's join %+v", r)
	}
	in <- message("!unknown:x", "@mod:x", event.MsgText, "!call join", now)
	if r := replies.next(t); !strings.Contains(r.n.Body, "could not read this room's power levels") {
		t.Errorf("unknown levels %+v", r)
	}
	// The route lost events: what was kept is forgotten and fetched.
	drops = 1
	in <- message(cmdRoom, "@mod:x", event.MsgText, "!call leave", now)
	replies.next(t)
	if want := []id.RoomID{"!other:x", "!unknown:x", cmdRoom}; len(fetched) != 3 || fetched[2] != want[2] {
		t.Errorf("fetched %v, want %v", fetched, want)
	}
	if got := runner.commands(); len(got) != 6 || got[5] != string(cmdRoom)+" !call leave" {
		t.Errorf("ran %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// blockedSender holds every reply until released.
type blockedSender struct {
	release chan struct{}
	sent    chan matrixbot.Notice
}

func (b blockedSender) SendNotice(ctx context.Context, _ id.RoomID, n matrixbot.Notice) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.sent <- n
	return nil
}

// TestCommandReaderFlood: a room's flood is bounded (the rest dropped),
// and other rooms still get their share; answers keep each room's order.
func TestCommandReaderFlood(t *testing.T) {
	leakcheck.Check(t)
	send := blockedSender{release: make(chan struct{}), sent: make(chan matrixbot.Notice, 2*commandQueue)}
	cr := newCommandReader(slog.New(slog.DiscardHandler), 50, func() (id.UserID, id.DeviceID) { return "@bot:x", "BOT" },
		&fakeRunner{}, send, func(context.Context, id.RoomID) (*roomAuth, error) { return nil, errors.New("unused") },
		func() uint64 { return 0 })
	in := make(chan matrixbot.Event)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cr.Run(ctx, in) }()
	in <- matrixbot.Event{Kind: matrixbot.KindSyncDone}
	now := time.Now()
	for range 100 {
		in <- message(cmdRoom, "@user:x", event.MsgText, "!call status", now)
	}
	in <- message("!b:x", "@user:x", event.MsgText, "!call help", now)
	in <- matrixbot.Event{Kind: matrixbot.KindSyncDone} // the reader took everything before it
	close(send.release)
	// One may be in hand already, commandsPerRoom more queued, then b's.
	var bodies []string
	for len(bodies) == 0 || !strings.HasPrefix(bodies[len(bodies)-1], "Commands:") {
		select {
		case n := <-send.sent:
			bodies = append(bodies, n.Body)
		case <-time.After(30 * time.Second):
			t.Fatalf("got %d answers, none for the other room", len(bodies))
		}
	}
	if len(bodies) > commandsPerRoom+2 {
		t.Errorf("%d answers: the flood was not bounded", len(bodies))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
