package media

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ManifestName is the manifest's file name in a recording's folder.
const ManifestName = "manifest.json"

// RecordingManifest describes one recording: manifest.json in its folder.
type RecordingManifest struct {
	Version int    `json:"version"`
	Room    string `json:"room"`
	Call    string `json:"call"`
	// Started is the recording's time zero: every segment's OffsetMS
	// counts from it.
	Started time.Time `json:"started"`
	// Ended is unset while the recording runs (or if it never finished).
	Ended *time.Time `json:"ended,omitempty"`
	// StopReason says why a recording ended before its Close.
	StopReason string            `json:"stop_reason,omitempty"`
	Segments   []RecordedSegment `json:"segments"`
	// Mutes are the times a sender said a source of its was muted, on
	// the common timeline, in the order they began. The source's file
	// goes on through them (with what the sender sent, or silence).
	Mutes []RecordedMute `json:"mutes,omitempty"`
}

// RecordedMute is one interval a source was muted: from FromMS until
// ToMS, in milliseconds after Started. ToMS is unset while the mute
// lasts; a recording that ends muted closes it at Ended.
type RecordedMute struct {
	Participant string `json:"participant"`
	Source      string `json:"source"`
	Kind        string `json:"kind"`
	FromMS      int64  `json:"from_ms"`
	ToMS        *int64 `json:"to_ms,omitempty"`
}

// RecordedSegment is one segment file: one source, from its first frame
// written until it ended, left the call, or its timestamps jumped. A track
// replaced on the same sender (a camera or microphone switch) is the same
// source and goes on in the same segment, unless the new track's
// timestamps jump past the rules of NewRecorder (then a new segment of
// that source starts, placed by its arrival).
type RecordedSegment struct {
	User   string `json:"user"`
	Device string `json:"device"`
	// Participant is the engine's name of the sender (Source.Participant,
	// the LiveKit identity).
	Participant string `json:"participant"`
	Source      string `json:"source"`
	Kind        string `json:"kind"`
	Codec       Codec  `json:"codec"`
	// Purpose is the source's (Source.Purpose): "m.screenshare" marks a
	// screen share, which is always a source, and so a file, of its own.
	Purpose string `json:"purpose,omitempty"`
	// File is the segment's file name in the recording's folder.
	File string `json:"file"`
	// OffsetMS is when the segment's first frame arrived, in milliseconds
	// after Started: where the file's time zero sits on the common
	// timeline.
	OffsetMS int64 `json:"offset_ms"`
	// DurationMS is how long the file plays (from the RTP timestamps; for
	// audio including the silence filled in gaps).
	DurationMS int64  `json:"duration_ms"`
	Frames     uint64 `json:"frames"`
	// SilenceMS is the audio filled in gaps (lost packets, DTX, mute).
	SilenceMS int64 `json:"silence_ms,omitempty"`
}

// maxNamePart bounds each escaped part of a file name, keeping names well
// below NAME_MAX (255) whatever a user id holds.
const maxNamePart = 60

// escapeName makes s safe as part of a file name: ASCII letters, digits,
// '-' and '_' stay, every other byte becomes %XX (so '.', '/', ':' and '@'
// can never form a path or a hidden name), and the result is cut to
// maxNamePart bytes at an escape's boundary. Names stay unique through the
// segment number they start with, not through this.
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		var part string
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			part = string(c)
		} else {
			part = fmt.Sprintf("%%%02X", c)
		}
		if b.Len()+len(part) > maxNamePart {
			break
		}
		b.WriteString(part)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// makeRecordingDir creates the folder of a recording started at start in
// room: "<UTC start>_<room>", with "-2", "-3"… when taken.
func makeRecordingDir(base string, start time.Time, room string) (string, error) {
	if base == "" {
		return "", fmt.Errorf("%w: no folder configured", ErrRecordConfig)
	}
	name := start.UTC().Format("20060102T150405.000Z") + "_" + escapeName(room)
	for i := 1; i <= 100; i++ {
		dir := filepath.Join(base, name)
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", dir, i)
		}
		err := os.Mkdir(dir, 0o750)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("record: 100 recordings named %s already", name)
}

// segmentName is the file name of a recording's seq-th segment.
func segmentName(seq int, src Source) string {
	ext := "opus"
	if src.Kind == Video {
		ext = "ivf"
	}
	return fmt.Sprintf("%04d_%s_%s_%s.%s", seq, escapeName(src.UserID), escapeName(src.DeviceID), src.Kind, ext)
}

// writeManifest replaces the manifest atomically (a temporary file renamed
// over it), so that a reader never sees half of one. It is written at the
// start, whenever a segment ends, and by Close.
func (r *recorder) writeManifest() error {
	r.writing.Lock() // one temporary file at a time
	defer r.writing.Unlock()
	r.mu.Lock()
	m := r.manifest
	// In timeline order; lines add their segments as they come.
	m.Segments = slices.Clone(m.Segments)
	m.Mutes = slices.Clone(m.Mutes)
	r.mu.Unlock()
	slices.SortStableFunc(m.Segments, func(a, b RecordedSegment) int {
		return cmp.Or(cmp.Compare(a.OffsetMS, b.OffsetMS), strings.Compare(a.File, b.File))
	})
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(r.dir, ManifestName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// MaxManifestBytes bounds what ReadManifest reads (a recording of hours
// with thousands of segments stays far below it).
const MaxManifestBytes = 16 << 20

// ErrManifestTooLarge: a manifest.json above MaxManifestBytes.
var ErrManifestTooLarge = errors.New("record: manifest larger than the bound")

// ReadManifest reads a recording's manifest from its folder.
func ReadManifest(dir string) (RecordingManifest, error) {
	var m RecordingManifest
	f, err := os.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		return m, err
	}
	defer f.Close()
	// A manifest is ours, but the folder is on disk where anything can be
	// put: read at most a bound, not whatever is there.
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestBytes+1))
	if err != nil {
		return m, fmt.Errorf("record: manifest in %s: %w", dir, err)
	}
	if len(data) > MaxManifestBytes {
		return m, fmt.Errorf("record: manifest in %s: %w", dir, ErrManifestTooLarge)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("record: manifest in %s: %w", dir, err)
	}
	return m, nil
}
