package media

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRecordOnStart: OnStart is called once when a recording begins, before
// its OnStop; a recording whose folder cannot be made gets only OnStop.
func TestRecordOnStart(t *testing.T) {
	starts := 0
	_, _, r, stops, _ := startRecorder(t, RecordConfig{OnStart: func() { starts++ }})
	if starts != 1 || len(stops) != 0 {
		t.Fatalf("after Start: %d OnStart calls, %d OnStop calls", starts, len(stops))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, stops, "OnStop was not called"); err != nil || starts != 1 {
		t.Fatalf("after Close: OnStop(%v), %d OnStart calls", err, starts)
	}

	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	starts = 0
	_, _, _, stops, _ = startRecorder(t, RecordConfig{Dir: notDir, OnStart: func() { starts++ }})
	if err := recv(t, stops, "OnStop was not called"); err == nil || starts != 0 {
		t.Fatalf("unwritable folder: OnStop(%v), %d OnStart calls", err, starts)
	}
}
