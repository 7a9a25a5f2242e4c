package membership

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

var updateGolden = flag.Bool("update-codec-golden", false, "rewrite golden files in testdata/")

// codecEvent is the part of a Matrix event the codecs read.
type codecEvent struct {
	Type     string          `json:"type"`
	RoomID   id.RoomID       `json:"room_id"`
	Sender   id.UserID       `json:"sender"`
	StateKey string          `json:"state_key"`
	OriginTS int64           `json:"origin_server_ts"`
	Content  json.RawMessage `json:"content"`
}

func loadCodecEvent(t testing.TB, name string) codecEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev codecEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// compactCodecJSON is b without insignificant whitespace.
func compactCodecJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkCodecGolden compares got with testdata/name (rewritten with -update-codec-golden).
func checkCodecGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.TrimRight(want, "\n")) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// sameCodecMember reports whether a and b are equal, comparing times as instants.
func sameCodecMember(a, b Member) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.ExpiresAt.Equal(b.ExpiresAt) {
		return false
	}
	a.CreatedAt, b.CreatedAt, a.ExpiresAt, b.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(a.Feeds) == 0 && len(b.Feeds) == 0 {
		a.Feeds, b.Feeds = nil, nil
	}
	if len(a.Preferred) == 0 && len(b.Preferred) == 0 {
		a.Preferred, b.Preferred = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func sameCodecMembers(a, b []Member) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameCodecMember(a[i], b[i]) {
			return false
		}
	}
	return true
}
