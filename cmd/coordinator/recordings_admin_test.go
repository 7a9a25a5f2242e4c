package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/media"
)

// TestListRecordings: newest first, bounded; a finished recording with its
// end, a broken manifest listed with its error; a manifest with no end is
// active only while a recorder holds its folder (here a lock taken as a
// recorder takes it), stopped with its reason when our recorder says it
// stopped, and otherwise interrupted (its process died) with when it was
// last written; a record_dir not made yet is an empty list, not an error.
func TestListRecordings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, manifest string) string {
		path := filepath.Join(dir, name)
		if err := os.Mkdir(path, 0o750); err != nil {
			t.Fatal(err)
		}
		if manifest != "" {
			if err := os.WriteFile(filepath.Join(path, "manifest.json"), []byte(manifest), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	const open = `{"version":1,"room":"!r:x","started":"2026-01-01T11:00:00Z","segments":[]}`
	write("20260101T100000.000Z_a", `{"version":1,"room":"!a:x","started":"2026-01-01T10:00:00Z","ended":"2026-01-01T10:05:00Z","stop_reason":"disk full","segments":[]}`)
	cut := write("20260101T110000.000Z_b", open)
	write("20260101T120000.000Z_c", `{"version":`)
	write("20260101T130000.000Z_d", "")
	lock := func(path string) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
	}
	lock(write("20260101T140000.000Z_e", open))
	stopped := write("20260101T150000.000Z_f", open)
	lock(stopped)
	at := time.Date(2026, 1, 1, 15, 1, 0, 0, time.UTC)
	calls := fakeCalls{{FeatureStats: map[string]map[string]any{"record": {
		"recording": media.RecordingStats{Dir: stopped, StopReason: "no space left on device", Ended: &at}}}}}
	mtime := time.Date(2026, 1, 1, 11, 3, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(cut, "manifest.json"), mtime, mtime); err != nil {
		t.Fatal(err)
	}

	v := listRecordings(dir, 5, ourRecordings(dir, calls))
	if v.Error != "" || !v.Truncated || len(v.Recordings) != 5 {
		t.Fatalf("view %+v", v)
	}
	f, e, d, c, b := v.Recordings[0], v.Recordings[1], v.Recordings[2], v.Recordings[3], v.Recordings[4]
	if f.State != recStopped || f.Active || f.StopReason != "no space left on device" || !f.Ended.Equal(at) || f.Manifest == nil {
		t.Errorf("stopped recording: %+v", f)
	}
	if e.State != recActive || !e.Active || e.Manifest == nil || e.Manifest.Room != "!r:x" {
		t.Errorf("active recording: %+v", e)
	}
	if d.Dir != "20260101T130000.000Z_d" || d.State != recUnreadable || d.Error == "" || d.Manifest != nil {
		t.Errorf("no manifest: %+v", d)
	}
	if c.State != recUnreadable || c.Error == "" || c.Manifest != nil {
		t.Errorf("broken manifest: %+v", c)
	}
	if b.State != recInterrupted || b.Active || b.Manifest == nil || b.LastWritten == nil || !b.LastWritten.Equal(mtime) {
		t.Errorf("interrupted recording: %+v", b)
	}
	if a := listRecordings(dir, 10, nil).Recordings[5]; a.State != recFinished || a.Active || a.Manifest == nil ||
		a.Manifest.Ended == nil || a.StopReason != "disk full" {
		t.Errorf("finished recording: %+v", a)
	}
	if v := listRecordings(filepath.Join(dir, "none"), 10, nil); v.Error != "" || len(v.Recordings) != 0 {
		t.Errorf("missing dir: %+v", v)
	}
}

// fakeCalls is the engine's call list.
type fakeCalls []lklive.CallSnapshot

func (c fakeCalls) Calls() []lklive.CallSnapshot { return c }
