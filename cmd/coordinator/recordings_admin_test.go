package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestListRecordings: newest first, bounded, a finished recording with its
// end, an active one without, a broken manifest listed with its error; a
// record_dir not made yet is an empty list, not an error.
func TestListRecordings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, manifest string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o750); err != nil {
			t.Fatal(err)
		}
		if manifest != "" {
			if err := os.WriteFile(filepath.Join(dir, name, "manifest.json"), []byte(manifest), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("20260101T100000.000Z_a", `{"version":1,"room":"!a:x","started":"2026-01-01T10:00:00Z","ended":"2026-01-01T10:05:00Z","segments":[]}`)
	write("20260101T110000.000Z_b", `{"version":1,"room":"!b:x","started":"2026-01-01T11:00:00Z","segments":[]}`)
	write("20260101T120000.000Z_c", `{"version":`)
	write("20260101T130000.000Z_d", "")

	v := listRecordings(dir, 3)
	if v.Error != "" || !v.Truncated || len(v.Recordings) != 3 {
		t.Fatalf("view %+v", v)
	}
	d, c, b := v.Recordings[0], v.Recordings[1], v.Recordings[2]
	if d.Dir != "20260101T130000.000Z_d" || d.Error == "" || d.Manifest != nil {
		t.Errorf("no manifest: %+v", d)
	}
	if c.Error == "" || c.Manifest != nil {
		t.Errorf("broken manifest: %+v", c)
	}
	if !b.Active || b.Manifest == nil || b.Manifest.Room != "!b:x" {
		t.Errorf("active recording: %+v", b)
	}
	if a := listRecordings(dir, 10).Recordings[3]; a.Active || a.Manifest == nil || a.Manifest.Ended == nil {
		t.Errorf("finished recording: %+v", a)
	}
	if v := listRecordings(filepath.Join(dir, "none"), 10); v.Error != "" || len(v.Recordings) != 0 {
		t.Errorf("missing dir: %+v", v)
	}
}
