package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// meshPrefix is the Famedly group call event prefix (famedly-voip.md §4).
const meshPrefix = "com.famedly.call.member."

// meshPeer is an independent Famedly mesh client for the tests: its own
// Olm device, a com.famedly.call.member membership on a mesh focus, and
// one pion connection to the bot's device, signalled with the group
// to-device events of the reference (no trickle: each description carries
// its candidates). It plays Opus packets marked with its name and counts
// what comes back: its own marks, and anyone else's.
type meshPeer struct {
	t      *testing.T
	cc     *testenv.CryptoClient
	room   id.RoomID
	name   string
	marker []byte
	api    *webrtc.API

	session    atomic.Pointer[string]
	bot        id.UserID
	botDevice  id.DeviceID
	botSession string

	// early: our candidates go in a candidates event ahead of the invite,
	// none in the offer, and the bot's are ignored (in events and in its
	// answer), so only our early candidates can connect the call.
	early bool

	heardOwn, heardForeign atomic.Int64
	heardUnmarked          atomic.Int64 // packets of ours, not echoes (announce)
	hangups                chan string  // call ids the bot hung up

	ccMu sync.Mutex // Olm machine: syncs and sends never overlap

	mu     sync.Mutex // the owner's state, below
	pc     *webrtc.PeerConnection
	callID string
	seq    int
	track  *webrtc.TrackLocalStaticRTP
	wg     sync.WaitGroup
	// muted and screen (a screen share's sender) shape our stream
	// metadata; tag marks a replacing track's packets (mesh_record_test.go).
	muted  bool
	screen *webrtc.RTPSender
	tag    []byte // played after the marker
}

// newMeshPeer makes u's device a mesh peer; its room is set before it
// joins.
func newMeshPeer(t *testing.T, env *testenv.Env, name string, u *testenv.User) *meshPeer {
	t.Helper()
	p := &meshPeer{t: t, cc: env.NewCryptoClient(t, u), name: name,
		marker: []byte("mark-" + name + "-"), hangups: make(chan string, 16),
		api: loopbackPionAPI(t)}
	t.Cleanup(p.close)
	return p
}

func (p *meshPeer) key() string { return p.cc.User.ID.String() + ":" + string(p.cc.DeviceID()) }

// join writes the device's Famedly membership on a mesh focus with
// membershipID session.
func (p *meshPeer) join(session string) {
	p.t.Helper()
	p.session.Store(&session)
	content := map[string]any{"memberships": []any{map[string]any{
		"call_id": "", "application": "m.call", "scope": "m.room",
		"foci_active": []any{map[string]any{"type": "mesh"}},
		"feeds":       []any{map[string]any{"purpose": "m.usermedia"}},
		"device_id":   string(p.cc.DeviceID()), "expires_ts": time.Now().Add(6 * time.Minute).UnixMilli(),
		"membershipID": session,
	}}}
	if _, err := p.cc.Client.SendStateEvent(p.t.Context(), p.room, testenv.FamedlyCallMember, p.cc.User.ID.String(), content); err != nil {
		p.t.Fatal(err)
	}
}

// learnBot reads the bot's mesh membership (its device and session) from
// the room state, waiting for it.
func (p *meshPeer) learnBot(bot id.UserID) {
	p.t.Helper()
	waitFor(p.t, 30*time.Second, "the bot's mesh membership", func() bool {
		var content struct {
			Memberships []struct {
				DeviceID     string `json:"device_id"`
				MembershipID string `json:"membershipID"`
				Foci         []struct {
					Type string `json:"type"`
				} `json:"foci_active"`
				Feeds []struct {
					Purpose string `json:"purpose"`
				} `json:"feeds"`
			} `json:"memberships"`
		}
		if err := p.cc.Client.StateEvent(p.t.Context(), p.room, testenv.FamedlyCallMember, bot.String(), &content); err != nil {
			return false
		}
		for _, m := range content.Memberships {
			if len(m.Foci) > 0 && m.Foci[0].Type == "mesh" && len(m.Feeds) > 0 && m.Feeds[0].Purpose == "m.usermedia" {
				p.bot, p.botDevice, p.botSession = bot, id.DeviceID(m.DeviceID), m.MembershipID
				return true
			}
		}
		return false
	})
}

