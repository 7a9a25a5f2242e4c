package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/media"
)

// oggOpus is a small valid Ogg Opus file: OpusHead, OpusTags and n pages
// of one 20 ms packet each (TOC 0xf8: CELT fullband 20 ms, mono, one
// frame), written here by the Ogg rules (RFC 3533, RFC 7845) so the unit
// tests need no encoder.
func oggOpus(n int) []byte {
	var out bytes.Buffer
	seq := uint32(0)
	page := func(flags byte, granule int64, body []byte) {
		p := append([]byte("OggS\x00"), flags)
		p = binary.LittleEndian.AppendUint64(p, uint64(granule))
		p = binary.LittleEndian.AppendUint32(p, 0x5eed)
		p = binary.LittleEndian.AppendUint32(p, seq)
		p = append(p, 0, 0, 0, 0, 1, byte(len(body))) // one segment: bodies here are < 255 bytes
		p = append(p, body...)
		binary.LittleEndian.PutUint32(p[22:], oggCRC(p))
		out.Write(p)
		seq++
	}
	head := append([]byte("OpusHead"), 1, 1, 0x38, 0x01) // version 1, mono, pre-skip 312
	head = binary.LittleEndian.AppendUint32(head, 48000)
	head = append(head, 0, 0, 0)
	page(0x02, 0, head)
	page(0, 0, append([]byte("OpusTags"), 4, 0, 0, 0, 't', 'e', 's', 't', 0, 0, 0, 0))
	for i := range n {
		flags := byte(0)
		if i == n-1 {
			flags = 0x04
		}
		page(flags, int64(i+1)*960, []byte{0xf8, 0xff, 0xfe})
	}
	return out.Bytes()
}

// oggCRC is Ogg's CRC-32 (polynomial 0x04c11db7, not reflected, 0 start).
func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// soundsDir makes a sounds folder: good.ogg (Ogg Opus), bad.ogg (not),
// big.opus (over 100 bytes) and dir.ogg (a folder).
func soundsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string][]byte{"good.ogg": oggOpus(3), "bad.ogg": []byte("RIFF not ogg"),
		"big.opus": oggOpus(50)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.ogg"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSoundFolder: !call play NAME's sounds, and why one cannot play in
// words for the room that never name the folder.
func TestSoundFolder(t *testing.T) {
	dir := soundsDir(t)
	s := soundFolder{dir: media.SoundDir{Dir: dir, MaxBytes: 400}}
	f, err := s.playSound("!r:x", "good")
	if err != nil || f == nil || f.Name() != "announce good" {
		t.Fatalf("good: %v, %v", f, err)
	}
	for name, want := range map[string]string{
		"nosuch": `there is no sound named "nosuch"`,
		"bad":    `the sound "bad" is not an Ogg Opus file`,
		"big":    `the sound "big" is too large (over 400 bytes)`,
		"dir":    `the sound "dir" cannot be read`,
		"../x":   `there is no sound named "../x"`,
	} {
		f, err := s.playSound("!r:x", name)
		if f != nil || err == nil || err.Error() != want {
			t.Errorf("%s: %v, %v; want %q", name, f, err, want)
		}
		if err != nil && strings.Contains(err.Error(), dir) {
			t.Errorf("%s: the error names the folder: %v", name, err)
		}
	}
	gone := soundFolder{dir: media.SoundDir{Dir: filepath.Join(dir, "none")}}
	if _, err := gone.playSound("!r:x", "good"); err == nil || err.Error() != `there is no sound named "good"` {
		t.Errorf("no folder: %v", err)
	}
}

// TestCheckConfigSounds: calls.sounds_dir defaults to <data_dir>/sounds;
// with announce on (in features or a room's), check-config reports at
// once a missing or bad calls.announce, a sounds_dir that is a file, and
// an announce sound that is missing or not Ogg Opus.
func TestCheckConfigSounds(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = "/srv/sb"
	_ = cfg.validate()
	if cfg.Calls.SoundsDir != "/srv/sb/sounds" {
		t.Errorf("default sounds_dir %q", cfg.Calls.SoundsDir)
	}
	dir := soundsDir(t)
	file := filepath.Join(dir, "good.ogg")
	bot := "matrix: {homeserver_url: \"http://127.0.0.1:9\", server_name: x, bot: {user_id: \"@b:x\", password: p}}\n"
	for _, c := range []struct {
		yaml   string
		want   []string
		wantOK bool // no calls.announce or calls.sounds_dir problem
	}{
		{bot + `calls: {features: [echo, announce], echo_delay: 1m}`,
			[]string{"calls.announce: required when a call has announce", "calls.echo_delay:"}, false},
		{bot + `calls: {room_features: {"!r:x": "announce"}, announce: "../x", sounds_dir: "` + file + `"}`,
			[]string{`calls.announce: "../x" is not a sound name`, `calls.sounds_dir: "` + file + `" is not a folder`}, false},
		{bot + `calls: {features: [announce], announce: nosuch, sounds_dir: "` + dir + `", max_seats: 0}`,
			[]string{`calls.announce: there is no sound named "nosuch"`, "calls.max_seats:"}, false},
		{bot + `calls: {features: [announce], announce: bad, sounds_dir: "` + dir + `"}`,
			[]string{`calls.announce: the sound "bad" is not an Ogg Opus file`}, false},
		{bot + `calls: {features: [announce], announce: good, sounds_dir: "` + dir + `", max_seats: 0}`, nil, true},
		{bot + `calls: {features: [echo], sounds_dir: "` + file + `", max_seats: 0}`,
			[]string{`calls.sounds_dir: "` + file + `" is not a folder`}, false},
	} {
		out := checkConfigRefuses(t, c.yaml, c.want...)
		if c.wantOK && (strings.Contains(out, "calls.announce") || strings.Contains(out, "calls.sounds_dir")) {
			t.Errorf("%s: a good announce sound refused:\n%s", c.yaml, out)
		}
	}
}

// checkConfigRefuses runs check-config on yaml (over minimalEnv): it must
// fail, its output naming each of want. It returns the output.
func checkConfigRefuses(t *testing.T, yaml string, want ...string) string {
	t.Helper()
	path := writeFile(t, "c.yaml", yaml)
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"coordinator", "check-config", "--config", path}, envOf(minimalEnv()), &out, &errOut); err == nil {
		t.Errorf("%s: accepted", yaml)
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("%s: output lacks %q:\n%s", yaml, w, out.String())
		}
	}
	return out.String()
}
