package echo

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/benchrun"
)

// keysType is MatrixRTC's key event, written by hand: the bench speaks the
// wire format, not our e2ee package.
const keysType = "io.element.call.encryption_keys"

// caller is the test user whose device (an Olm device on Synapse) joins
// each call: it posts the membership as Element Call does, exchanges keys
// with the bot over Olm, and its participant is in LiveKit.
type caller struct {
	env *testenv.Env
	co  *coordinator
	dev *testenv.CryptoClient
}

func newCaller(b *testing.B, env *testenv.Env, co *coordinator) *caller {
	return &caller{env: env, co: co, dev: env.NewCryptoClient(b, env.RegisterUser(b, "echo"))}
}

// call is one call with the bot and the caller's participant.
type call struct {
	room      id.RoomID
	stateKey  string
	p         *participant
	joinStart time.Time // just before the membership was sent
}

// open makes a room with the bot in it and puts the caller's participant
// in its LiveKit room (token from the coordinator's /sfu/get), publishing,
// before anyone is a member of the call.
func (c *caller) open(b *testing.B) *call {
	room := c.newRoom(b)
	url, jwt := c.sfuGet(b, room)
	material := make([]byte, 16)
	rand.Read(material)
	cl := &call{room: room, stateKey: c.stateKey()}
	cl.p = connect(b, url, jwt, c.co.bot.String(), material, true)
	return cl
}

// stateKey is the caller's MatrixRTC membership state key.
func (c *caller) stateKey() string {
	return "_" + c.dev.User.ID.String() + "_" + string(c.dev.DeviceID()) + "_m.call"
}

// newRoom makes an encrypted room with the bot joined.
func (c *caller) newRoom(b *testing.B) id.RoomID {
	u := c.dev.User
	room := c.env.CreateEncryptedRoom(b, c.dev)
	if _, err := u.Client.InviteUser(b.Context(), room, &mautrix.ReqInviteUser{UserID: c.co.bot}); err != nil {
		b.Fatal(err)
	}
	benchrun.WaitUntil(b, 30*time.Second, "bot in the room", func() bool {
		m, err := u.Client.JoinedMembers(b.Context(), room)
		if err != nil {
			return false
		}
		_, in := m.Joined[c.co.bot]
		return in
	})
	return room
}

// join posts the caller's MatrixRTC membership (the event that makes the
// supervisor join), then, as the tests do, waits for the bot's key over
// Olm, hands it to the participant and sends the bot the participant's key.
func (c *caller) join(b *testing.B, cl *call) {
	cl.joinStart = time.Now()
	c.member(b, cl.room, cl.stateKey, cl.p.material, func(_ id.DeviceID, idx int, key []byte) { cl.p.setBotKey(b, idx, key) })
}

// member posts the caller's membership in room's call, waits for the
// bot's key over Olm, hands it to gotBotKey (with the bot's device) and
// sends the bot ours (material, index 0).
func (c *caller) member(b *testing.B, room id.RoomID, stateKey string, material []byte, gotBotKey func(id.DeviceID, int, []byte)) {
	session := map[string]any{"application": "m.call", "call_id": "", "scope": "m.room", "device_id": c.dev.DeviceID(),
		"focus_active":   map[string]any{"type": "livekit", "focus_selection": "oldest_membership"},
		"foci_preferred": []any{map[string]any{"type": "livekit", "livekit_service_url": c.env.ServiceURL}}}
	if _, err := c.dev.Client.SendStateEvent(b.Context(), room, testenv.MatrixRTCCallMember, stateKey, session); err != nil {
		b.Fatal(err)
	}
	td := c.dev.Receive(b, 30*time.Second, func(td testenv.ToDevice) bool {
		return td.Type.Type == keysType && td.Sender == c.co.bot && td.Content["room_id"] == string(room)
	})
	if !td.Encrypted || td.SenderDevice == "" {
		b.Fatalf("the bot's key came unencrypted or from an unknown device: %+v", td)
	}
	k, _ := td.Content["keys"].(map[string]any)
	idx, _ := k["index"].(float64)
	keyText, _ := k["key"].(string)
	botKey, err := base64.StdEncoding.DecodeString(keyText)
	if err != nil || len(botKey) != 16 {
		b.Fatalf("the bot's key %v: %v", k, err)
	}
	gotBotKey(td.SenderDevice, int(idx), botKey)
	dev := c.dev.DeviceID()
	content := map[string]any{"keys": map[string]any{"index": 0, "key": base64.StdEncoding.EncodeToString(material)},
		"member": map[string]any{"id": c.dev.User.ID.String() + ":" + string(dev), "claimed_device_id": dev}, "room_id": room,
		"session": map[string]any{"application": "m.call", "call_id": "", "scope": "m.room"}, "sent_ts": time.Now().UnixMilli()}
	to := map[id.UserID][]id.DeviceID{c.co.bot: {td.SenderDevice}}
	if err := c.dev.SendEncrypted(b.Context(), event.Type{Type: keysType, Class: event.ToDeviceEventType}, to, content); err != nil {
		b.Fatal(err)
	}
}

// leave ends the call: the membership goes and the participant leaves.
func (c *caller) leave(b *testing.B, cl *call) {
	cl.p.close()
	if _, err := c.dev.Client.SendStateEvent(b.Context(), cl.room, testenv.MatrixRTCCallMember, cl.stateKey, map[string]any{}); err != nil {
		b.Fatal(err)
	}
}

// sfuGet asks the coordinator for the caller's LiveKit URL and token.
func (c *caller) sfuGet(b *testing.B, room id.RoomID) (url, jwt string) {
	tok := c.env.OpenIDToken(b, c.dev.User)
	body := fmt.Sprintf(`{"room":%q,"device_id":%q,"openid_token":{"access_token":%q,"matrix_server_name":%q}}`,
		room, c.dev.DeviceID(), tok.AccessToken, tok.MatrixServerName)
	res, err := http.Post("http://"+c.co.addr+"/sfu/get", "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var grant struct{ URL, JWT string }
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&grant) != nil {
		b.Fatalf("/sfu/get: HTTP %d", res.StatusCode)
	}
	return grant.URL, grant.JWT
}
