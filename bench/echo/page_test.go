package echo

import (
	"crypto/rand"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/benchrun"
	"github.com/switchboard-rtc/switchboard/internal/testenv/browser"
)

// switchEvery spaces the tone switches: the echo of one has long settled
// before the next.
const switchEvery = 1500 * time.Millisecond

// BenchmarkPageEchoRoundTrip is the round trip as a user hears it: a real
// Chromium page (internal/testenv/browser: livekit-client, E2EE keyed per
// participant, keys over Olm as TestEchoInBrowser has them) in a MatrixRTC
// call with the coordinator's echo publishes a 440 Hz tone, then b.N times,
// one every 1.5 s, switches it between 660 and 440 Hz. Each time it
// measures, on the page's clock, from the switch to the first analysis
// window in which the new frequency dominates the bot's echo track, and
// the same on its own local tone (the analysis's own latency, a reference).
// The figures include D, the browser's capture, Opus encoding, E2EE,
// jitter buffer and playout into WebAudio, and the analysis (a 21.3 ms
// window polled every 4 ms; see browser.ToneSwitch).
//
//	go test -v -tags goolm -run '^$' -bench PageEchoRoundTrip -benchtime 30x -timeout 30m ./bench/echo
func BenchmarkPageEchoRoundTrip(b *testing.B) {
	env := testenv.Require(b)
	delay := echoDelay(b)
	co := startCoordinator(b, env, delay, "echo")
	cr := newCaller(b, env, co)
	br := browser.Start(b)
	room := cr.newRoom(b)
	material := make([]byte, 16)
	rand.Read(material)
	own := cr.dev.User.ID.String() + ":" + string(cr.dev.DeviceID())
	keys := map[string]browser.KeyAt{own: {Key: material}}
	var botIdentity string
	cr.member(b, room, cr.stateKey(), material, func(dev id.DeviceID, idx int, key []byte) {
		botIdentity = co.bot.String() + ":" + string(dev)
		keys[botIdentity] = browser.KeyAt{Key: key, Index: idx}
	})
	url, jwt := cr.sfuGet(b, room)
	page, err := br.Join(b.Context(), browser.JoinOptions{LiveKitURL: url, Token: jwt, Identity: own, ToneHz: 440, Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = page.Leave(b.Context()) })
	benchrun.WaitUntil(b, hang, "the page hearing its 440 Hz tone back", func() bool {
		r, err := page.Report(b.Context())
		if err != nil || r.EncryptionErrors > 0 {
			b.Fatalf("page report: %v %v", err, r.ErrorMessages)
		}
		tr, ok := r.Track(botIdentity, "")
		return ok && tr.WindowMS >= 1000 && tr.LevelDB > -60 && math.Abs(tr.FrequencyHz-440) <= 30
	})
	b.Logf("echo delay %v; load average %s", delay, loadAvg(b))
	var echo, local []time.Duration
	minMargin := math.Inf(1)
	var sw browser.ToneSwitch
	b.ResetTimer()
	for i := range b.N {
		hz := 660
		if i%2 == 1 {
			hz = 440
		}
		time.Sleep(switchEvery)
		if sw, err = page.SwitchTone(b.Context(), hz); err != nil {
			b.Fatal(err)
		}
		e, err := page.Onset(b.Context(), botIdentity, hz, 10*time.Second)
		if err != nil {
			b.Fatalf("switch %d to %d Hz, the echo: %v", i, hz, err)
		}
		l, err := page.Onset(b.Context(), own, hz, 10*time.Second)
		if err != nil {
			b.Fatalf("switch %d to %d Hz, the local tone: %v", i, hz, err)
		}
		echo, local = append(echo, ms(e.LatencyMS)), append(local, ms(l.LatencyMS))
		minMargin = min(minMargin, e.MarginDB)
	}
	b.StopTimer()
	r, err := page.Report(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("load average %s; %d page decryption failures; analysis: %.1f ms window, %.0f Hz bins, polled every %.0f ms; the echo's onsets stood at least %.1f dB above other bins",
		loadAvg(b), r.EncryptionErrors, sw.WindowMS, sw.BinHz, sw.PollMS, minMargin)
	report(b, "page-echo-onset", echo)
	minusDelay := make([]time.Duration, len(echo))
	for i, d := range echo {
		minusDelay[i] = d - delay
	}
	report(b, "page-echo-onset-minus-delay", minusDelay)
	report(b, "page-local-onset", local)
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func loadAvg(b *testing.B) string {
	s, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	return strings.Join(strings.Fields(string(s))[:3], " ")
}
