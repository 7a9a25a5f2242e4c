package main

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/media"
)

// maxListedRecordings bounds GET /admin/v1/recordings: the newest this many
// folders are read, so a record_dir of years stays cheap to list.
const maxListedRecordings = 200

// recordingEntry is one recording folder in the admin view: its manifest,
// or why the manifest could not be read.
type recordingEntry struct {
	Dir      string                   `json:"dir"`
	Active   bool                     `json:"active"`
	Manifest *media.RecordingManifest `json:"manifest,omitempty"`
	Error    string                   `json:"error,omitempty"`
}

// recordingsView is GET /admin/v1/recordings.
type recordingsView struct {
	Dir        string           `json:"dir"`
	Recordings []recordingEntry `json:"recordings"`
	// Truncated says older recordings exist beyond the listed ones.
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"`
}

// recordingsAdmin serves GET /admin/v1/recordings: the recordings under
// dir, newest first, active (no end time yet) and finished alike.
func recordingsAdmin(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpserve.WriteJSON(w, http.StatusOK, listRecordings(dir, maxListedRecordings))
	})
}

// listRecordings reads at most limit recording folders under dir, newest
// first. Folder names start with the UTC start time, so the name order is
// the start order. A folder whose manifest cannot be read is listed with
// the error; a missing dir is an empty list (nothing recorded yet).
func listRecordings(dir string, limit int) recordingsView {
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
		entry := recordingEntry{Dir: name}
		m, err := media.ReadManifest(filepath.Join(dir, name))
		if err != nil {
			entry.Error = err.Error()
		} else {
			entry.Manifest, entry.Active = &m, m.Ended == nil
		}
		view.Recordings = append(view.Recordings, entry)
	}
	return view
}