// run syncs and handles the bot's call events until the test ends.
func (p *meshPeer) run() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx := p.t.Context()
		for ctx.Err() == nil {
			p.ccMu.Lock()
			evs, err := p.cc.Poll(ctx, 300*time.Millisecond)
			p.ccMu.Unlock()
			if err != nil {
				continue
			}
			for _, ev := range evs {
				if strings.HasPrefix(ev.Type.Type, meshPrefix) && ev.Sender == p.bot {
					p.handle(strings.TrimPrefix(ev.Type.Type, meshPrefix), ev)
				}
			}
		}
	}()
}

func (p *meshPeer) close() {
	p.mu.Lock()
	if p.pc != nil {
		_ = p.pc.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// send emits one group call event to the bot's device, Olm-encrypted.
func (p *meshPeer) send(kind string, body map[string]any) {
	body["call_id"] = p.callID
	body["party_id"] = *p.session.Load()
	body["version"] = "1"
	body["conf_id"] = ""
	body["seq"] = p.seq
	body["sender_session_id"] = *p.session.Load()
	body["dest_session_id"] = p.botSession
	body["room_id"] = p.room.String()
	p.seq++
	to := map[id.UserID][]id.DeviceID{p.bot: {p.botDevice}}
	p.ccMu.Lock()
	defer p.ccMu.Unlock()
	if err := p.cc.SendEncrypted(p.t.Context(), event.Type{Type: meshPrefix + kind, Class: event.ToDeviceEventType}, to, body); err != nil {
		p.t.Errorf("%s: send %s: %v", p.name, kind, err)
	}
}

var meshCapabilities = map[string]any{"m.call.transferee": false, "m.call.dtmf": false}

func (p *meshPeer) metadata() map[string]any {
	md := map[string]any{"stream-" + p.name: map[string]any{"purpose": "m.usermedia", "audio_muted": p.muted, "video_muted": true}}
	if p.screen != nil {
		md["screen-"+p.name] = map[string]any{"purpose": "m.screenshare", "audio_muted": true, "video_muted": false}
	}
	return md
}

// newPC replaces the connection: an Opus track playing our marked packets,
// and a reader of what comes back. Called with mu held.
func (p *meshPeer) newPC() {
	if p.pc != nil {
		_ = p.pc.Close()
	}
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		p.t.Fatal(err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"audio-"+p.name, "stream-"+p.name)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		p.t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			switch {
			case bytes.Contains(pkt.Payload, p.marker):
				p.heardOwn.Add(1)
			case bytes.Contains(pkt.Payload, []byte("mark-")):
				p.heardForeign.Add(1)
			case len(pkt.Payload) > 0:
				p.heardUnmarked.Add(1)
			}
		}
	})
	p.pc, p.track = pc, track
}

// local sets and returns our description once its candidates are
// gathered. Called with mu held.
func (p *meshPeer) local(offer bool) string {
	var d webrtc.SessionDescription
	var err error
	if offer {
		d, err = p.pc.CreateOffer(nil)
	} else {
		d, err = p.pc.CreateAnswer(nil)
	}
	if err != nil {
		p.t.Errorf("%s: %v", p.name, err)
		return ""
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(d); err != nil {
		p.t.Errorf("%s: %v", p.name, err)
		return ""
	}
	<-gathered
	return p.pc.LocalDescription().SDP
}

// call places a call to the bot (we are the smaller key).
func (p *meshPeer) call() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.newPC()
	p.callID = fmt.Sprintf("%dmeshpeer%s", time.Now().UnixMilli(), p.name)
	sdp := p.local(true)
	if p.early {
		var cands []any
		sdp, cands = splitCandidates(sdp)
		p.send("candidates", map[string]any{"candidates": cands})
	}
	p.send("invite", map[string]any{
		"lifetime": 60000, "offer": map[string]any{"sdp": sdp, "type": "offer"},
		"invitee": p.bot.String(), "invitee_device_id": string(p.botDevice), "device_id": string(p.cc.DeviceID()),
		"capabilities": meshCapabilities, "org.matrix.msc3077.sdp_stream_metadata": p.metadata(),
	})
}

