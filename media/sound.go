package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// MaxSoundNameLen bounds a sound's name.
const MaxSoundNameLen = 64

var (
	// ErrSoundName is returned for a name ValidSoundName refuses.
	ErrSoundName = errors.New("media: not a sound name")
	// ErrUnknownSound is returned when the folder has no such sound.
	ErrUnknownSound = errors.New("media: unknown sound")
	// ErrSoundRefused is returned for a sound that is no regular file
	// inside the folder (a link out of it, a device, a folder).
	ErrSoundRefused = errors.New("media: sound refused")
	// ErrSoundTooLarge is returned for a sound file over its size bound.
	ErrSoundTooLarge = errors.New("media: sound file too large")
)

// ValidSoundName reports whether name is a safe file name for a sound: 1
// to MaxSoundNameLen of [A-Za-z0-9._-], not starting with a dot, so it can
// never name a path, a hidden file or a parent folder. The room command
// parser accepts the same names.
func ValidSoundName(name string) bool {
	if name == "" || len(name) > MaxSoundNameLen || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// SoundDir is a folder of Ogg Opus sounds, NAME.ogg or NAME.opus.
type SoundDir struct {
	Dir string
	// MaxBytes bounds a file; zero means DefaultMaxSoundBytes.
	MaxBytes int64
}

// Open reads sound name's file: NAME itself when it already ends in .ogg
// or .opus, else NAME.ogg, else NAME.opus. Only regular files in Dir or
// below it are read: symbolic links are followed only while they stay
// inside Dir. Errors wrap ErrSoundName, ErrUnknownSound, ErrSoundRefused
// or ErrSoundTooLarge (or say the folder cannot be opened).
func (d SoundDir) Open(name string) ([]byte, error) {
	if !ValidSoundName(name) {
		return nil, fmt.Errorf("%w: %q", ErrSoundName, name)
	}
	root, err := os.OpenRoot(d.Dir)
	if err != nil {
		return nil, fmt.Errorf("media: sound folder: %w", err)
	}
	defer root.Close()
	var files []string
	if strings.HasSuffix(name, ".ogg") || strings.HasSuffix(name, ".opus") {
		files = append(files, name)
	}
	files = append(files, name+".ogg", name+".opus")
	for _, file := range files {
		data, err := d.read(root, file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return data, err
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownSound, name)
}

// read reads file from root within d's bound.
func (d SoundDir) read(root *os.Root, file string) ([]byte, error) {
	// Non-blocking, so that a FIFO put there cannot hold the open; a
	// regular file reads as usual.
	f, err := root.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSoundRefused, file, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSoundRefused, file, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is no regular file", ErrSoundRefused, file)
	}
	limit := d.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxSoundBytes
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("%w: %s has %d bytes, more than %d", ErrSoundTooLarge, file, info.Size(), limit)
	}
	// The file may grow after Stat: never read past the bound.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("media: read sound %s: %w", file, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s has more than %d bytes", ErrSoundTooLarge, file, limit)
	}
	return data, nil
}

// Loader returns an AnnounceConfig.Load that reads sound name from d when
// the announcement starts.
func (d SoundDir) Loader(name string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return d.Open(name) }
}
