package callwire

import (
	"fmt"

	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// The Peer's group call events (famedly-voip.md §4.3, §4.4).

// send emits one group call event of the current call to the bot's
// device, Olm-encrypted. Called with mu held.
func (p *Peer) send(kind string, body map[string]any) {
	body["call_id"], body["party_id"], body["version"], body["conf_id"] = p.callID, p.session, "1", ""
	body["seq"], body["sender_session_id"], body["dest_session_id"], body["room_id"] = p.seq, p.session, p.botSession, p.room.String()
	p.seq++
	to := map[id.UserID][]id.DeviceID{p.bot: {p.botDevice}}
	p.ccMu.Lock()
	defer p.ccMu.Unlock()
	if err := p.cc.SendEncrypted(p.ctx, event.Type{Type: MeshPrefix + kind, Class: event.ToDeviceEventType}, to, body); err != nil && p.ctx.Err() == nil {
		p.t.Errorf("%s: send %s: %v", p.name, kind, err)
	}
}

// extras adds the capabilities and our stream metadata to an invite's or
// answer's body. Called with mu held.
func (p *Peer) extras(body map[string]any) map[string]any {
	body["capabilities"] = map[string]any{"m.call.transferee": false, "m.call.dtmf": false}
	body["org.matrix.msc3077.sdp_stream_metadata"] = p.metadata()
	return body
}

// metadata is our sdp_stream_metadata: the audio stream (muted or not)
// and the screen share's while there is one. Called with mu held.
func (p *Peer) metadata() map[string]any {
	md := map[string]any{"stream-" + p.name: map[string]any{"purpose": "m.usermedia", "audio_muted": p.muted, "video_muted": true}}
	if p.screen != nil {
		md["screen-"+p.name] = map[string]any{"purpose": "m.screenshare", "audio_muted": true, "video_muted": false}
	}
	return md
}

// handle takes one of the bot's call events of our room.
func (p *Peer) handle(kind string, c map[string]any) {
	callID, _ := c["call_id"].(string)
	p.mu.Lock()
	defer p.mu.Unlock()
	if kind == "hangup" { // of any session of ours: a stale one's too
		p.t.Logf("%s: the bot hung up call %s: %v", p.name, callID, c["reason"])
		select {
		case p.hangups <- callID:
		default:
		}
		if callID == p.callID && p.v != nil {
			p.endCall()
		}
		return
	}
	if c["dest_session_id"] != p.session {
		return // for a session of ours that has gone
	}
	var err error
	switch {
	case kind == "invite":
		if !p.newVoice() {
			return
		}
		p.callID = callID
		var sdp string
		if err = p.v.Remote(c["offer"], webrtc.SDPTypeOffer); err == nil {
			sdp, err = p.v.Local(false)
		}
		if err == nil {
			p.send("answer", p.extras(map[string]any{"answer": map[string]any{"sdp": sdp, "type": "answer"}}))
		}
	case callID != p.callID || p.v == nil:
	case kind == "answer":
		if a, ok := c["answer"].(map[string]any); ok && p.early {
			a["sdp"], _ = splitCandidates(fmt.Sprint(a["sdp"]))
		}
		if err = p.v.Remote(c["answer"], webrtc.SDPTypeAnswer); err == nil {
			p.send("select_answer", map[string]any{"selected_party_id": c["party_id"]})
		}
	case kind == "candidates":
		if !p.early && p.v.pc.RemoteDescription() != nil {
			err = p.v.AddCandidates(c["candidates"])
		}
	case kind == "negotiate":
		err = p.negotiated(c)
	}
	if err != nil && p.ctx.Err() == nil {
		p.t.Errorf("%s: %s: %v", p.name, kind, err)
	}
}

// negotiated takes a negotiate event of our call: the answer to our
// renegotiation, or the bot's offer, answered. Called with mu held.
func (p *Peer) negotiated(c map[string]any) error {
	d, _ := c["description"].(map[string]any)
	if p.early && d != nil {
		d["sdp"], _ = splitCandidates(fmt.Sprint(d["sdp"]))
	}
	// A new ice-ufrag restarts ICE (RFC 8839): the bot's offer's, or its
	// answer's to our restart offer.
	ufrag, restart := iceUfrag(fmt.Sprint(d["sdp"])), false
	if prev := p.v.pc.RemoteDescription(); prev != nil {
		restart = ufrag != "" && ufrag != iceUfrag(prev.SDP)
	}
	switch d["type"] {
	case "answer":
		if err := p.v.Remote(d, webrtc.SDPTypeAnswer); err != nil {
			return err
		}
		if restart {
			p.restarted("the bot answered our ICE restart", ufrag)
		}
	case "offer":
		if p.v.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
			if p.Key() < p.bot.String()+":"+string(p.botDevice) {
				return nil // we called: impolite, ours stands (famedly-voip.md §4.7)
			}
			pending := p.v.pc.PendingLocalDescription()
			if err := p.v.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback, SDP: pending.SDP}); err != nil {
				return err
			}
		}
		if err := p.v.Remote(d, webrtc.SDPTypeOffer); err != nil {
			return err
		}
		sdp, err := p.v.Local(false)
		if err != nil {
			return err
		}
		if p.early {
			// An ICE restart must not connect the call without the
			// early candidates.
			sdp, _ = splitCandidates(sdp)
		}
		p.send("negotiate", map[string]any{"description": map[string]any{"sdp": sdp, "type": "answer"}})
		if restart {
			p.restarted("the bot restarted ICE; answered", ufrag)
		}
	}
	return nil
}

// endCall closes the current call's connection. Called with mu held.
func (p *Peer) endCall() {
	p.v.Close()
	p.callID = ""
}

// Hangup hangs up the current call with reason.
func (p *Peer) Hangup(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.send("hangup", map[string]any{"reason": reason})
	if p.v != nil {
		p.endCall()
	}
}
