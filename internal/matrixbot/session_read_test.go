package matrixbot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestReadSession: ReadSession finds what saveSession stored, and on a data
// directory without a database it says ErrNoSession and creates nothing.
func TestReadSession(t *testing.T) {
	empty := t.TempDir()
	if _, err := ReadSession(t.Context(), empty); !errors.Is(err, ErrNoSession) {
		t.Fatalf("empty dir: %v, want ErrNoSession", err)
	}
	if _, err := os.Stat(filepath.Join(empty, dbName)); err == nil {
		t.Fatal("ReadSession created the database")
	}
	dir := t.TempDir()
	d, err := openDB(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.sql.Close()
	if _, err := ReadSession(t.Context(), dir); !errors.Is(err, ErrNoSession) {
		t.Fatalf("no token stored: %v, want ErrNoSession", err)
	}
	want := session{UserID: "@bot:example.org", DeviceID: "DEV", AccessToken: "syt_tok"}
	if err := d.saveSession(t.Context(), want, true); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSession(t.Context(), dir)
	if err != nil || got != StoredSession(want) {
		t.Fatalf("ReadSession = %+v, %v; want %+v", got, err, want)
	}
}
