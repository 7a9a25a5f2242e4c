package mesh

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleTypes maps each example file in testdata to its event type.
func exampleTypes(t testing.TB) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*_*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		if strings.Contains(base, ".") { // goldens
			continue
		}
		dialect, kind, _ := strings.Cut(base, "_")
		prefix := RoomPrefix
		if dialect == "group" {
			prefix = GroupPrefix
		}
		out[filepath.Base(f)] = prefix + kind
	}
	if len(out) < 16 {
		t.Fatalf("only %d examples in testdata", len(out))
	}
	return out
}

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutate decodes an example into generic JSON, applies edit and encodes
// it again.
func mutate(t testing.TB, name string, edit func(m map[string]any)) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readExample(t, name), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sub is the object at key of m (for nested edits).
func sub(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

// mustDecode decodes an example, failing the test on error.
func mustDecode(t testing.TB, name string) Signal {
	t.Helper()
	s, err := Decode(exampleTypes(t)[name], readExample(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}
