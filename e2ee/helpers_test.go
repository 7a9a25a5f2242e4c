package e2ee

import (
	"bytes"
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/golden"
)

// toDevice is the part of a decrypted to-device event the codecs read.
type toDevice struct {
	Type    string          `json:"type"`
	Sender  id.UserID       `json:"sender"`
	Content json.RawMessage `json:"content"`
}

func loadToDevice(t testing.TB, name string) toDevice {
	t.Helper()
	return golden.Load[toDevice](t, name)
}

// compact is b without insignificant whitespace.
func compact(t *testing.T, b []byte) []byte { t.Helper(); return golden.Compact(t, b) }

// checkGolden compares got with testdata/name (rewritten with -update-golden).
func checkGolden(t *testing.T, name string, got []byte) { t.Helper(); golden.Check(t, name, got) }

// checkBuiltBack checks that built (the build of what original parsed to)
// is original byte for byte, compacted, and matches testdata/golden.
func checkBuiltBack(t *testing.T, original json.RawMessage, built []byte, err error, golden string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if want := compact(t, original); !bytes.Equal(built, want) {
		t.Errorf("build:\n got %s\nwant %s", built, want)
	}
	checkGolden(t, golden, built)
}

// seq is n bytes counting up from start (mod 256): readable test keys.
func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}
