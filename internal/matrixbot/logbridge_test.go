package matrixbot

import (
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// TestRoutineMautrixLogsAreDebug (#9 defect 13): what mautrix reports as a
// warning but is routine for the bot (a request we cancelled ourselves,
// one Olm session of several not fitting a message) is logged at debug;
// real failures keep their level.
func TestRoutineMautrixLogsAreDebug(t *testing.T) {
	h := &records{}
	zl := zerologToSlog(slog.New(h))
	zl.Warn().Msg("Request canceled")
	zl.Warn().Str("olm_session_id", "s").Msg("Failed to decrypt olm message")
	zl.Warn().Msg("Found matching session, but decryption failed")
	zl.Error().Msg("Failed to decrypt to-device event")
	zl.Error().Msg("Request failed")
	for msg, want := range map[string]slog.Level{
		"Request canceled":                              slog.LevelDebug,
		"Failed to decrypt olm message":                 slog.LevelDebug,
		"Found matching session, but decryption failed": slog.LevelWarn,
		"Failed to decrypt to-device event":             slog.LevelError,
		"Request failed":                                slog.LevelError,
	} {
		if got, ok := h.levelOf(msg); !ok || got != want {
			t.Errorf("%q logged at %v (seen %v), want %v", msg, got, ok, want)
		}
	}
}

// TestShutdownLogsNoWarning (#9 defect 13): stopping the bot while its
// sync long-polls is no failure: nothing is logged at WARN or above.
func TestShutdownLogsNoWarning(t *testing.T) {
	leakcheck.Check(t)
	hs := newFakeHS(t)
	hs.longPoll.Store(true)
	h := &records{}
	b := newBot(t, slog.New(h), hs.config(t))
	r := start(t, b)
	r.next(t, 30*time.Second, "first sync", syncDone)
	select {
	case <-hs.longPolling():
	case <-time.After(30 * time.Second):
		t.Fatal("no long poll")
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if warn := h.atLeast(slog.LevelWarn); len(warn) > 0 {
		t.Errorf("logged at WARN or above on a clean stop: %q", warn)
	}
}
