package callwire

import "github.com/pion/webrtc/v4"

// The Peer's ICE restarts (famedly-voip.md §4.7).

// RestartICE restarts ICE now, as the SDK does when its connection goes
// disconnected or failed: a negotiate offer with new ICE credentials
// (Restarts reports it once the bot's answer is applied). Crossing offers
// are settled as the SDK's perfect negotiation does: the caller ignores
// the bot's, the callee rolls its own back.
func (p *Peer) RestartICE() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.v == nil || p.callID == "" {
		p.t.Errorf("%s: no call to restart ICE in", p.name)
		return
	}
	p.t.Logf("%s: restarting ICE", p.name)
	p.renegotiate(&webrtc.OfferOptions{ICERestart: true})
}

// restarted reports an ICE restart negotiated (Restarts). Called with mu
// held.
func (p *Peer) restarted(how, ufrag string) {
	p.t.Logf("%s: %s (remote ice-ufrag %s)", p.name, how, ufrag)
	select {
	case p.restarts <- ufrag:
	default:
	}
}
