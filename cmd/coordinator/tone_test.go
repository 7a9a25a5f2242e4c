package main

// Tones for the media tests: made with Debian's sox and opusenc, read back
// with opusdec, and measured by their power at a frequency.

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livekit/server-sdk-go/v2/pkg/oggreader"
)

// makeTone writes an Ogg/Opus file of a hz tone (toneSeconds, 48 kHz mono, 20 ms
// frames) with faint noise mixed in, so that no two packets are alike, and
// returns its packets.
func makeTone(t *testing.T, dir, name string, hz int) [][]byte {
	t.Helper()
	tone, noise, mix := filepath.Join(dir, name+"-tone.wav"), filepath.Join(dir, name+"-noise.wav"), filepath.Join(dir, name+".wav")
	out := filepath.Join(dir, name+".opus")
	runTool(t, "sox", "-n", "-r", "48000", "-c", "1", "-b", "16", tone, "synth", fmt.Sprint(toneSeconds), "sine", fmt.Sprint(hz), "vol", "0.5")
	runTool(t, "sox", "-n", "-r", "48000", "-c", "1", "-b", "16", noise, "synth", fmt.Sprint(toneSeconds), "whitenoise", "vol", "0.01")
	runTool(t, "sox", "-m", tone, noise, mix)
	runTool(t, "opusenc", "--quiet", "--bitrate", "48", "--framesize", "20", mix, out)
	packets := oggPackets(t, out)
	if len(packets) < 500 {
		t.Fatalf("%s: only %d packets", out, len(packets))
	}
	return packets
}

// oggPackets reads an Ogg/Opus file's audio packets, one at a time.
func oggPackets(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := oggreader.NewOggReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var packets [][]byte
	for {
		pkt, err := r.ReadPacket()
		if err != nil {
			return packets
		}
		packets = append(packets, pkt)
	}
}

// decodeOpus decodes an Ogg/Opus file with opusdec to 48 kHz mono samples
// (sox mixes the channels down).
func decodeOpus(t *testing.T, path string) []int16 {
	t.Helper()
	wav, raw := path+".wav", path+".raw"
	runTool(t, "opusdec", "--quiet", "--rate", "48000", path, wav)
	runTool(t, "sox", wav, "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", "48000", raw)
	data, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, len(data)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return pcm
}

// tonePower is the power of pcm (48 kHz) at hz, averaged over 100 ms
// blocks: a tone's phase jumps where silence was put in, and over the whole
// file those jumps would cancel the tone out.
func tonePower(pcm []int16, hz int) float64 {
	const block = 4800
	var sum float64
	n := 0
	for ; (n+1)*block <= len(pcm); n++ {
		sum += goertzel(pcm[n*block:(n+1)*block], hz)
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// goertzel is the power of pcm (48 kHz) at hz, per sample.
func goertzel(pcm []int16, hz int) float64 {
	if len(pcm) == 0 {
		return 0
	}
	c := 2 * math.Cos(2*math.Pi*float64(hz)/48000)
	var s1, s2 float64
	for _, x := range pcm {
		s1, s2 = float64(x)+c*s1-s2, s1
	}
	return (s1*s1 + s2*s2 - c*s1*s2) / float64(len(pcm)) / float64(len(pcm))
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// makeOpusTone writes dir/name.ogg: an Ogg Opus file of a hz sine of the
// given length, made by sox and opusenc (Debian's sox and opus-tools,
// which scripts/browser-deps installs; missing, the test fails).
func makeOpusTone(t *testing.T, dir, name string, hz int, seconds float64) string {
	t.Helper()
	for _, tool := range []string{"sox", "opusenc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (Debian's sox and opus-tools; scripts/browser-deps installs them): %v", tool, err)
		}
	}
	wav, out := filepath.Join(t.TempDir(), name+".wav"), filepath.Join(dir, name+".ogg")
	runTool(t, "sox", "-n", "-r", "48000", "-c", "1", "-b", "16", wav, "synth", fmt.Sprint(seconds), "sine", fmt.Sprint(hz), "vol", "0.5")
	runTool(t, "opusenc", "--quiet", "--bitrate", "48", wav, out)
	return out
}
