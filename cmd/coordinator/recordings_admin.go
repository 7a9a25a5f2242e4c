package main

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/media"
)

// maxListedRecordings bounds GET /admin/v1/recordings: the newest this many
// folders are read, so a record_dir of years stays cheap to list.
const maxListedRecordings = 200

// Recording states in the admin view.
const (
	// recActive: a recorder is writing it (its folder's lock is held).
	recActive = "active"
	// recStopped: our recorder stopped early on a failed write; the call
	// goes on unrecorded.
	recStopped = "stopped"
	// recFinished: its manifest has its end (after a failure too).
	recFinished = "finished"
	// recInterrupted: no end and no recorder: the process writing it died.
	recInterrupted = "interrupted"
	// recUnreadable: the manifest is missing or cannot be read.
	recUnreadable = "unreadable"
)

// recordingEntry is one recording folder in the admin view: its state, its
// manifest, or why the manifest could not be read.
type recordingEntry struct {
	Dir   string `json:"dir"`
	State string `json:"state"`
	// Active is State == "active".
	Active bool `json:"active"`
	// StopReason says why a recording stopped early (stopped, or finished
	// early).
	StopReason string `json:"stop_reason,omitempty"`
	// Ended is when a stopped recording stopped (its manifest may not have
	// been writable).
	Ended *time.Time `json:"ended,omitempty"`
	// LastWritten is, for an interrupted recording, when its newest file
	// was last written: about when it was cut off.
	LastWritten *time.Time               `json:"last_written,omitempty"`
	Manifest    *media.RecordingManifest `json:"manifest,omitempty"`
	Error       string                   `json:"error,omitempty"`
}

// recordingsView is GET /admin/v1/recordings.
type recordingsView struct {
	Dir        string           `json:"dir"`
	Recordings []recordingEntry `json:"recordings"`
	// Truncated says older recordings exist beyond the listed ones.
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"`
}

// callLister is the engine as the recordings view reads it: our running
// recorders report their stats there.
type callLister interface {
	Calls() []lklive.CallSnapshot
}

// recordingsAdmin serves GET /admin/v1/recordings: the recordings under
// dir, newest first, in every state. calls (may be nil) tells why our own
// running recordings stopped when their folder could not be written.
func recordingsAdmin(dir string, calls callLister) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpserve.WriteJSON(w, http.StatusOK, listRecordings(dir, maxListedRecordings, ourRecordings(dir, calls)))
	})
}

// ourRecordings maps the folder names of this process's recordings under
// dir to their recorders' stats.
func ourRecordings(dir string, calls callLister) map[string]media.RecordingStats {
	out := map[string]media.RecordingStats{}
	if calls == nil {
		return out
	}
	for _, c := range calls.Calls() {
		for _, stats := range c.FeatureStats {
			rec, ok := stats["recording"].(media.RecordingStats)
			if ok && rec.Dir != "" && filepath.Dir(rec.Dir) == filepath.Clean(dir) {
				out[filepath.Base(rec.Dir)] = rec
			}
		}
	}
	return out
}

// listRecordings reads at most limit recording folders under dir, newest
// first. Folder names start with the UTC start time, so the name order is
// the start order. A folder whose manifest cannot be read is listed with
// the error; a missing dir is an empty list (nothing recorded yet). ours
// are this process's recorders' stats by folder name.
func listRecordings(dir string, limit int, ours map[string]media.RecordingStats) recordingsView {
	view := recordingsView{Dir: dir, Recordings: []recordingEntry{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			view.Error = err.Error()
		}
		return view
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	slices.Reverse(names)
	if len(names) > limit {
		names, view.Truncated = names[:limit], true
	}
	for _, name := range names {
		e := readRecording(filepath.Join(dir, name), ours[name])
		e.Dir = name
		view.Recordings = append(view.Recordings, e)
	}
	return view
}

// readRecording is the entry of the recording folder path; ours is its
// recorder's stats if it is one of ours.
func readRecording(path string, ours media.RecordingStats) recordingEntry {
	var e recordingEntry
	m, err := media.ReadManifest(path)
	if err == nil && m.Ended == nil {
		var running bool
		running, err = media.RecordingInProgress(path)
		switch {
		case err != nil:
		case running && ours.StopReason != "":
			e.State, e.StopReason, e.Ended = recStopped, ours.StopReason, ours.Ended
		case running:
			e.State, e.Active = recActive, true
		default:
			// Its recorder may have finished since we read the manifest:
			// read it again before calling it cut off.
			if m, err = media.ReadManifest(path); err == nil && m.Ended == nil {
				e.State, e.LastWritten = recInterrupted, lastWritten(path)
			}
		}
	}
	if err != nil {
		e.State, e.Error = recUnreadable, err.Error()
		return e
	}
	e.Manifest = &m
	if m.Ended != nil {
		e.State, e.StopReason = recFinished, m.StopReason
	}
	return e
}

// lastWritten is the newest modification time of the files in dir (nil
// when none can be read).
func lastWritten(dir string) *time.Time {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var last time.Time
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().After(last) {
			last = info.ModTime()
		}
	}
	if last.IsZero() {
		return nil
	}
	last = last.UTC()
	return &last
}
