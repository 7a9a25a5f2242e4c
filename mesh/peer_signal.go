package mesh

import (
	"errors"
	"maps"

	"github.com/pion/webrtc/v4"
)

// handle takes one signal from the remote device.
func (p *Peer) handle(s Signal) {
	if s.Call.PartyID != "" && s.Call.PartyID == p.cfg.Local.SessionID {
		return // our own party: an echo
	}
	if inv, ok := s.Body.(*Invite); ok {
		p.invite(s, inv)
		return
	}
	c := p.call
	if c == nil || s.Call.CallID != c.id {
		if cs, ok := s.Body.(*Candidates); ok {
			// Candidates ahead of their invite (the SDK's early
			// flushes): held until it comes.
			if err := p.early.Add(p.cfg.Remote.SessionID, s.Call.CallID, cs.Candidates...); err != nil {
				p.log.Warn("mesh: early candidates refused", "err", err)
			}
			return
		}
		p.log.Debug("mesh: signal for another call ignored", "kind", s.Kind(), "call", s.Call.CallID)
		return
	}
	if c.remoteParty != "" && s.Call.PartyID != c.remoteParty && s.Kind() != KindAnswer {
		p.log.Debug("mesh: signal from another party ignored", "kind", s.Kind())
		return
	}
	switch b := s.Body.(type) {
	case *Answer:
		p.answer(c, s.Call.PartyID, b)
	case *Candidates:
		p.applyCandidates(c, b.Candidates...)
	case *SelectAnswer:
		if !c.outgoing && b.SelectedPartyID != p.cfg.Local.SessionID {
			p.end(ReasonAnsweredElsewhere, true, false)
		}
	case *Reject:
		if c.outgoing && !c.established {
			p.end(b.Reason.Normalized(), true, false)
		}
	case *Hangup:
		// No hangup is echoed back (SDK defect 9).
		p.end(b.Reason.Normalized(), true, false)
	case *Negotiate:
		p.remoteNegotiate(c, b)
	case *StreamMetadataChanged:
		p.setRemoteMetadata(b.Metadata)
	}
}

// invite takes an invite: answered when we have no call; in glare (our
// invite unanswered) MeshGlare decides; a new call from the same device
// replaces the running one, as the SDK does.
func (p *Peer) invite(s Signal, inv *Invite) {
	c := p.call
	switch {
	case c == nil:
	case c.id == s.Call.CallID:
		return // a repeated invite
	case c.outgoing && !c.established:
		if p.glare(c, s.Call.CallID) == KeepOurs {
			p.log.Info("mesh: glare, our call stays")
			if p.cfg.Dialect == Group {
				p.enqueue(&call{id: s.Call.CallID}, &Reject{})
			} else {
				p.enqueue(&call{id: s.Call.CallID}, &Hangup{Reason: ReasonReplaced})
			}
			p.early.Forget(p.cfg.Remote.SessionID)
			return
		}
		p.log.Info("mesh: glare, their call stays")
		p.replaceCall(c, ReasonReplaced)
	default:
		p.log.Info("mesh: a new invite replaces the call")
		p.replaceCall(c, ReasonReplaced)
	}
	p.answerInvite(s, inv)
}

// glare resolves crossing invites: MeshGlare in group calls, RoomGlare
// (by call id) in 1:1 calls.
func (p *Peer) glare(ours *call, theirCallID string) Glare {
	if p.cfg.Dialect == Room {
		return RoomGlare(ours.id, ours.signalled, theirCallID)
	}
	return MeshGlare(p.cfg.Local.Key(), p.cfg.Remote.Key())
}

// replaceCall hangs up c and forgets it, so that another call takes its
// place on this peer.
func (p *Peer) replaceCall(c *call, reason Reason) {
	p.enqueue(c, &Hangup{Reason: reason})
	c.closePC(p.log)
	p.call = nil
}

// answer takes the answer to our invite: the first party to answer is
// adopted and told so (select_answer).
func (p *Peer) answer(c *call, party string, a *Answer) {
	if !c.outgoing || c.remoteParty != "" {
		return
	}
	c.remoteParty = party
	if c.expiry != nil {
		c.expiry.Stop()
		c.expiry = nil
	}
	p.setRemoteMetadata(a.Metadata)
	if !p.setRemote(c, webrtc.SDPTypeAnswer, a.Answer.SDP) {
		return
	}
	c.established = true
	p.enqueue(c, &SelectAnswer{SelectedPartyID: party})
	p.negotiate(c) // outputs added while the invite was out
}

