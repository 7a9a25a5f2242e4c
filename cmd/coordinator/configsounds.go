package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/media"
)

// validateSounds fills calls.sounds_dir from data_dir and checks it is not
// something other than a folder; when a call has announce, calls.announce
// must name a sound there that is Ogg Opus (read and parsed now, so a bad
// file is found before the first call rather than in it).
func (c *Config) validateSounds(bad func(key, format string, args ...any)) {
	if c.Calls.SoundsDir == "" && c.DataDir != "" {
		c.Calls.SoundsDir = filepath.Join(c.DataDir, "sounds")
	}
	dir := c.Calls.SoundsDir
	folder := true
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		bad("calls.sounds_dir", "%q is not a folder", dir)
		folder = false
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		bad("calls.sounds_dir", "%v", err)
		folder = false
	}
	if !c.announceUsed() {
		return
	}
	name := c.Calls.Announce
	switch {
	case name == "":
		bad("calls.announce", "required when a call has announce: the NAME of a sound in calls.sounds_dir")
	case !media.ValidSoundName(name):
		bad("calls.announce", "%q is not a sound name (1 to 64 letters, digits, dots, dashes or underscores, not starting with a dot)", name)
	case dir == "":
		bad("calls.sounds_dir", "required when a call has announce (set it or data_dir)")
	case folder:
		if _, err := c.sounds().sound(name); err != nil {
			bad("calls.announce", "%v", err)
		}
	}
}

// announceUsed reports whether calls.features or any room's features name
// announce.
func (c *Config) announceUsed() bool {
	if slices.Contains(c.Calls.Features, calls.FeatureAnnounce) {
		return true
	}
	for _, list := range c.Calls.RoomFeatures {
		if slices.Contains(splitList(list), calls.FeatureAnnounce) {
			return true
		}
	}
	return false
}
