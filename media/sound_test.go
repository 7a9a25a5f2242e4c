package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestValidSoundName(t *testing.T) {
	for name, want := range map[string]bool{
		"hello": true, "Hello_2.ogg": true, "a-b": true, strings.Repeat("x", MaxSoundNameLen): true,
		"": false, ".hidden": false, "..": false, "../x": false, "a/b": false, `a\b`: false, "a b": false,
		"é": false, "a\x00": false, strings.Repeat("x", MaxSoundNameLen+1): false,
	} {
		if got := ValidSoundName(name); got != want {
			t.Errorf("ValidSoundName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestSoundDir: a sound is NAME.ogg, NAME.opus or NAME itself, a regular
// file inside the folder and within its bound; anything else is refused
// with its own error.
func TestSoundDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "sounds")
	outside := filepath.Join(base, "secret.ogg")
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sub"), 0o700))
	write(outside, "secret")
	write(filepath.Join(dir, "hello.ogg"), "hello ogg")
	write(filepath.Join(dir, "hello.opus"), "hello opus")
	write(filepath.Join(dir, "bye.opus"), "bye opus")
	write(filepath.Join(dir, "sub", "inner.ogg"), "inner")
	write(filepath.Join(dir, "big.ogg"), strings.Repeat("x", 101))
	must(os.Symlink(outside, filepath.Join(dir, "escape.ogg")))
	must(os.Symlink("../secret.ogg", filepath.Join(dir, "relative.ogg")))
	must(os.Symlink("sub/inner.ogg", filepath.Join(dir, "linked.ogg")))
	must(os.Mkdir(filepath.Join(dir, "folder.ogg"), 0o700))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo.ogg"), 0o600))

	d := SoundDir{Dir: dir, MaxBytes: 100}
	for name, want := range map[string]string{
		"hello": "hello ogg", "hello.opus": "hello opus", "bye": "bye opus", "linked": "inner",
	} {
		got, err := d.Open(name)
		if err != nil || string(got) != want {
			t.Errorf("Open(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for name, want := range map[string]error{
		"missing": ErrUnknownSound, "../secret": ErrSoundName, "sub/inner": ErrSoundName, ".hello": ErrSoundName,
		"escape": ErrSoundRefused, "relative": ErrSoundRefused, "folder": ErrSoundRefused, "fifo": ErrSoundRefused,
		"big": ErrSoundTooLarge,
	} {
		got, err := d.Open(name)
		if !errors.Is(err, want) {
			t.Errorf("Open(%q) = %q, %v; want %v", name, got, err, want)
		}
	}
	if _, err := (SoundDir{Dir: filepath.Join(base, "none")}).Open("hello"); err == nil || errors.Is(err, ErrUnknownSound) {
		t.Errorf("a missing folder: %v", err)
	}
	if got, err := d.Loader("bye")(context.Background()); err != nil || string(got) != "bye opus" {
		t.Errorf("Loader: %q, %v", got, err)
	}
}
