package main

import (
	"context"
	"fmt"
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

// fakeUploads serves room events and their media from memory.
type fakeUploads struct {
	mu        sync.Mutex
	events    map[id.EventID]*event.Event
	media     map[string][]byte // by mxc URI
	downloads []string          // "uri encrypted?"
}

func (f *fakeUploads) RoomEvent(_ context.Context, _ id.RoomID, eventID id.EventID) (*event.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if evt, ok := f.events[eventID]; ok {
		return evt, nil
	}
	return nil, fmt.Errorf("%w: M_NOT_FOUND", matrixbot.ErrRoomEvent)
}

func (f *fakeUploads) Download(_ context.Context, uri id.ContentURIString, file *event.EncryptedFileInfo, maxBytes int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if file != nil {
		uri = file.URL
	}
	f.downloads = append(f.downloads, fmt.Sprint(uri, " ", file != nil))
	data, ok := f.media[string(uri)]
	if !ok {
		return nil, fmt.Errorf("%w: M_NOT_FOUND", matrixbot.ErrDownload)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("%w: %w", matrixbot.ErrDownload, matrixbot.ErrTooLarge)
	}
	return data, nil
}

// soundRunner records the play commands it is given, with their sound.
type soundRunner struct {
	mu     sync.Mutex
	sounds []string // the name of each command's Sound ("" none)
}

func (r *soundRunner) Command(_ context.Context, _ id.RoomID, cmd calls.Command) calls.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := ""
	if cmd.Sound != nil {
		name = cmd.Sound.Name()
	}
	r.sounds = append(r.sounds, name)
	return calls.Result{}
}

func (r *soundRunner) played() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sounds...)
}

// upload is an audio message (msgtype, mimetype, file) by sender in room.
func upload(room id.RoomID, eventID id.EventID, sender id.UserID, msgtype event.MessageType, mime, uri string, encrypted bool) *event.Event {
	c := &event.MessageEventContent{MsgType: msgtype, Body: "sound.ogg", Info: &event.FileInfo{MimeType: mime}}
	if encrypted {
		c.File = &event.EncryptedFileInfo{URL: id.ContentURIString(uri)}
	} else {
		c.URL = id.ContentURIString(uri)
	}
	return &event.Event{Type: event.EventMessage, RoomID: room, ID: eventID, Sender: sender, Content: event.Content{Parsed: c}}
}