// handle takes one call event of the bot's.
func (p *meshPeer) handle(kind string, ev testenv.ToDevice) {
	c := ev.Content
	if c["dest_session_id"] != *p.session.Load() && kind != "hangup" {
		return // for a session of ours that has gone
	}
	callID, _ := c["call_id"].(string)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch kind {
	case "invite":
		p.newPC()
		p.callID = callID
		if !p.setRemote(c["offer"], webrtc.SDPTypeOffer) {
			return
		}
		sdp := p.local(false)
		p.send("answer", map[string]any{"answer": map[string]any{"sdp": sdp, "type": "answer"},
			"capabilities": meshCapabilities, "org.matrix.msc3077.sdp_stream_metadata": p.metadata()})
	case "answer":
		if callID == p.callID {
			if a, ok := c["answer"].(map[string]any); ok && p.early {
				a["sdp"], _ = splitCandidates(fmt.Sprint(a["sdp"]))
			}
			p.setRemote(c["answer"], webrtc.SDPTypeAnswer)
			p.send("select_answer", map[string]any{"selected_party_id": c["party_id"]})
		}
	case "candidates":
		if callID != p.callID || p.pc == nil || p.pc.RemoteDescription() == nil || p.early {
			return
		}
		_ = addWireCandidates(p.pc, c["candidates"])
	case "negotiate":
		d, _ := c["description"].(map[string]any)
		if p.pc == nil {
			return // we hung up
		}
		if p.early && d != nil {
			d["sdp"], _ = splitCandidates(fmt.Sprint(d["sdp"]))
		}
		if callID == p.callID && d["type"] == "answer" { // to our renegotiation
			p.setRemote(d, webrtc.SDPTypeAnswer)
			return
		}
		if callID != p.callID || d["type"] != "offer" || !p.setRemote(d, webrtc.SDPTypeOffer) {
			return
		}
		sdp := p.local(false)
		if p.early {
			// An ICE restart must not connect the call without the
			// early candidates.
			sdp, _ = splitCandidates(sdp)
		}
		p.send("negotiate", map[string]any{"description": map[string]any{"sdp": sdp, "type": "answer"}})
	case "hangup":
		select {
		case p.hangups <- callID:
		default:
		}
		if callID == p.callID && p.pc != nil {
			_ = p.pc.Close()
			p.pc = nil
		}
	}
}

func (p *meshPeer) setRemote(d any, typ webrtc.SDPType) bool {
	m, _ := d.(map[string]any)
	sdp, _ := m["sdp"].(string)
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: sdp}); err != nil {
		p.t.Errorf("%s: remote %s: %v", p.name, typ, err)
		return false
	}
	return true
}

// play sends marked Opus packets every 20 ms until the test ends.
func (p *meshPeer) play() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var seq uint16
		var ts uint32
		for {
			select {
			case <-p.t.Context().Done():
				return
			case <-tick.C:
			}
			seq++
			ts += 960
			p.mu.Lock()
			track, tag := p.track, p.tag
			p.mu.Unlock()
			if track == nil {
				continue
			}
			payload := append(append([]byte{0xfc}, p.marker...), tag...)
			payload = fmt.Appendf(payload, "%06d", seq)
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts},
				Payload: payload})
		}
	}()
}

// splitCandidates takes the candidate lines out of a description and
// returns them as a candidates event's entries (one bundled media line).
func splitCandidates(sdp string) (string, []any) {
	var kept []string
	var cands []any
	for _, line := range strings.Split(sdp, "\r\n") {
		switch {
		case strings.HasPrefix(line, "a=candidate:"):
			cands = append(cands, map[string]any{"candidate": line[2:], "sdpMid": "0", "sdpMLineIndex": 0})
		case line == "a=end-of-candidates":
		default:
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\r\n"), cands
}
