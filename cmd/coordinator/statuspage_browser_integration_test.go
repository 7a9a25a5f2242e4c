package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/browser"
)

// Attacker-controlled strings the status page shows: a room name and a
// display name anyone in the room may set, and a device id and membership
// id from a member's own call membership event.
const (
	hostileRoomName    = `<script>alert("room")</script>`
	hostileDisplayName = `<script>alert(1)</script>`
	hostileDevice      = `<script>alert('device')</script>`
	hostileMembership  = `"><img src=x onerror=alert('membership')>`
	hostileKeyDevice   = `<script>alert('key')</script>`
)

// TestStatusPageInBrowser (#15): with a call in progress that the bot
// serves on LiveKit, the status page at the admin listener's /admin/ is
// opened in the headless Chromium of the browser tests: a browser without
// credentials is sent to the login form, logs in with the admin token,
// lands on the page (refreshing itself), and sees the call's members, the
// bot's own seat, the LiveKit engine connected, the removal from LiveKit of
// a participant without membership and the refusal of her media key; every
// hostile string (room name, display name, device ids, membership id) is
// visible text, no script element exists and no dialog opened. A
// screenshot is kept as a test artifact. Logging out sends the browser
// back to the form.
func TestStatusPageInBrowser(t *testing.T) {
	env := testenv.Require(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // a hang guard
	defer cancel()
	b := browser.Start(t)
	const grace = 5 * time.Second
	addr, bot := startBotCoordinator(t, env, map[string]string{"SWITCHBOARD_CALLS_JOIN": "all",
		"SWITCHBOARD_LIVEKIT_SERVICE_URL":   env.ServiceURL,
		"SWITCHBOARD_LIVEKIT_ENFORCE_GRACE": grace.String(), "SWITCHBOARD_LIVEKIT_ENFORCE_INTERVAL": "1s",
		"SWITCHBOARD_E2EE_HOLD_FOR": "2s"})
	alice, bob := env.RegisterUser(t, "alice"), env.RegisterUser(t, "bob")
	room := env.CreateRoom(t, alice, bob)
	if _, err := alice.Client.SendStateEvent(ctx, room, event.StateRoomName, "", map[string]any{"name": hostileRoomName}); err != nil {
		t.Fatal(err)
	}
	if err := bob.Client.SetDisplayName(ctx, hostileDisplayName); err != nil {
		t.Fatal(err)
	}
	inviteBot(t, alice, room, bot)
	famedlyJoin(t, env, alice, room, "ALICEDEV")
	bobMember := map[string]any{"memberships": []any{map[string]any{
		"call_id": "", "application": "m.call", "scope": "m.room",
		"foci_active": []any{map[string]any{"type": "livekit", "livekit_service_url": env.ServiceURL, "livekit_alias": room.String()}},
		"device_id":   hostileDevice, "expires_ts": time.Now().Add(6 * time.Minute).UnixMilli(), "membershipID": hostileMembership,
	}}}
	if _, err := bob.Client.SendStateEvent(ctx, room, testenv.FamedlyCallMember, bob.ID.String(), bobMember); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the bot in the call on LiveKit, both members tracked", func() bool {
		return botServesCall(t, addr, room, 2)
	})
	// A LiveKit participant without a membership, removed after the grace
	// period: an enforcement action for the page to list.
	mallory := env.RegisterUser(t, "mallory")
	lkRoom, malloryIdent := lkid.Room(room.String(), "m.call#ROOM"), lkid.Legacy(mallory.ID.String(), "MDEV")
	lkConnect(t, env, addr, mallory, room, "MDEV")
	waitFor(t, 10*time.Second, "mallory on LiveKit", func() bool { return slices.Contains(lkParticipants(t, env, lkRoom), malloryIdent) })
	waitFor(t, grace+15*time.Second, "mallory removed", func() bool {
		return !slices.Contains(lkParticipants(t, env, lkRoom), malloryIdent)
	})
	// Her media key, for a device with no membership: refused once held
	// for e2ee.hold_for, a refusal for the page to list.
	key := map[string]any{"keys": []any{map[string]any{"index": 0, "key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
		"call_id": "", "conf_id": "", "device_id": hostileKeyDevice, "room_id": room}
	if _, err := mallory.Client.SendToDevice(ctx, event.Type{Type: famedlyKeysType, Class: event.ToDeviceEventType},
		&mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{bot: {"*": {Raw: key}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "mallory's key refused", func() bool {
		v := adminRoomView[struct {
			E2EE struct {
				Refusals []struct{} `json:"refusals"`
			} `json:"e2ee"`
		}](t, addr, room)
		return len(v.E2EE.Refusals) > 0
	})

	admin := "http://" + adminAddrOf(t, addr)
	doc, err := b.Visit(ctx, admin+"/admin/")
	if err != nil {
		t.Fatal(err)
	}
	seen := mustSee(ctx, t, doc)
	if seen.URL != admin+"/admin/login" || !strings.Contains(seen.Text, "Admin token") {
		t.Fatalf("without a session the browser is at %s, seeing %q; want the login form", seen.URL, seen.Text)
	}
	if err := doc.Fill(ctx, `input[name="token"]`, testAdminToken); err != nil {
		t.Fatal(err)
	}
	at, err := doc.Submit(ctx, `button[type="submit"]`)
	if err != nil {
		t.Fatal(err)
	}
	if at != admin+"/admin/" {
		t.Fatalf("after logging in the browser is at %s, want the status page", at)
	}
	// The refreshing page reloads every 5 s; its paused variant holds
	// still for reading.
	if seen = mustSee(ctx, t, doc); seen.Refresh != "5" {
		t.Errorf("the page's refresh is %q, want 5", seen.Refresh)
	}
	if _, err := doc.Goto(ctx, admin+"/admin/?refresh=0"); err != nil {
		t.Fatal(err)
	}
	seen = mustSee(ctx, t, doc)
	shot := filepath.Join(artifactsDir(t), "status-page.png")
	if err := doc.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the status page: %s", shot)
	for _, want := range []string{alice.ID.String(), "ALICEDEV", bob.ID.String(), room.String(), bot.String(),
		hostileRoomName, hostileDisplayName, hostileDevice, hostileMembership, "livekit", "connected", "joined", "held", "paused",
		"removed participant", malloryIdent, hostileKeyDevice, "no_membership"} {
		if !strings.Contains(seen.Text, want) {
			t.Errorf("the page does not show %q as text:\n%s", want, seen.Text)
		}
	}
	if seen.Scripts != 0 || len(seen.Dialogs) != 0 || seen.Refresh != "" {
		t.Errorf("script elements %d, dialogs %q, refresh %q: want none", seen.Scripts, seen.Dialogs, seen.Refresh)
	}

	// The same page over the bearer token: the markup holds the strings
	// escaped only.
	page := adminPageHTML(t, admin)
	for _, raw := range []string{hostileDisplayName, hostileDevice, hostileRoomName, hostileMembership, hostileKeyDevice, "<img"} {
		if strings.Contains(page, raw) {
			t.Errorf("the page's HTML holds %q unescaped", raw)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the display name is not in the page's HTML, escaped")
	}

	at, err = doc.Submit(ctx, `form[action="logout"] button`)
	if err != nil {
		t.Fatal(err)
	}
	if at != admin+"/admin/login" {
		t.Fatalf("after logging out the browser is at %s", at)
	}
	if at, err = doc.Goto(ctx, admin+"/admin/"); err != nil || at != admin+"/admin/login" {
		t.Fatalf("the page after logging out: at %s (%v), want the login form", at, err)
	}
	if err := doc.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// botServesCall reports whether the admin API shows room's call with
// members devices and the bot's own seat joined, carried by LiveKit and
// connected there.
func botServesCall(t *testing.T, addr string, room id.RoomID, members int) bool {
	t.Helper()
	v := adminRoomView[struct {
		Calls []struct {
			Members []struct{} `json:"members"`
		} `json:"calls"`
		Own []struct {
			State string `json:"state"`
		} `json:"own_memberships"`
	}](t, addr, room)
	if len(v.Calls) != 1 || len(v.Calls[0].Members) < members || len(v.Own) != 1 || v.Own[0].State != "joined" {
		return false
	}
	for _, c := range adminGet[mediaView](t, addr, "/admin/v1/media").Calls {
		if c.Room == string(room) && c.State == "connected" {
			return true
		}
	}
	return false
}

func mustSee(ctx context.Context, t *testing.T, doc *browser.Document) browser.Seen {
	t.Helper()
	s, err := doc.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// adminPageHTML fetches GET /admin/ with the bearer token.
func adminPageHTML(t *testing.T, admin string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, admin+"/admin/?refresh=0", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /admin/: %d %s (%v)", res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	return string(body)
}

// artifactsDir is where tests keep files for people to look at (never
// committed): $SWITCHBOARD_ARTIFACTS_DIR, else .artifacts/ at the
// repository's root.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_ARTIFACTS_DIR")
	if dir == "" {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
