package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// TestRecordDiskFullCallGoesOn (#13): the disk fills in the middle of a
// recorded call (calls.features: echo, record; real Synapse and LiveKit,
// E2EE). The test cannot fill a real disk as root without a loop mount, so
// it sends the recording's next manifest write to /dev/full (a symlink at
// the temporary file the recorder writes and renames), whose writes fail
// with ENOSPC as a full disk's do. bob leaving ends his segment, whose
// manifest write fails: the recording stops, the room is told so (not in
// our paths' words), the admin view lists the recording as stopped with
// the reason, and the call goes on: alice keeps hearing her echo of what
// she sends after the failure. Once space is back and the call ends, the
// manifest records the end and the reason.
func TestRecordDiskFullCallGoesOn(t *testing.T) {
	c := startRecordedCall(t, "echo,record")
	ctx, env, addr, room, bot, a, b := c.ctx, c.env, c.addr, c.room, c.bot, c.a, c.b
	ac, alice, bob := a.cc, a.cc.User, b.cc.User
	recordDir := c.recordDir

	ra := a.connect(t, env, addr, room)
	sending, stopSending := context.WithCancel(ctx)
	aDone := make(chan error, 1)
	go func() { aDone <- a.send(sending, time.Hour) }()
	waitFor(t, time.Minute, "alice hears her echo", func() bool { h, _ := a.heard(); return h >= 0 })
	var dir string
	waitFor(t, time.Minute, "the recording active in the admin view", func() bool {
		v := adminGet[recordingsWire](t, addr, "/admin/v1/recordings")
		if len(v.Recordings) != 1 || v.Recordings[0].State != "active" {
			return false
		}
		dir = v.Recordings[0].Dir
		return true
	})

	// The disk is full from now on.
	full := filepath.Join(recordDir, dir, "manifest.json.tmp")
	if err := os.Symlink("/dev/full", full); err != nil {
		t.Fatal(err)
	}
	rb := b.connect(t, env, addr, room)
	if err := b.send(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	b.leave(rb)
	ac.FindRoomEvent(t, time.Minute, room, testenv.IsNotice(bot, "Recording stopped: the disk is full. The call goes on unrecorded."))
	v := adminGet[recordingsWire](t, addr, "/admin/v1/recordings")
	if len(v.Recordings) != 1 {
		t.Fatalf("recordings after the failure: %+v", v)
	}
	if rec := v.Recordings[0]; rec.State != "stopped" || rec.Active || rec.Ended == nil ||
		!strings.Contains(rec.StopReason, "no space left on device") || rec.Dir != dir {
		t.Errorf("the stopped recording in the admin view: %+v", rec)
	}

	// The call goes on: alice hears the echo of what she sends now.
	_, sent := a.heard()
	waitFor(t, time.Minute, "alice hears her echo after the failure", func() bool { h, _ := a.heard(); return h > sent+25 })
	stopSending()
	<-aDone // ends with the cancel
	a.leave(ra)

	// Space is back; the call ends: the manifest says how it ended.
	if err := os.Remove(full); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*testenv.User{alice, bob} {
		endMembership(ctx, t, u, room)
	}
	waitFor(t, time.Minute, "the recording finished in the admin view", func() bool {
		v = adminGet[recordingsWire](t, addr, "/admin/v1/recordings")
		return len(v.Recordings) == 1 && v.Recordings[0].State == "finished"
	})
	if m := v.Recordings[0].Manifest; m == nil || m.Ended == nil || !strings.Contains(m.StopReason, "no space left on device") {
		t.Errorf("the finished manifest: %+v", m)
	}
}

// endMembership empties u's MatrixRTC membership in room (its device's).
func endMembership(ctx context.Context, t *testing.T, u *testenv.User, room id.RoomID) {
	t.Helper()
	key := "_" + u.ID.String() + "_" + string(u.Client.DeviceID) + "_m.call"
	if _, err := u.Client.SendStateEvent(ctx, room, testenv.MatrixRTCCallMember, key, map[string]any{}); err != nil {
		t.Fatal(err)
	}
}