// TestCommandReaderPlayUpload: "!call play" in reply to an audio message
// plays that upload when the message is audio, Ogg Opus, in the room,
// sent by someone permitted to play, and within the size bound; every
// other case is answered with why, and the supervisor is not asked.
func TestCommandReaderPlayUpload(t *testing.T) {
	leakcheck.Check(t)
	good := oggOpus(3)
	up := &fakeUploads{events: map[id.EventID]*event.Event{
		"$text":    {Type: event.EventMessage, RoomID: cmdRoom, Sender: "@mod:x", Content: event.Content{Parsed: &event.MessageEventContent{MsgType: event.MsgText, Body: "hi"}}},
		"$pdf":     upload(cmdRoom, "$pdf", "@mod:x", event.MsgFile, "application/pdf", "mxc://x/good", false),
		"$other":   upload("!other:x", "$other", "@mod:x", event.MsgAudio, "audio/ogg", "mxc://x/good", false),
		"$byuser":  upload(cmdRoom, "$byuser", "@user:x", event.MsgAudio, "audio/ogg", "mxc://x/good", false),
		"$big":     upload(cmdRoom, "$big", "@mod:x", event.MsgAudio, "audio/ogg", "mxc://x/big", false),
		"$bad":     upload(cmdRoom, "$bad", "@mod:x", event.MsgAudio, "audio/ogg", "mxc://x/bad", false),
		"$gone":    upload(cmdRoom, "$gone", "@mod:x", event.MsgAudio, "audio/ogg", "mxc://x/gone", false),
		"$audio":   upload(cmdRoom, "$audio", "@mod:x", event.MsgAudio, "", "mxc://x/good", false),
		"$oggfile": upload(cmdRoom, "$oggfile", "@mod:x", event.MsgFile, "audio/ogg; codecs=opus", "mxc://x/good", true),
	}, media: map[string][]byte{"mxc://x/good": good, "mxc://x/big": oggOpus(200), "mxc://x/bad": []byte("RIFF....WAVE")}}
	runner := &soundRunner{}
	replies := make(sentReplies, 16)
	cr := newCommandReader(slog.New(slog.DiscardHandler), 50, func() (id.UserID, id.DeviceID) { return "@bot:x", "BOT" },
		runner, replies, func(context.Context, id.RoomID) (*roomAuth, error) { return nil, errRoomStateUnknown },
		func() uint64 { return 0 })
	cr.uploads, cr.maxSoundBytes = up, int64(len(good))+100
	in := make(chan matrixbot.Event)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cr.Run(ctx, in) }()
	in <- stateEvent(cmdRoom, event.StateCreate, "@creator:x", `{"room_version":"10"}`)
	in <- stateEvent(cmdRoom, event.StatePowerLevels, "@creator:x", `{"users":{"@creator:x":100,"@mod:x":50}}`)
	in <- matrixbot.Event{Kind: matrixbot.KindSyncDone}
	now := time.Now()
	ask := func(sender id.UserID, replyTo id.EventID) string {
		t.Helper()
		m := message(cmdRoom, sender, event.MsgText, "!call play", now)
		m.Evt.ID += id.EventID(replyTo)
		if replyTo != "" {
			m.Evt.Content.Parsed.(*event.MessageEventContent).RelatesTo = (&event.RelatesTo{}).SetReplyTo(replyTo)
		}
		in <- m
		r := replies.next(t)
		if r.n.ReplyTo != m.Evt.ID {
			t.Errorf("reply to %s, want %s", r.n.ReplyTo, m.Evt.ID)
		}
		return r.n.Body
	}
	for _, c := range []struct {
		sender  id.UserID
		replyTo id.EventID
		want    string
	}{
		{"@mod:x", "", "Could not do !call play: send !call play NAME, or !call play as a reply to an audio message"},
		{"@user:x", "$audio", "Sorry, !call play needs power level 50 or more in this room, and yours is 0."},
		{"@mod:x", "$missing", "Could not do !call play: I cannot read the message you replied to."},
		{"@mod:x", "$text", "Could not do !call play: the message you replied to is not an audio message"},
		{"@mod:x", "$pdf", "Could not do !call play: the message you replied to is not an audio message"},
		{"@mod:x", "$other", "Could not do !call play: the message you replied to is not an audio message"},
		{"@mod:x", "$byuser", "Sorry, I only play audio messages sent by users with power level 50 or more in this room, and @user:x's is 0."},
		{"@mod:x", "$big", fmt.Sprintf("Could not do !call play: the audio message is too large (over %d bytes).", len(good)+100)},
		{"@mod:x", "$bad", "Could not do !call play: the audio message is not an Ogg Opus file."},
		{"@mod:x", "$gone", "Could not do !call play: I could not download the audio message."},
	} {
		if got := ask(c.sender, c.replyTo); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s replying to %q: %q, want %q", c.sender, c.replyTo, got, c.want)
		}
	}
	if got := runner.played(); len(got) != 0 {
		t.Errorf("the supervisor was asked to play %q", got)
	}
	for _, ok := range []id.EventID{"$audio", "$oggfile"} {
		if got := ask("@mod:x", ok); got != "Playing the audio message." {
			t.Errorf("%s: %q", ok, got)
		}
	}
	if got := runner.played(); len(got) != 2 || got[0] != uploadTrackName || got[1] != uploadTrackName {
		t.Errorf("the supervisor played %q, want the upload twice", got)
	}
	up.mu.Lock()
	if n := len(up.downloads); n < 2 || up.downloads[n-1] != "mxc://x/good true" || up.downloads[n-2] != "mxc://x/good false" {
		t.Errorf("downloads %q: the encrypted file not fetched as one", up.downloads)
	}
	up.mu.Unlock()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
