package main

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// noticeQueue bounds the notices waiting to be sent; beyond it a notice
// is dropped with a log line rather than hold up a recording's callback.
const noticeQueue = 64

// noticeSender is what sends a room notice (the bot).
type noticeSender interface {
	SendNotice(ctx context.Context, room id.RoomID, n matrixbot.Notice) error
}

type roomNotice struct {
	room id.RoomID
	n    matrixbot.Notice
}

// roomNotifier sends room notices one at a time from Run, so that those
// who post them (recordings' callbacks, which must not block) never wait
// on the homeserver. Notices posted after Run returned are not sent.
type roomNotifier struct {
	logger *slog.Logger
	send   noticeSender
	queue  chan roomNotice
}

func newRoomNotifier(logger *slog.Logger, send noticeSender) *roomNotifier {
	return &roomNotifier{logger: logger, send: send, queue: make(chan roomNotice, noticeQueue)}
}

// Notify queues n for room; it never blocks.
func (rn *roomNotifier) Notify(room id.RoomID, n matrixbot.Notice) {
	select {
	case rn.queue <- roomNotice{room, n}:
	default:
		rn.logger.Warn("room notice dropped: too many waiting", "room", room, "notice", n.Body)
	}
}

// Run sends the queued notices until ctx ends; a notice that fails is
// logged and not retried.
func (rn *roomNotifier) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case q := <-rn.queue:
			if err := rn.send.SendNotice(ctx, q.room, q.n); err != nil && ctx.Err() == nil {
				rn.logger.Error("room notice not sent", "room", q.room, "notice", q.n.Body, "err", err)
			}
		}
	}
}

// recordNotices tells a call's room when its recording starts and stops.
// notify is nil when there is no room to tell (no bot).
type recordNotices struct {
	logger *slog.Logger
	notify func(id.RoomID, matrixbot.Notice)
}

// recordConfig is the recording of call as config asks (calls.record_dir
// and calls.record_video), its start and stop told to the room.
func (rn recordNotices) recordConfig(cfg *Config, call membership.CallKey) media.RecordConfig {
	return media.RecordConfig{Dir: cfg.Calls.RecordDir, Video: cfg.Calls.RecordVideo,
		Room: call.Room.String(), Call: call.CallID, OnStart: rn.onStart(call), OnStop: rn.onStop(call)}
}

// onStart is a recording's OnStart: it tells call's room.
func (rn recordNotices) onStart(call membership.CallKey) func() {
	return func() {
		if rn.notify != nil {
			rn.notify(call.Room, matrixbot.Notice{Body: startedText})
		}
	}
}

// onStop is a recording's OnStop: it logs why the recording of call ended
// (nil: the call ended or we left it) and tells the room.
func (rn recordNotices) onStop(call membership.CallKey) func(error) {
	return func(reason error) {
		if reason != nil {
			rn.logger.Error("recording stopped early; the call goes on unrecorded", "room", call.Room, "call", call.CallID, "err", reason)
		} else {
			rn.logger.Info("recording ended", "room", call.Room, "call", call.CallID)
		}
		if rn.notify != nil {
			rn.notify(call.Room, stopNotice(reason))
		}
	}
}

// Notice texts. Reasons are told by kind, not as the error reads: that
// names our folders.
const (
	startedText = "Recording started: this call is being recorded."
	stoppedText = "Recording stopped."
)

func stopNotice(reason error) matrixbot.Notice {
	if reason == nil {
		return matrixbot.Notice{Body: stoppedText}
	}
	return matrixbot.Notice{Body: "Recording stopped: " + failureKind(reason) + ". The call goes on unrecorded."}
}

func failureKind(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "the disk is full"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EROFS):
		return "the recording folder is not writable"
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR):
		return "the recording folder is gone"
	}
	return "writing it failed"
}