// applyCandidates adds remote candidates, each rebuilt for its media line,
// or holds them until the remote description is set.
func (p *Peer) applyCandidates(c *call, cs ...Candidate) {
	now, err := c.pending.Add(cs...)
	if err != nil {
		p.log.Warn("mesh: candidates refused", "err", err)
	}
	for _, cand := range now {
		if cand.EndOfCandidates() {
			continue
		}
		init, err := cand.Rebuild()
		if err == nil {
			err = c.pc.AddICECandidate(init)
		}
		if err != nil {
			p.log.Debug("mesh: remote candidate refused", "err", err)
		}
	}
}

// setRemoteMetadata records the remote device's stream metadata and
// reports a change.
func (p *Peer) setRemoteMetadata(md StreamMetadata) {
	if md == nil || maps.Equal(md, p.remoteMD) {
		return
	}
	p.remoteMD = maps.Clone(md)
	if p.cfg.OnMetadata != nil {
		p.cfg.OnMetadata(maps.Clone(md))
	}
}

// negotiate sends a negotiate offer when negotiation (or an ICE restart)
// is needed and possible: the call established and the signalling state
// stable. Otherwise it waits for the next call, once stable.
func (p *Peer) negotiate(c *call) {
	if !(c.renegotiate || c.restart) || !c.established || c.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	var opts *webrtc.OfferOptions
	if c.restart {
		c.restarts++
		p.log.Info("mesh: ICE restart", "attempt", c.restarts)
		opts = &webrtc.OfferOptions{ICERestart: true}
	}
	c.renegotiate, c.restart = false, false
	p.offer(c, opts)
}

// offer creates an offer (options: an ICE restart) and sends it as a
// negotiate.
func (p *Peer) offer(c *call, opts *webrtc.OfferOptions) {
	offer, err := localDescription(c.pc, true, opts)
	if err != nil {
		p.log.Warn("mesh: cannot renegotiate", "err", err)
		p.end(ReasonLocalOfferFailed, false, true)
		return
	}
	p.enqueue(c, &Negotiate{
		Lifetime:     NegotiateLifetime,
		Description:  Description{SDP: offer.SDP, Type: SDPOffer},
		Capabilities: &Capabilities{},
		Metadata:     p.metadata(),
	})
}

// remoteNegotiate is perfect negotiation: we are polite when called. An
// impolite side ignores a colliding offer; a polite one rolls its own
// back and answers.
func (p *Peer) remoteNegotiate(c *call, n *Negotiate) {
	if !c.established {
		return
	}
	state := c.pc.SignalingState()
	if n.Description.Type == SDPAnswer {
		if state == webrtc.SignalingStateHaveLocalOffer {
			if p.setRemote(c, webrtc.SDPTypeAnswer, n.Description.SDP) {
				p.negotiate(c)
			}
		}
		return
	}
	if state != webrtc.SignalingStateStable {
		if c.outgoing {
			p.log.Debug("mesh: colliding offer ignored (impolite)")
			return
		}
		if err := rollback(c.pc); err != nil {
			p.log.Warn("mesh: rollback failed", "err", err)
			p.end(ReasonSetLocalDescription, false, true)
			return
		}
		c.renegotiate = true // ours goes out after theirs
	}
	p.setRemoteMetadata(n.Metadata)
	if !p.setRemote(c, webrtc.SDPTypeOffer, n.Description.SDP) {
		return
	}
	answer, err := localDescription(c.pc, false, nil)
	if err != nil {
		p.log.Warn("mesh: cannot answer renegotiation", "err", err)
		p.end(ReasonCreateAnswer, false, true)
		return
	}
	p.enqueue(c, &Negotiate{Description: Description{SDP: answer.SDP, Type: SDPAnswer}})
	p.negotiate(c)
}

// iceState restarts ICE when it failed or disconnected (as the SDK does),
// up to maxICERestarts times in a row, then hangs up with ice_failed; a
// connection that recovers starts counting afresh (the SDK too: else a
// long call's fourth outage would end it untried). A restart waits for a
// stable signalling state.
func (p *Peer) iceState(c *call, s webrtc.ICEConnectionState) {
	if p.call != c {
		return
	}
	p.log.Debug("mesh: ice state", "state", s.String()) // a name, not the enum's number, in JSON logs
	if s == webrtc.ICEConnectionStateConnected || s == webrtc.ICEConnectionStateCompleted {
		c.restarts = 0
		return
	}
	if s != webrtc.ICEConnectionStateFailed && s != webrtc.ICEConnectionStateDisconnected {
		return
	}
	if c.restarts >= maxICERestarts {
		p.end(ReasonICEFailed, false, true)
		return
	}
	c.restart = true
	p.negotiate(c)
}

// rollback abandons our pending offer (pion wants its SDP named).
func rollback(pc *webrtc.PeerConnection) error {
	pending := pc.PendingLocalDescription()
	if pending == nil {
		return errors.New("mesh: no local offer to roll back")
	}
	return pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback, SDP: pending.SDP})
}
