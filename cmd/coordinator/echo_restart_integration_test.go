package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/browser"
)

// restartHangGuard bounds each wait around the restart: LiveKit's own
// reconnection timeouts and our backoff are seconds; this is a hang.
const restartHangGuard = 90 * time.Second

// TestEchoSurvivesLiveKitRestart (#12): the coordinator runs the echo
// feature in a MatrixRTC call on a livekit-server of this test's own (the
// shared one serves the other tests); a real Chromium page hears its tone
// echoed. Then LiveKit is stopped (SIGTERM) and started again on the same
// ports, with no rooms. The coordinator must make its room exist again (not
// trust what it remembered from before the restart), rejoin and republish,
// and the page must hear its echo again. The page comes back by itself when
// livekit-client only lost its signal connection (it resumes, then fully
// reconnects with its token); when LiveKit's orderly shutdown told it to
// leave first, it has given up, and it rejoins with a fresh /sfu/get token,
// as Element Call would. Both happen, by timing. The seconds from LiveKit
// answering again to the echo heard again are logged (BENCHMARKS.md);
// nothing asserts them.
func TestEchoSurvivesLiveKitRestart(t *testing.T) {
	env := testenv.Require(t)
	lk := testenv.StartLiveKit(t, env)
	b := browser.Start(t)
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // a hang guard
	defer cancel()
	const toneHz = 520
	addr, bot := startBotCoordinator(t, env, map[string]string{
		"SWITCHBOARD_CALLS_JOIN": "all", "SWITCHBOARD_CALLS_FEATURES": "echo", "SWITCHBOARD_CALLS_ECHO_DELAY": "200ms",
		"SWITCHBOARD_LIVEKIT_SERVICE_URL": env.ServiceURL,
		"LIVEKIT_URL":                     lk.URL, "LIVEKIT_KEY": lk.Key, "LIVEKIT_SECRET": lk.Secret,
	})
	alice := env.RegisterUser(t, "alice")
	ac := env.NewCryptoClient(t, alice)
	dev := ac.DeviceID()
	room := env.CreateEncryptedRoom(t, ac)
	inviteBot(t, alice, room, bot)
	rtcJoin(t, env, alice, room, dev)

	// Keys over Olm both ways, as in TestEchoInBrowser.
	td := ac.Receive(t, 30*time.Second, func(td testenv.ToDevice) bool {
		return td.Type.Type == matrixRTCKeysType && td.Sender == bot && td.Content["room_id"] == string(room)
	})
	botIdx, botKey := readKey(t, td.Content, 16)
	botIdentity := string(bot) + ":" + string(td.SenderDevice)
	aliceKey := make([]byte, 16)
	rand.Read(aliceKey)
	aliceIdentity := string(alice.ID) + ":" + string(dev)
	content := map[string]any{"keys": map[string]any{"index": 0, "key": base64.StdEncoding.EncodeToString(aliceKey)},
		"member": map[string]any{"id": aliceIdentity, "claimed_device_id": dev}, "room_id": room,
		"session": map[string]any{"application": "m.call", "call_id": "", "scope": "m.room"}, "sent_ts": time.Now().UnixMilli()}
	to := map[id.UserID][]id.DeviceID{bot: {td.SenderDevice}}
	if err := ac.SendEncrypted(ctx, event.Type{Type: matrixRTCKeysType, Class: event.ToDeviceEventType}, to, content); err != nil {
		t.Fatal(err)
	}
	// join opens a page that joins with a fresh token from our /sfu/get.
	join := func() (*browser.Page, error) {
		t.Helper()
		code, grant := sfuGet(t, env, addr, alice, room, string(dev))
		if code != 200 {
			t.Fatalf("/sfu/get: %d %s", code, grant.msg())
		}
		page, err := b.Join(ctx, browser.JoinOptions{LiveKitURL: grant.URL, Token: grant.JWT, Identity: aliceIdentity, ToneHz: toneHz,
			Keys: map[string]browser.KeyAt{aliceIdentity: {Key: aliceKey}, botIdentity: {Key: botKey, Index: botIdx}}})
		if err == nil {
			t.Cleanup(func() { _ = page.Leave(context.WithoutCancel(ctx)) })
		}
		return page, err
	}
	page, err := join()
	if err != nil {
		t.Fatal(err)
	}
	botState := func() (state, reason string) {
		for _, c := range adminGet[mediaView](t, addr, "/admin/v1/media").Calls {
			if c.Room == string(room) {
				return c.State, c.Error
			}
		}
		return "", ""
	}
	connected := func() bool { s, _ := botState(); return s == "connected" }
	// heard: the page hears its tone back from the bot, over a whole window.
	heard := func(r browser.Report) bool {
		tr, ok := r.Track(botIdentity, "")
		return ok && tr.WindowMS >= 1000 && tr.LevelDB > -60 && math.Abs(tr.FrequencyHz-toneHz) <= 30
	}
	hears := func() bool { return heard(mustReport(ctx, t, page)) }
	waitFor(t, restartHangGuard, "the page hearing its echo", hears)
	waitFor(t, restartHangGuard, "the coordinator connected", connected)

	// LiveKit goes down: both sides notice.
	lk.Stop()
	waitFor(t, restartHangGuard, "the coordinator noticing LiveKit gone and the echo silent", func() bool {
		return !connected() && !hears()
	})
	state, reason := botState()
	t.Logf("LiveKit stopped; the coordinator's engine is %q (%s); the page is %q", state, reason, mustReport(ctx, t, page).State)

	lk.Start()
	up := time.Now()
	_, reasonAtUp := botState()
	// The coordinator is watched on its own: a page's rejoin takes seconds
	// and must not delay seeing it back.
	botc := make(chan error, 1)
	var botBackAt time.Time // written before botc is
	go func(admin string) {
		var err error
		botBackAt, err = awaitBack(ctx, admin, room, reasonAtUp)
		botc <- err
	}(adminAddrOf(t, addr))
	var botBack, echoBack time.Duration
	rejoins := 0
	for deadline := up.Add(restartHangGuard); botBack == 0 || echoBack == 0; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-botc:
			if err != nil {
				t.Fatal(err)
			}
			botBack = botBackAt.Sub(up)
			t.Logf("the coordinator is connected again %.2f s after LiveKit answered", botBack.Seconds())
		default:
		}
		if page == nil { // a page that has given up rejoins, as Element Call would
			rejoins++
			if page, err = join(); err != nil {
				t.Logf("rejoin %d: %v", rejoins, err)
			}
		}
		var r browser.Report
		if page != nil {
			r = mustReport(ctx, t, page)
		}
		if echoBack == 0 && heard(r) {
			echoBack = time.Since(up)
			t.Logf("the page hears its echo again %.2f s after LiveKit answered", echoBack.Seconds())
		}
		if time.Now().After(deadline) {
			state, reason := botState()
			t.Fatalf("after LiveKit's restart: coordinator back %v, echo back %v (0: not yet); engine %q (%s); page rejoined %d times; last report %+v; media view %+v",
				botBack, echoBack, state, reason, rejoins, r, adminGet[mediaView](t, addr, "/admin/v1/media"))
		}
		// livekit-client gave up (LiveKit's orderly shutdown tells its
		// clients to leave, so it does not even try to resume): the next
		// round rejoins with a fresh token and a new connection.
		if page != nil && r.State == "disconnected" {
			_ = page.Leave(ctx)
			page = nil
		}
	}
	how := "by itself (livekit-client's own reconnection)"
	if rejoins > 0 {
		how = fmt.Sprintf("after the page rejoined with a fresh /sfu/get token (%d attempts)", rejoins)
	}
	t.Logf("back after a LiveKit restart: the coordinator in %.2f s, the echo %s in %.2f s", botBack.Seconds(), how, echoBack.Seconds())
}

// awaitBack polls the coordinator's media view (admin listener admin) until
// its participant in room is connected again and returns when. A join refused because the room does not exist (a
// reason other than the one shown when LiveKit came back: LiveKit answers
// 404, lksdk says "not found") means the coordinator joined a room it had
// not made exist again: an error.
func awaitBack(ctx context.Context, admin string, room id.RoomID, reasonAtUp string) (time.Time, error) {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/admin/v1/media", nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return time.Time{}, err
		}
		var v mediaView
		err = json.NewDecoder(res.Body).Decode(&v)
		res.Body.Close()
		if err != nil {
			return time.Time{}, fmt.Errorf("admin media view: %w", err)
		}
		for _, c := range v.Calls {
			switch {
			case c.Room != string(room):
			case c.State == "connected":
				return time.Now(), nil
			case c.Error != reasonAtUp && strings.HasSuffix(c.Error, ": not found"):
				return time.Time{}, fmt.Errorf("after LiveKit's restart the coordinator joined a room it had not made exist again: %s", c.Error)
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
