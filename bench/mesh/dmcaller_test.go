package meshbench

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/benchrun"
)

// dmCaller is a test user calling the bot in an encrypted DM, as a legacy
// 1:1 client does: Megolm-encrypted m.call.* room events written from the
// reference (famedly-voip.md §4.3), its own Olm device, one pion
// connection.
type dmCaller struct {
	cc     *testenv.CryptoClient
	room   id.RoomID
	bot    id.UserID
	callID string
	v      *voice
}

// newDMCaller registers a user, makes an encrypted room with it and the
// bot (joined) and the connection of its call.
func newDMCaller(b *testing.B, env *testenv.Env, api *webrtc.API, bot id.UserID, n int) *dmCaller {
	u := env.RegisterUser(b, "dm")
	c := &dmCaller{cc: env.NewCryptoClient(b, u), bot: bot, callID: fmt.Sprintf("%ddm%d", time.Now().UnixNano(), n)}
	c.room = env.CreateEncryptedRoom(b, c.cc)
	if _, err := u.Client.InviteUser(b.Context(), c.room, &mautrix.ReqInviteUser{UserID: bot}); err != nil {
		b.Fatal(err)
	}
	benchrun.WaitUntil(b, time.Minute, "the bot in the DM", func() bool {
		time.Sleep(20 * time.Millisecond)
		m, err := u.Client.JoinedMembers(b.Context(), c.room)
		if err != nil {
			return false
		}
		_, in := m.Joined[bot]
		return in
	})
	var err error
	if c.v, err = newVoice(api, fmt.Sprintf("dm%d", n)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.v.pc.Close() })
	return c
}

// send emits one m.call.* event of our call, Megolm-encrypted.
func (c *dmCaller) send(b *testing.B, kind string, body map[string]any) {
	body["call_id"], body["party_id"], body["version"] = c.callID, "party-"+string(c.cc.DeviceID()), "1"
	typ := event.Type{Type: "m.call." + kind, Class: event.MessageEventType}
	if _, err := c.cc.SendRoomEncrypted(b.Context(), c.room, typ, body, c.cc.User.ID, c.bot); err != nil {
		b.Fatalf("send %s: %v", kind, err)
	}
}

// call invites the bot (the offer carries our loopback candidates), takes
// its answer and candidates until the connection is up.
func (c *dmCaller) call(b *testing.B) {
	connected := make(chan struct{})
	var once sync.Once
	c.v.pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	sdp, err := c.v.local(true)
	if err != nil {
		b.Fatal(err)
	}
	c.send(b, "invite", map[string]any{
		"lifetime": 60000, "offer": map[string]any{"sdp": sdp, "type": "offer"}, "invitee": c.bot.String(),
		"capabilities":                           map[string]any{"m.call.transferee": false, "m.call.dtmf": false},
		"org.matrix.msc3077.sdp_stream_metadata": map[string]any{"stream-dm": map[string]any{"purpose": "m.usermedia", "audio_muted": false, "video_muted": true}},
	})
	c.cc.FindRoomEvent(b, time.Minute, c.room, func(re testenv.RoomEvent) bool {
		m := c.content(re, "answer")
		if m == nil {
			return false
		}
		if err := c.v.remote(m["answer"], webrtc.SDPTypeAnswer); err != nil {
			b.Fatalf("the bot's answer: %v", err)
		}
		return true
	})
	applied := map[id.EventID]bool{}
	c.cc.FindRoomEvent(b, time.Minute, c.room, func(re testenv.RoomEvent) bool {
		if m := c.content(re, "candidates"); m != nil && !applied[re.Evt.ID] {
			applied[re.Evt.ID] = true
			if err := c.v.addCandidates(m["candidates"]); err != nil {
				b.Errorf("the bot's candidates: %v", err)
			}
		}
		select {
		case <-connected:
			return true
		default:
			return false
		}
	})
}

// content is the bot's call event of our call of that kind, or nil.
func (c *dmCaller) content(re testenv.RoomEvent, kind string) map[string]any {
	if re.Evt.Sender != c.bot || re.Evt.Type.Type != "m.call."+kind {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(re.Evt.Content.VeryRaw, &m) != nil || m["call_id"] != c.callID {
		return nil
	}
	return m
}
