package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/switchboard-rtc/switchboard/media"
)

// TestRecordStopNotice: a recording's stop is told with the kind of
// failure, never the error's text (it names our folders).
func TestRecordStopNotice(t *testing.T) {
	for reason, want := range map[error]string{
		nil: "Recording stopped.",
		fmt.Errorf("%w: %w", media.ErrRecordWrite, &fs.PathError{Op: "write", Path: "/srv/rec/x.ogg", Err: syscall.ENOSPC}): "Recording stopped: the disk is full. The call goes on unrecorded.",
		fmt.Errorf("%w: %w", media.ErrRecordWrite, &fs.PathError{Op: "open", Path: "/srv/rec", Err: syscall.EACCES}):        "Recording stopped: the recording folder is not writable. The call goes on unrecorded.",
		fmt.Errorf("%w: %w", media.ErrRecordWrite, errors.New("/srv/rec: odd")):                                             "Recording stopped: writing it failed. The call goes on unrecorded.",
	} {
		got := stopNotice(reason).Body
		if got != want || strings.Contains(got, "/srv") {
			t.Errorf("%v: %q, want %q", reason, got, want)
		}
	}
}
