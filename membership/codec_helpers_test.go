package membership

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/golden"
)

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
	return golden.Load[codecEvent](t, name)
}

// compactCodecJSON is b without insignificant whitespace.
func compactCodecJSON(t *testing.T, b []byte) []byte { t.Helper(); return golden.Compact(t, b) }

// checkCodecGolden compares got with testdata/name (rewritten with -update-golden).
func checkCodecGolden(t *testing.T, name string, got []byte) { t.Helper(); golden.Check(t, name, got) }

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
