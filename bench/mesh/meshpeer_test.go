package meshbench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/benchrun"
)

// meshPrefix is the Famedly group call event prefix (famedly-voip.md §4).
const meshPrefix = "com.famedly.call.member."

// meshPeer is one Famedly mesh device in one room: its Olm device (shared
// across the rooms a bench runs one after another), a membership on a mesh
// focus with its own membershipID, and one pion connection to the bot's
// device, signalled with Olm-encrypted group to-device events (each
// description carries its candidates; the bot's trickled ones are added).
// It calls the bot when its key is the smaller, else answers the bot's
// invite. It does not call the other devices: what is measured is the
// coordinator's side of the mesh.
type meshPeer struct {
	b       *testing.B
	cc      *testenv.CryptoClient
	api     *webrtc.API
	name    string
	room    id.RoomID
	session string
	poll    time.Duration // sync long-poll; sends wait for it

	bot        id.UserID
	botDevice  id.DeviceID
	botSession string

	joinedAt time.Time // just before the membership was sent
	botSeen  time.Time // when start read the bot's membership

	ccMu sync.Mutex // the Olm machine: syncs and sends never overlap

	mu     sync.Mutex // below
	v      *voice
	callID string
	seq    int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newMeshPeer(b *testing.B, cc *testenv.CryptoClient, api *webrtc.API, room id.RoomID, name, session string, poll time.Duration) *meshPeer {
	p := &meshPeer{b: b, cc: cc, api: api, name: name, room: room, session: session, poll: poll}
	p.ctx, p.cancel = context.WithCancel(b.Context())
	return p
}

func (p *meshPeer) key() string { return p.cc.User.ID.String() + ":" + string(p.cc.DeviceID()) }

// join sends the device's membership on a mesh focus.
func (p *meshPeer) join() {
	p.joinedAt = time.Now()
	p.membership([]any{map[string]any{
		"call_id": "", "application": "m.call", "scope": "m.room",
		"foci_active": []any{map[string]any{"type": "mesh"}},
		"feeds":       []any{map[string]any{"purpose": "m.usermedia"}},
		"device_id":   string(p.cc.DeviceID()), "expires_ts": time.Now().Add(time.Hour).UnixMilli(),
		"membershipID": p.session,
	}})
}

func (p *meshPeer) membership(list []any) {
	if _, err := p.cc.Client.SendStateEvent(p.b.Context(), p.room, testenv.FamedlyCallMember, p.cc.User.ID.String(),
		map[string]any{"memberships": list}); err != nil {
		p.b.Fatal(err)
	}
}

// start learns the bot's mesh membership (polling the room state), runs
// the peer's sync and playing, and calls the bot if our key is smaller.
func (p *meshPeer) start(bot id.UserID) {
	benchrun.WaitUntil(p.b, time.Minute, "the bot's mesh membership", func() bool {
		time.Sleep(10 * time.Millisecond)
		var content struct {
			Memberships []struct {
				DeviceID     string `json:"device_id"`
				MembershipID string `json:"membershipID"`
				Foci         []struct {
					Type string `json:"type"`
				} `json:"foci_active"`
			} `json:"memberships"`
		}
		if p.cc.Client.StateEvent(p.b.Context(), p.room, testenv.FamedlyCallMember, bot.String(), &content) != nil {
			return false
		}
		for _, m := range content.Memberships {
			if len(m.Foci) > 0 && m.Foci[0].Type == "mesh" {
				p.bot, p.botDevice, p.botSession = bot, id.DeviceID(m.DeviceID), m.MembershipID
				return true
			}
		}
		return false
	})
	p.botSeen = time.Now()
	p.wg.Go(p.run)
	p.wg.Go(p.play)
	if p.calling() {
		p.call()
	}
}

// waitEcho waits up to limit for the first of our packets to come back.
func (p *meshPeer) waitEcho(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for v := p.voice(); v == nil || v.firstEcho().IsZero(); v = p.voice() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// calling says whether we place the call (our key is the smaller).
func (p *meshPeer) calling() bool { return p.key() < p.bot.String()+":"+string(p.botDevice) }

// stop ends the peer's goroutines and connection and leaves the call.
func (p *meshPeer) stop() {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	if p.v != nil {
		_ = p.v.pc.Close()
	}
	p.mu.Unlock()
	p.membership([]any{})
}

// state describes the peer's call, for a failed wait.
func (p *meshPeer) state() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.v == nil {
		return p.name + ": no call"
	}
	return fmt.Sprintf("%s: call %s %v, remote description %v, %d packets sent", p.name, p.callID, p.v.pc.ConnectionState(),
		p.v.pc.RemoteDescription() != nil, p.v.mark())
}

// voice is the current connection's audio (nil before the first).
func (p *meshPeer) voice() *voice {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.v
}

func (p *meshPeer) play() {
	var cur *voice
	for p.ctx.Err() == nil {
		if v := p.voice(); v != nil && v != cur {
			cur = v
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(p.ctx)
			v.play(ctx, &wg)
			for p.ctx.Err() == nil && p.voice() == v {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			wg.Wait()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run syncs and handles the bot's call events of this room and session.
func (p *meshPeer) run() {
	for p.ctx.Err() == nil {
		p.ccMu.Lock()
		evs, err := p.cc.Poll(p.ctx, p.poll)
		p.ccMu.Unlock()
		if err != nil {
			continue
		}
		for _, ev := range evs {
			if strings.HasPrefix(ev.Type.Type, meshPrefix) && ev.Sender == p.bot && ev.Content["room_id"] == p.room.String() &&
				ev.Content["dest_session_id"] == p.session {
				p.handle(strings.TrimPrefix(ev.Type.Type, meshPrefix), ev.Content)
			}
		}
	}
}

// send emits one group call event to the bot's device, Olm-encrypted.
// Called with mu held.
func (p *meshPeer) send(kind string, body map[string]any) {
	body["call_id"], body["party_id"], body["version"], body["conf_id"] = p.callID, p.session, "1", ""
	body["seq"], body["sender_session_id"], body["dest_session_id"], body["room_id"] = p.seq, p.session, p.botSession, p.room.String()
	body["device_id"] = string(p.cc.DeviceID())
	p.seq++
	p.ccMu.Lock()
	defer p.ccMu.Unlock()
	to := map[id.UserID][]id.DeviceID{p.bot: {p.botDevice}}
	if err := p.cc.SendEncrypted(p.ctx, event.Type{Type: meshPrefix + kind, Class: event.ToDeviceEventType}, to, body); err != nil && p.ctx.Err() == nil {
		p.b.Errorf("%s: send %s: %v", p.name, kind, err)
	}
}

func (p *meshPeer) extras(m map[string]any) map[string]any {
	m["capabilities"] = map[string]any{"m.call.transferee": false, "m.call.dtmf": false}
	m["org.matrix.msc3077.sdp_stream_metadata"] = map[string]any{
		"stream-" + p.name: map[string]any{"purpose": "m.usermedia", "audio_muted": false, "video_muted": true}}
	return m
}

// newVoice replaces the connection. Called with mu held.
func (p *meshPeer) newVoice() bool {
	if p.v != nil {
		_ = p.v.pc.Close()
	}
	v, err := newVoice(p.api, p.name)
	if err != nil {
		p.b.Errorf("%s: %v", p.name, err)
		return false
	}
	p.v = v
	return true
}

// call places our call to the bot.
func (p *meshPeer) call() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.newVoice() {
		return
	}
	p.callID = fmt.Sprintf("%dbench%s", time.Now().UnixNano(), p.name)
	sdp, err := p.v.local(true)
	if err != nil {
		p.b.Errorf("%s: offer: %v", p.name, err)
		return
	}
	p.send("invite", p.extras(map[string]any{"lifetime": 60000, "offer": map[string]any{"sdp": sdp, "type": "offer"},
		"invitee": p.bot.String(), "invitee_device_id": string(p.botDevice)}))
}

// handle takes one of the bot's call events.
func (p *meshPeer) handle(kind string, c map[string]any) {
	callID, _ := c["call_id"].(string)
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	switch {
	case kind == "invite":
		if !p.newVoice() {
			return
		}
		p.callID = callID
		var sdp string
		if err = p.v.remote(c["offer"], webrtc.SDPTypeOffer); err == nil {
			sdp, err = p.v.local(false)
		}
		if err == nil {
			p.send("answer", p.extras(map[string]any{"answer": map[string]any{"sdp": sdp, "type": "answer"}}))
		}
	case callID != p.callID || p.v == nil:
	case kind == "answer":
		if err = p.v.remote(c["answer"], webrtc.SDPTypeAnswer); err == nil {
			p.send("select_answer", map[string]any{"selected_party_id": c["party_id"]})
		}
	case kind == "candidates" && p.v.pc.RemoteDescription() != nil:
		err = p.v.addCandidates(c["candidates"])
	case kind == "negotiate":
		d, _ := c["description"].(map[string]any)
		var sdp string
		if d["type"] != "offer" {
			return
		}
		if err = p.v.remote(d, webrtc.SDPTypeOffer); err == nil {
			sdp, err = p.v.local(false)
		}
		if err == nil {
			p.send("negotiate", map[string]any{"description": map[string]any{"sdp": sdp, "type": "answer"}})
		}
	case kind == "hangup":
		p.b.Logf("%s: the bot hung up call %s: %v", p.name, callID, c["reason"])
	}
	if err != nil {
		p.b.Errorf("%s: %s: %v", p.name, kind, err)
	}
}
