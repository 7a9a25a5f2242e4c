package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"maps"
	"math"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/browser"
)

// The key events' wire names (famedly-voip.md, matrixrtc-js.md), written
// here by hand: the test speaks the wire format, not our e2ee package.
const (
	famedlyKeysType   = "com.famedly.call.encryption_keys"
	matrixRTCKeysType = "io.element.call.encryption_keys"
)

// mediaView is GET /admin/v1/media as the test reads it.
type mediaView struct {
	Calls []struct {
		Room         string `json:"room"`
		State        string `json:"state"`
		Error        string `json:"error"`
		Identity     string `json:"identity"`
		Participants []struct {
			Identity        string `json:"identity"`
			FramesIn        uint64 `json:"frames_in"`
			DecryptFailures uint64 `json:"decrypt_failures"`
		} `json:"participants"`
	} `json:"calls"`
}

// TestEchoInBrowser (#12): a real Chromium running the real livekit-client
// with E2EE on, keyed per participant as Element Call keys it, publishes a
// tone into a call where the coordinator runs the echo feature. Its token
// comes from our /sfu/get for a real Synapse user's OpenID token; the keys
// travel the Matrix path (the user's test device sends its key to the bot
// over Olm and hands it to the page; the bot's key comes back over Olm).
// The page must decrypt the bot's track and hear its own tone in it, and
// the admin view must show the page's frames decrypted with no failure.
// Once per dialect: MatrixRTC (16-byte keys) and Famedly (32-byte keys).
// In the MatrixRTC call a third member then leaves: the coordinator rotates
// its key and the page, given the new key as Element Call would, keeps
// hearing the echo with no decryption failure. In the Famedly run alice is
// also in a second call whose focus cannot be reached: that call's
// participant reports the error, and the first call's echo is unaffected.
func TestEchoInBrowser(t *testing.T) {
	env := testenv.Require(t)
	b := browser.Start(t)
	t.Cleanup(b.Close)
	for _, c := range []struct {
		dialect string
		keyLen  int
		toneHz  int
	}{{"matrixrtc", 16, 440}, {"famedly", 32, 660}} {
		t.Run(c.dialect, func(t *testing.T) { echoInBrowser(t, env, b, c.dialect, c.keyLen, c.toneHz) })
	}
}

func echoInBrowser(t *testing.T, env *testenv.Env, b *browser.Browser, dialect string, keyLen, toneHz int) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // a hang guard
	defer cancel()
	bc := joinInBrowser(ctx, t, env, b, dialect, keyLen, toneHz, map[string]string{"SWITCHBOARD_CALLS_FEATURES": "echo"})
	addr, page, bot, botIdentity, aliceIdentity := bc.addr, bc.page, bc.bot, bc.botIdentity, bc.aliceIdentity
	tr := hearTone(ctx, t, bc, "", toneHz)
	t.Logf("the page hears its %d Hz tone back from the bot: %+v", toneHz, tr)
	if dialect == "matrixrtc" {
		rotateUnderEcho(ctx, t, env, page, bc.ac, bc.bob, bc.room, bot, botIdentity, bc.botIdx, toneHz)
	}
	if broken, room := bc.broken, bc.room; broken != "" {
		waitFor(t, 30*time.Second, "the unreachable focus's call in error, the other connected", func() bool {
			states := map[string]string{}
			for _, c := range adminGet[mediaView](t, addr, "/admin/v1/media").Calls {
				states[c.Room] = c.State
			}
			return states[string(broken)] != "connected" && states[string(broken)] != "" && states[string(room)] == "connected"
		})
		if tr, ok := mustReport(ctx, t, page).Track(botIdentity, ""); !ok || math.Abs(tr.FrequencyHz-float64(toneHz)) > 30 {
			t.Fatalf("the echo stopped while another call failed: %+v", tr)
		}
	}
	// Our side decrypted the page's frames, none failed.
	waitFor(t, 10*time.Second, "the page's frames decrypted in the admin view", func() bool {
		for _, c := range adminGet[mediaView](t, addr, "/admin/v1/media").Calls {
			for _, p := range c.Participants {
				if p.Identity == aliceIdentity {
					if p.DecryptFailures > 0 {
						t.Fatalf("%d of the page's frames failed to decrypt", p.DecryptFailures)
					}
					return c.State == "connected" && p.FramesIn > 0
				}
			}
		}
		return false
	})
}

