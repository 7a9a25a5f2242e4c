package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// needTool returns the path of a Debian opus-tools program. A missing tool
// fails the test: scripts/browser-deps installs opus-tools.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s (Debian's opus-tools) is missing; scripts/browser-deps installs it: %v", name, err)
	}
	return path
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(needTool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// toneWAV writes a second of a 440 Hz tone, 48 kHz mono 16-bit.
func toneWAV(t *testing.T, path string) {
	t.Helper()
	const n = opusRate
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(opusRate), uint32(2 * opusRate), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(2*n))
	for i := range n {
		binary.Write(&b, binary.LittleEndian, int16(8000*math.Sin(2*math.Pi*440*float64(i)/opusRate)))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRecordOpusTools writes real Opus packets (opusenc's) with a 1 s gap
// between two runs of them, then has opus-tools judge the file: opusinfo
// finds nothing wrong and the length the timestamps span, opusdec decodes
// that many samples, the gap to digital silence and the rest to the tone.
// Reading opusenc's file also checks our CRC against libogg's.
func TestRecordOpusTools(t *testing.T) {
	dir := t.TempDir()
	wav, enc, rec, raw := filepath.Join(dir, "tone.wav"), filepath.Join(dir, "tone.opus"),
		filepath.Join(dir, "rec.opus"), filepath.Join(dir, "rec.raw")
	toneWAV(t, wav)
	run(t, "opusenc", "--quiet", "--framesize", "20", wav, enc)
	data, err := os.ReadFile(enc)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := readOgg(data)
	if err != nil {
		t.Fatalf("opusenc's file: %v", err)
	}
	var packets [][]byte
	for _, p := range pages[2:] {
		packets = append(packets, p.packets...)
	}
	n := len(packets)

	f, err := os.Create(rec)
	if err != nil {
		t.Fatal(err)
	}
	tr := newOpusTrack(1, time.Minute)
	ts := uint32(123456)
	for run := range 2 {
		for _, p := range packets {
			if v, err := tr.add(f, Frame{Data: p, RTPTime: ts}); v != take || err != nil {
				t.Fatalf("run %d: %v, %v", run, v, err)
			}
			ts += 960
		}
		ts += opusRate // 1 s without packets
	}
	if err := tr.end(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	samples := (2*n + 50) * 960

	info := run(t, "opusinfo", rec)
	if strings.Contains(strings.ToLower(info), "warning") || strings.Contains(strings.ToLower(info), "error") {
		t.Fatalf("opusinfo complains:\n%s", info)
	}
	length := regexp.MustCompile(`Playback length: (\d+)m:(\d+\.\d+)s`).FindStringSubmatch(info)
	if length == nil {
		t.Fatalf("opusinfo gave no length:\n%s", info)
	}
	want := samplesDuration(int64(samples), opusRate)
	if got := length[1] + "m:" + length[2] + "s"; got != formatOpusinfo(want) {
		t.Fatalf("opusinfo says %s, want %s (%d packets twice and 1 s)\n%s", got, formatOpusinfo(want), n, info)
	}

	run(t, "opusdec", "--quiet", "--rate", "48000", "--no-dither", rec, raw)
	pcm, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(pcm) / 2; got != samples {
		t.Fatalf("opusdec decoded %d samples, want %d", got, samples)
	}
	level := func(from, to int) (peak int) {
		for i := from; i < to; i++ {
			peak = max(peak, abs(int(int16(binary.LittleEndian.Uint16(pcm[2*i:])))))
		}
		return peak
	}
	// The first silence frame still carries the tone's overlap.
	if peak := level((n+1)*960, (n+50)*960); peak != 0 {
		t.Errorf("the gap decodes to a peak of %d, want silence", peak)
	}
	for _, span := range [][2]int{{5 * 960, (n - 2) * 960}, {(n + 55) * 960, (2*n + 48) * 960}} {
		if peak := level(span[0], span[1]); peak < 4000 {
			t.Errorf("samples %d..%d peak at %d, want the tone", span[0], span[1], peak)
		}
	}
}

// formatOpusinfo formats d as opusinfo prints a length.
func formatOpusinfo(d time.Duration) string {
	m := int(d / time.Minute)
	return fmt.Sprintf("%dm:%06.3fs", m, (d - time.Duration(m)*time.Minute).Seconds())
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
