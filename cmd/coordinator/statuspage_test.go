package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/sfuhealth"
	"github.com/switchboard-rtc/switchboard/media"
)

// Without the bot (the JWT service alone) the page still renders: the
// sections that need the bot say so, nothing is shown as empty that is
// merely unknown.
func TestStatusPageWithoutBot(t *testing.T) {
	p := newStatusPage(&Config{}, sfuhealth.New(nil, sfuhealth.Config{}, nil))
	v := p.view(t.Context())
	if !strings.Contains(v.CallsUnavailable, "Matrix bot") || v.RefusalsUnavailable == "" || v.RecordingsUnavailable == "" ||
		v.DelegationsUnavailable == "" || !strings.Contains(v.EnforcementUnavailable, "off") ||
		!strings.Contains(v.DirectUnavailable, "Matrix bot") {
		t.Fatalf("view %+v", v)
	}
	names := map[string]string{}
	for _, h := range v.Health {
		names[h.Name] = h.State
	}
	if names["LiveKit"] != string(sfuhealth.StateUnknown) || names["Matrix bot"] != "not configured" {
		t.Fatalf("health %+v", v.Health)
	}
}

// A recording's line: its length (finished: start to end; running: so
// far) and the size of its segment files.
func TestStatusRecording(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.ogg"), make([]byte, 1500), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Second)
	m := &media.RecordingManifest{Room: "!r:x", Started: start, Ended: &end,
		Segments: []media.RecordedSegment{{File: "a.ogg"}, {File: "../missing.ivf"}}}
	r := statusRecording(dir, recordingEntry{Dir: "x", State: recFinished, Manifest: m}, end.Add(time.Hour))
	if r.Duration != 90*time.Second || r.Bytes != 1500 || r.Room != "!r:x" || !r.Started.Equal(start) {
		t.Fatalf("finished: %+v", r)
	}
	m.Ended = nil
	r = statusRecording(dir, recordingEntry{State: recActive, Manifest: m}, start.Add(time.Minute))
	if r.Duration != time.Minute {
		t.Fatalf("active: %+v", r)
	}
	r = statusRecording(dir, recordingEntry{State: recUnreadable, Error: "bad json"}, start)
	if r.Note != "bad json" || r.Duration != 0 {
		t.Fatalf("unreadable: %+v", r)
	}
}