// browserCall is a call joined by a page: the coordinator (admin addr,
// bot), alice's device and the page in the room's call, keyed both ways.
type browserCall struct {
	addr                       string
	bot                        id.UserID
	ac                         *testenv.CryptoClient
	bob                        *testenv.User
	room, broken               id.RoomID
	page                       *browser.Page
	botIdentity, aliceIdentity string
	botIdx                     int
}

// joinInBrowser starts a coordinator that joins all calls (extra adds to
// its environment), makes alice's call in an encrypted room in dialect,
// exchanges keys with the bot over Olm and has the page join with a token
// from our /sfu/get, sending a toneHz tone. In the Famedly dialect alice
// is first in a second call (broken) whose focus nobody answers at.
func joinInBrowser(ctx context.Context, t *testing.T, env *testenv.Env, b *browser.Browser, dialect string, keyLen, toneHz int,
	extra map[string]string) *browserCall {
	t.Helper()
	vars := map[string]string{"SWITCHBOARD_CALLS_JOIN": "all", "SWITCHBOARD_CALLS_ECHO_DELAY": "200ms",
		"SWITCHBOARD_LIVEKIT_SERVICE_URL": env.ServiceURL}
	maps.Copy(vars, extra)
	addr, bot := startBotCoordinator(t, env, vars)
	alice, bob := env.RegisterUser(t, "alice"), env.RegisterUser(t, "bob")

	ac := env.NewCryptoClient(t, alice)
	dev := ac.DeviceID()
	room := env.CreateEncryptedRoom(t, ac, bob)
	inviteBot(t, alice, room, bot)
	var broken id.RoomID // a second call, on a focus nobody answers at
	if dialect == "famedly" {
		broken = env.CreateRoom(t, alice)
		inviteBot(t, alice, broken, bot)
		famedlyJoinFocus(t, alice, broken, string(dev), "http://127.0.0.1:9", broken.String())
	}
	keyType := matrixRTCKeysType
	if dialect == "famedly" {
		keyType = famedlyKeysType
		famedlyJoin(t, env, alice, room, string(dev))
	} else {
		rtcJoin(t, env, alice, room, dev)
	}

	// The bot's key, over Olm, from the device that will be in LiveKit.
	td := ac.Receive(t, 30*time.Second, func(td testenv.ToDevice) bool {
		return td.Type.Type == keyType && td.Sender == bot && td.Content["room_id"] == string(room)
	})
	if !td.Encrypted || td.SenderDevice == "" {
		t.Fatalf("the bot's key came unencrypted or from an unknown device: %+v", td)
	}
	botIdx, botKey := readKey(t, td.Content, keyLen)
	botIdentity := string(bot) + ":" + string(td.SenderDevice)

	// Alice's key to the bot, over Olm, in the dialect's shape.
	aliceKey := make([]byte, keyLen)
	rand.Read(aliceKey)
	content := map[string]any{"keys": map[string]any{"index": 0, "key": base64.StdEncoding.EncodeToString(aliceKey)},
		"member": map[string]any{"id": string(alice.ID) + ":" + string(dev), "claimed_device_id": dev}, "room_id": room,
		"session": map[string]any{"application": "m.call", "call_id": "", "scope": "m.room"}, "sent_ts": time.Now().UnixMilli()}
	if dialect == "famedly" {
		content = map[string]any{"keys": []any{map[string]any{"index": 0, "key": base64.StdEncoding.EncodeToString(aliceKey)}},
			"call_id": "", "conf_id": "", "device_id": dev, "room_id": room}
	}
	to := map[id.UserID][]id.DeviceID{bot: {td.SenderDevice}}
	if err := ac.SendEncrypted(ctx, event.Type{Type: keyType, Class: event.ToDeviceEventType}, to, content); err != nil {
		t.Fatal(err)
	}

	// The page joins with a token from our /sfu/get, as Element Call would.
	code, grant := sfuGet(t, env, addr, alice, room, string(dev))
	if code != 200 {
		t.Fatalf("/sfu/get: %d %s", code, grant.msg())
	}
	aliceIdentity := string(alice.ID) + ":" + string(dev)
	page, err := b.Join(ctx, browser.JoinOptions{LiveKitURL: grant.URL, Token: grant.JWT, Identity: aliceIdentity, ToneHz: toneHz,
		Keys: map[string]browser.KeyAt{aliceIdentity: {Key: aliceKey}, botIdentity: {Key: botKey, Index: botIdx}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = page.Leave(context.WithoutCancel(ctx)) })

	return &browserCall{addr: addr, bot: bot, ac: ac, bob: bob, room: room, broken: broken, page: page,
		botIdentity: botIdentity, aliceIdentity: aliceIdentity, botIdx: botIdx}
}

// hearTone waits until the page hears hz (within 30 Hz, over a full
// window) on the bot's track name ("": any of its tracks), which must be
// published encrypted; a decryption failure, or ctx ending first, fails
// the test.
func hearTone(ctx context.Context, t *testing.T, bc *browserCall, name string, hz int) browser.TrackReport {
	t.Helper()
	for {
		last := mustReport(ctx, t, bc.page)
		tr, ok := last.Track(bc.botIdentity, name)
		if ok && tr.WindowMS >= 1000 && tr.LevelDB > -60 && math.Abs(tr.FrequencyHz-float64(hz)) <= 30 {
			if !tr.Encrypted {
				t.Fatalf("the bot's track is not published encrypted: %+v", tr)
			}
			return tr
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the page never heard %d Hz from %s (track %q); last report %+v; media view %+v",
				hz, bc.botIdentity, name, last, adminGet[mediaView](t, bc.addr, "/admin/v1/media"))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// readKey reads the single key of a key event in either dialect's shape
// (MatrixRTC: an object; Famedly: a list).
func readKey(t *testing.T, content map[string]any, keyLen int) (int, []byte) {
	t.Helper()
	k, ok := content["keys"].(map[string]any)
	if list, isList := content["keys"].([]any); isList && len(list) > 0 {
		k, ok = list[0].(map[string]any)
	}
	if !ok {
		t.Fatalf("key event without keys: %v", content)
	}
	idx, _ := k["index"].(float64)
	raw, err := base64.StdEncoding.DecodeString(k["key"].(string))
	if err != nil || len(raw) != keyLen {
		t.Fatalf("key %v: %d bytes, %v; want %d", k["key"], len(raw), err, keyLen)
	}
	return int(idx), raw
}

// mustReport is the page's report; a failed report or a decryption failure
// ends the test.
func mustReport(ctx context.Context, t *testing.T, page *browser.Page) browser.Report {
	t.Helper()
	r, err := page.Report(ctx)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if r.EncryptionErrors > 0 {
		t.Fatalf("the page failed to decrypt: %v", r.ErrorMessages)
	}
	return r
}

// rotateUnderEcho: bob joins the call and leaves; the coordinator sends
// alice a new key, which the test hands to the page (as Element Call's key
// provider would); the page keeps hearing its tone, decrypting every frame
// across the switch.
func rotateUnderEcho(ctx context.Context, t *testing.T, env *testenv.Env, page *browser.Page, ac *testenv.CryptoClient,
	bob *testenv.User, room id.RoomID, bot id.UserID, botIdentity string, oldIdx, toneHz int) {
	t.Helper()
	key := rtcJoin(t, env, bob, room, "BOBDEV")
	time.Sleep(500 * time.Millisecond) // let the coordinator see bob before he goes
	if _, err := bob.Client.SendStateEvent(ctx, room, testenv.MatrixRTCCallMember, key, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	td := ac.Receive(t, 30*time.Second, func(td testenv.ToDevice) bool {
		if td.Type.Type != matrixRTCKeysType || td.Sender != bot || td.Content["room_id"] != string(room) {
			return false
		}
		idx, _ := readKey(t, td.Content, 16)
		return idx != oldIdx
	})
	newIdx, newKey := readKey(t, td.Content, 16)
	if err := page.SetKey(ctx, botIdentity, newIdx, newKey); err != nil {
		t.Fatal(err)
	}
	t.Logf("the coordinator rotated its key from index %d to %d after bob left", oldIdx, newIdx)
	// Hear the echo for a few seconds past the switch (the coordinator uses
	// a new key 1 s after sending it): every report must be clean.
	heard := 0
	for until := time.Now().Add(5 * time.Second); time.Now().Before(until); time.Sleep(250 * time.Millisecond) {
		tr, ok := mustReport(ctx, t, page).Track(botIdentity, "")
		if ok && tr.LevelDB > -60 && math.Abs(tr.FrequencyHz-float64(toneHz)) <= 30 {
			heard++
		}
	}
	if heard == 0 {
		t.Fatal("the page stopped hearing the echo after the key rotation")
	}
}
