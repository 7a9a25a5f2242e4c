package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// TestRecordStopNotice: a recording's stop is told with the kind of
// failure, never the error's text (it names our folders).
func TestRecordStopNotice(t *testing.T) {
	for reason, want := range map[error]string{
		nil: "Recording stopped.",
		fmt.Errorf("%w: %w", media.ErrRecordWrite, &fs.PathError{Op: "write", Path: "/srv/rec/x.ogg", Err: syscall.ENOSPC}): "Recording stopped: the disk is full. The call goes on unrecorded.",
		fmt.Errorf("%w: %w", media.ErrRecordWrite, &fs.PathError{Op: "open", Path: "/srv/rec", Err: syscall.EACCES}):        "Recording stopped: the recording folder is not writable. The call goes on unrecorded.",
		fmt.Errorf("%w: %w", media.ErrRecordWrite, &fs.PathError{Op: "open", Path: "/srv/rec/x", Err: syscall.ENOTDIR}):     "Recording stopped: the recording folder is gone. The call goes on unrecorded.",
		fmt.Errorf("%w: %w", media.ErrRecordWrite, errors.New("/srv/rec: odd")):                                             "Recording stopped: writing it failed. The call goes on unrecorded.",
	} {
		got := stopNotice(reason).Body
		if got != want || strings.Contains(got, "/srv") {
			t.Errorf("%v: %q, want %q", reason, got, want)
		}
	}
}

// sentNotices is a noticeSender that hands each notice to the test.
type sentNotices chan matrixbot.Notice

func (s sentNotices) SendNotice(_ context.Context, _ id.RoomID, n matrixbot.Notice) error {
	s <- n
	return nil
}

// TestRoomNotifier: Notify never blocks (beyond the queue's bound a notice
// is dropped), Run sends the queued notices in order and returns when its
// context ends.
func TestRoomNotifier(t *testing.T) {
	leakcheck.Check(t)
	sent := make(sentNotices)
	rn := newRoomNotifier(slog.New(slog.DiscardHandler), sent)
	for i := range noticeQueue + 5 {
		rn.Notify("!r:x", matrixbot.Notice{Body: fmt.Sprint(i)})
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- rn.Run(ctx) }()
	for i := range noticeQueue {
		if n := <-sent; n.Body != fmt.Sprint(i) {
			t.Fatalf("notice %d: %q", i, n.Body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(rn.queue) != 0 {
		t.Fatalf("%d notices left: the dropped ones were queued", len(rn.queue))
	}
}

// TestRecordConfigFromCalls: a call's recording takes calls.record_dir and
// calls.record_video (on unless turned off) and names the call.
func TestRecordConfigFromCalls(t *testing.T) {
	for env, want := range map[string]bool{"": true, "false": false} {
		cfg := defaultConfig()
		if errs, _ := applyEnv(&cfg, func(k string) string {
			if k == "SWITCHBOARD_CALLS_RECORD_VIDEO" {
				return env
			}
			return ""
		}); len(errs) > 0 {
			t.Fatal(errs)
		}
		cfg.Calls.RecordDir = "/srv/rec"
		call := membership.CallKey{Room: "!r:x", CallID: "c"}
		rc := recordNotices{logger: slog.New(slog.DiscardHandler)}.recordConfig(&cfg, call)
		if rc.Video != want || rc.Dir != "/srv/rec" || rc.Room != "!r:x" || rc.Call != "c" || rc.OnStart == nil || rc.OnStop == nil {
			t.Errorf("record_video %q: %+v", env, rc)
		}
	}
}
