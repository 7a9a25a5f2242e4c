package main

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/browser"
)

// TestAnnounceInBrowser (#13): the browser test of the participant issue,
// run once with announce: the coordinator has echo and announce, and
// calls.announce is an 880 Hz sound (the page sends 440 Hz). A real
// Chromium with livekit-client and E2EE on, keyed over Matrix as Element
// Call keys it, must hear 880 Hz on the bot's "announce" track, published
// encrypted, with no decryption failure. The sound is long (40 s) because
// it starts as the bot joins, before the page is in; the test ends as
// soon as the page hears it.
func TestAnnounceInBrowser(t *testing.T) {
	env := testenv.Require(t)
	const announceHz, toneHz = 880, 440
	sounds := t.TempDir()
	makeOpusTone(t, sounds, "welcome", announceHz, 40)
	b := browser.Start(t)
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // a hang guard
	defer cancel()
	bc := joinInBrowser(ctx, t, env, b, "matrixrtc", 16, toneHz, map[string]string{
		"SWITCHBOARD_CALLS_FEATURES": "echo,announce", "SWITCHBOARD_CALLS_SOUNDS_DIR": sounds,
		"SWITCHBOARD_CALLS_ANNOUNCE": "welcome",
	})
	tr := hearTone(ctx, t, bc, "announce", announceHz)
	t.Logf("the page hears the announced %d Hz sound from the bot: %+v", announceHz, tr)
}
