package callwire

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// DMCaller is a test user calling the bot in an encrypted DM, as a legacy
// 1:1 client does: Megolm-encrypted m.call.* room events written from the
// reference (famedly-voip.md §4.3), its own Olm device, one pion
// connection (a Voice; Play is the caller's to start).
type DMCaller struct {
	t       testing.TB
	cc      *testenv.CryptoClient
	room    id.RoomID
	bot     id.UserID
	callID  string
	party   string
	trickle bool
	v       *Voice

	connected chan struct{}
}

// NewDMCaller makes cc's user a caller of bot in room (an encrypted room of
// the two, the bot joined) with a connection named name. With trickle, the
// invite's offer has no candidates: they follow in a candidates event;
// otherwise the offer carries them. The connection closes when the test
// ends.
func NewDMCaller(t testing.TB, cc *testenv.CryptoClient, api *webrtc.API, room id.RoomID, bot id.UserID, name string, trickle bool) *DMCaller {
	t.Helper()
	v, err := NewVoice(api, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	c := &DMCaller{t: t, cc: cc, room: room, bot: bot, callID: fmt.Sprintf("%ddm%s", time.Now().UnixNano(), name),
		party: "party-" + string(cc.DeviceID()), trickle: trickle, v: v, connected: make(chan struct{})}
	var once sync.Once
	v.pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(c.connected) })
		}
	})
	return c
}

// CallID is the call's id.
func (c *DMCaller) CallID() string { return c.callID }

// Voice is the call's connection.
func (c *DMCaller) Voice() *Voice { return c.v }

// Send emits one m.call.* event of our call, Megolm-encrypted.
func (c *DMCaller) Send(kind string, body map[string]any) {
	c.t.Helper()
	body["call_id"], body["party_id"], body["version"] = c.callID, c.party, "1"
	typ := event.Type{Type: "m.call." + kind, Class: event.MessageEventType}
	if _, err := c.cc.SendRoomEncrypted(c.t.Context(), c.room, typ, body, c.cc.User.ID, c.bot); err != nil {
		c.t.Fatalf("send %s: %v", kind, err)
	}
}

// Call invites the bot, then takes its answer and its candidates until the
// connection is up.
func (c *DMCaller) Call() {
	c.t.Helper()
	c.invite()
	c.connect()
}

func (c *DMCaller) invite() {
	c.t.Helper()
	var sdp string
	var candidates func() []any
	var err error
	if c.trickle {
		sdp, candidates, err = c.v.TrickleOffer()
	} else {
		sdp, err = c.v.Local(true)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.Send("invite", map[string]any{
		"lifetime": 60000, "offer": map[string]any{"sdp": sdp, "type": "offer"}, "invitee": c.bot.String(),
		"capabilities": map[string]any{"m.call.transferee": false, "m.call.dtmf": false},
		"org.matrix.msc3077.sdp_stream_metadata": map[string]any{
			"stream-" + c.v.name: map[string]any{"purpose": "m.usermedia", "audio_muted": false, "video_muted": true}},
	})
	if candidates != nil {
		c.Send("candidates", map[string]any{"candidates": candidates()})
	}
}

func (c *DMCaller) connect() {
	c.t.Helper()
	c.cc.FindRoomEvent(c.t, time.Minute, c.room, func(re testenv.RoomEvent) bool {
		m := c.content(re, "answer")
		if m == nil {
			return false
		}
		if a, _ := m["answer"].(map[string]any); a["type"] != "answer" {
			c.t.Fatalf("answer of type %v", a["type"])
		}
		if err := c.v.Remote(m["answer"], webrtc.SDPTypeAnswer); err != nil {
			c.t.Fatalf("the bot's answer: %v", err)
		}
		return true
	})
	applied := map[id.EventID]bool{}
	c.cc.FindRoomEvent(c.t, time.Minute, c.room, func(re testenv.RoomEvent) bool {
		if m := c.content(re, "candidates"); m != nil && !applied[re.Evt.ID] {
			applied[re.Evt.ID] = true
			if err := c.v.AddCandidates(m["candidates"]); err != nil {
				c.t.Errorf("the bot's candidates: %v", err)
			}
		}
		select {
		case <-c.connected:
			return true
		default:
			return false
		}
	})
}

// content is the bot's call event of our call of that kind, or nil; it
// must have come Megolm-encrypted.
func (c *DMCaller) content(re testenv.RoomEvent, kind string) map[string]any {
	if re.Evt.Sender != c.bot || re.Evt.Type.Type != "m.call."+kind {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(re.Evt.Content.VeryRaw, &m); err != nil || m["call_id"] != c.callID {
		return nil
	}
	if !re.Encrypted {
		c.t.Errorf("the bot's %s came in plaintext in an encrypted room", kind)
	}
	return m
}
