package media

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRecordDiskFull: the disk fills mid-call (manifest writes go to
// /dev/full, whose writes fail with ENOSPC as a full disk's do): the
// recording stops when a segment ends and its manifest cannot be written,
// OnStop hears ENOSPC, the stats say when and why, and Close neither fails
// nor calls OnStop again.
func TestRecordDiskFull(t *testing.T) {
	clock, _, r, stops, _ := startRecorder(t, RecordConfig{})
	t0 := clock.Now()
	if err := os.Symlink("/dev/full", filepath.Join(r.dir, ManifestName+".tmp")); err != nil {
		t.Fatal(err)
	}
	a := recordSource(t, r, audioSource("@a:x:DA"))
	a.WriteFrame(opus(t0, 0, "\xf8a"))
	a.Close()
	err := recv(t, stops, "OnStop was not called")
	if !errors.Is(err, ErrRecordWrite) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("OnStop(%v), want ErrRecordWrite wrapping ENOSPC", err)
	}
	if st := r.Stats()["recording"].(RecordingStats); st.Ended == nil || !strings.Contains(st.StopReason, "no space left") {
		t.Fatalf("stats %+v", st)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(stops) != 0 {
		t.Fatalf("OnStop called again: %v", <-stops)
	}
}

// TestRecordStopInManifest: a segment file that cannot be created (here
// something else is in its place) stops the recording, and the manifest,
// still writable, says at once when and why: the admin view shows it
// ended while the call goes on.
func TestRecordStopInManifest(t *testing.T) {
	clock, _, r, stops, _ := startRecorder(t, RecordConfig{})
	t0 := clock.Now()
	src := audioSource("@a:x:DA")
	if err := os.Mkdir(filepath.Join(r.dir, segmentName(1, src)), 0o750); err != nil {
		t.Fatal(err)
	}
	a := recordSource(t, r, src)
	a.WriteFrame(opus(t0, 0, "\xf8a"))
	if err := recv(t, stops, "OnStop was not called"); !errors.Is(err, os.ErrExist) {
		t.Fatalf("OnStop(%v), want the file in the way", err)
	}
	m, err := ReadManifest(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Ended == nil || !strings.Contains(m.StopReason, "file exists") {
		t.Fatalf("manifest after the failure, before Close: ended %v, reason %q", m.Ended, m.StopReason)
	}
	ended := *m.Ended
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if m, err = ReadManifest(r.dir); err != nil || !m.Ended.Equal(ended) || m.StopReason == "" {
		t.Fatalf("after Close: %+v, %v (want the failure's end %v kept)", m, err, ended)
	}
}

// TestRecordingInProgress: a recording is in progress from Start until
// Close has finished it; a folder whose manifest never got its end (its
// recorder died) is not.
func TestRecordingInProgress(t *testing.T) {
	_, _, r, _, _ := startRecorder(t, RecordConfig{})
	if on, err := RecordingInProgress(r.dir); !on || err != nil {
		t.Fatalf("while recording: %v, %v", on, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if on, err := RecordingInProgress(r.dir); on || err != nil {
		t.Fatalf("after Close: %v, %v", on, err)
	}

	cut := t.TempDir()
	if err := os.WriteFile(filepath.Join(cut, ManifestName), []byte(`{"version":1,"segments":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if on, err := RecordingInProgress(cut); on || err != nil {
		t.Fatalf("no recorder: %v, %v", on, err)
	}
	if _, err := RecordingInProgress(filepath.Join(cut, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing folder: %v", err)
	}
}
