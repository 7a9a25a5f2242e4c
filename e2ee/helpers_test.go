package e2ee

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"maunium.net/go/mautrix/id"
)

var updateGolden = flag.Bool("update-e2ee-golden", false, "rewrite golden files in testdata/")

// toDevice is the part of a decrypted to-device event the codecs read.
type toDevice struct {
	Type    string          `json:"type"`
	Sender  id.UserID       `json:"sender"`
	Content json.RawMessage `json:"content"`
}

func loadToDevice(t testing.TB, name string) toDevice {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev toDevice
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// compact is b without insignificant whitespace.
func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkGolden compares got with testdata/name (rewritten with -update-e2ee-golden).
func checkGolden(t *testing.T, name string, got []byte) {
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
