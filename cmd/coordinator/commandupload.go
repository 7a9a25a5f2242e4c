package main

import (
	"context"
	"errors"
	"fmt"
	"mime"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/media"
)

// uploadFetcher reads the audio message a "!call play" replies to: the
// event as the bot sees it (decrypted in encrypted rooms) and its media
// (decrypted when it is an encrypted attachment). The bot is one.
type uploadFetcher interface {
	RoomEvent(ctx context.Context, room id.RoomID, eventID id.EventID) (*event.Event, error)
	Download(ctx context.Context, uri id.ContentURIString, file *event.EncryptedFileInfo, maxBytes int64) ([]byte, error)
}

// uploadTrackName names an upload's announcement (its feature and track).
const uploadTrackName = media.DefaultAnnounceName + " upload"

// Answers about an upload that cannot be played.
const (
	reasonNoReplyTarget = "send " + calls.CommandPrefix + " play NAME, or " + calls.CommandPrefix +
		" play as a reply to an audio message (an Ogg Opus upload) to play that"
	reasonUploadsOff   = "playing uploads is not configured"
	reasonUnreadable   = "I cannot read the message you replied to"
	reasonNotAudio     = "the message you replied to is not an audio message (an Ogg Opus upload)"
	reasonNoDownload   = "I could not download the audio message"
	uploadWhat         = "the audio message"
	reasonNotPermitted = "Sorry, I only play audio messages sent by users with power level %d or more in this room, and %s's is %d."
)

// upload makes the announcement of the audio message job replies to, for
// a "!call play" without a NAME: the message must be in the same room, an
// m.audio (or an m.file of an Ogg or Opus type), sent by someone who may
// use play too (levels), within the sound size bound and Ogg Opus. Else it
// returns the result to answer with.
func (cr *commandReader) upload(ctx context.Context, job commandJob, levels calls.PowerLevels) (media.Factory, *calls.Result) {
	failed := func(outcome calls.Outcome, reason string) (media.Factory, *calls.Result) {
		return nil, &calls.Result{Outcome: outcome, Reason: reason}
	}
	if job.replyTo == "" {
		return failed(calls.OutcomeFailed, reasonNoReplyTarget)
	}
	if cr.uploads == nil {
		return failed(calls.OutcomeFailed, reasonUploadsOff)
	}
	evt, err := cr.uploads.RoomEvent(ctx, job.room, job.replyTo)
	if err != nil {
		cr.logger.Warn("room command: replied-to event unreadable", "room", job.room, "event_id", job.replyTo, "err", err)
		if errors.Is(err, matrixbot.ErrNoRoomKey) {
			return failed(calls.OutcomeFailed, reasonUnreadable+" (I lack its room key)")
		}
		return failed(calls.OutcomeFailed, reasonUnreadable)
	}
	if evt.RoomID != "" && evt.RoomID != job.room || evt.Type != event.EventMessage {
		return failed(calls.OutcomeFailed, reasonNotAudio)
	}
	msg := evt.Content.AsMessage()
	if msg == nil || !audioMessage(msg) {
		return failed(calls.OutcomeFailed, reasonNotAudio)
	}
	if ok, _ := calls.Permitted(job.cmd, evt.Sender, levels, cr.required); !ok {
		return failed(calls.OutcomeRefused, fmt.Sprintf(reasonNotPermitted, cr.required[calls.VerbPlay],
			evt.Sender, levels.Level(evt.Sender)))
	}
	uri := msg.URL
	if msg.File != nil {
		uri = ""
	}
	data, err := cr.uploads.Download(ctx, uri, msg.File, cr.maxSound())
	if err != nil {
		cr.logger.Warn("room command: audio message not downloaded", "room", job.room, "event_id", job.replyTo, "err", err)
		if errors.Is(err, matrixbot.ErrTooLarge) {
			return failed(calls.OutcomeFailed, soundError(uploadWhat, media.ErrSoundTooLarge, cr.maxSound()).Error())
		}
		return failed(calls.OutcomeFailed, reasonNoDownload)
	}
	sound, err := media.ParseOggOpus(data)
	if err != nil {
		cr.logger.Warn("room command: audio message not played", "room", job.room, "event_id", job.replyTo, "err", err)
		return failed(calls.OutcomeFailed, soundError(uploadWhat, err, cr.maxSound()).Error())
	}
	f, err := announceFactory(media.AnnounceConfig{Name: uploadTrackName, Sound: sound})
	if err != nil {
		return failed(calls.OutcomeFailed, err.Error())
	}
	return f, nil
}

// maxSound bounds a downloaded upload: the sound folder's bound.
func (cr *commandReader) maxSound() int64 {
	if cr.maxSoundBytes > 0 {
		return cr.maxSoundBytes
	}
	return media.DefaultMaxSoundBytes
}

// audioMessage reports whether msg is an upload we may play: m.audio, or
// m.file whose type is Ogg or Opus audio; either with a URL or a file.
func audioMessage(msg *event.MessageEventContent) bool {
	if msg.URL == "" && (msg.File == nil || msg.File.URL == "") {
		return false
	}
	switch msg.MsgType {
	case event.MsgAudio:
		return true
	case event.MsgFile:
		if msg.Info == nil {
			return false
		}
		t, _, err := mime.ParseMediaType(msg.Info.MimeType)
		return err == nil && (t == "audio/ogg" || t == "audio/opus" || t == "application/ogg")
	}
	return false
}
