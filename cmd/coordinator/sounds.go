package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/media"
)

// soundFolder is calls.sounds_dir as the announce feature and !call play
// NAME read it.
type soundFolder struct {
	dir    media.SoundDir
	logger *slog.Logger // nil: errors are not logged (check-config)
}

func (c *Config) sounds() soundFolder {
	return soundFolder{dir: media.SoundDir{Dir: c.Calls.SoundsDir, MaxBytes: media.DefaultMaxSoundBytes}}
}

// sound reads and parses sound name. Its errors are fit to show a room:
// they name the sound, never the folder (the full error is logged).
func (s soundFolder) sound(name string) (*media.OpusSound, error) {
	data, err := s.dir.Open(name)
	if err == nil {
		var sound *media.OpusSound
		if sound, err = media.ParseOggOpus(data); err == nil {
			return sound, nil
		}
	}
	if s.logger != nil {
		s.logger.Warn("sound not played", "sound", name, "err", err)
	}
	if errors.Is(err, media.ErrUnknownSound) || errors.Is(err, media.ErrSoundName) || errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("there is no sound named %q", name)
	}
	return nil, soundError(fmt.Sprintf("the sound %q", name), err, s.dir.MaxBytes)
}

// soundError says, for a room, why a sound (what) cannot be played; max
// is its size bound.
func soundError(what string, err error, max int64) error {
	switch {
	case errors.Is(err, media.ErrSoundTooLarge):
		if max <= 0 {
			max = media.DefaultMaxSoundBytes
		}
		return fmt.Errorf("%s is too large (over %s)", what, sizeText(max))
	case errors.Is(err, media.ErrBadOgg):
		return fmt.Errorf("%s is not an Ogg Opus file", what)
	}
	return fmt.Errorf("%s cannot be read", what)
}

// sizeText is n bytes in the largest whole unit that fits.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// playSound is the supervisor's Config.Sound: !call play NAME's
// announcement, its track named for the sound. It reads the file in the
// caller's goroutine (the command reader's), never the supervisor's.
func (s soundFolder) playSound(_ id.RoomID, name string) (media.Factory, error) {
	sound, err := s.sound(name)
	if err != nil {
		return nil, err
	}
	return announceFactory(media.AnnounceConfig{Name: media.DefaultAnnounceName + " " + name, Sound: sound})
}
