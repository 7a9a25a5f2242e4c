package mesh

import (
	"crypto/rand"
	"log/slog"
	"strconv"
	"time"

	"github.com/pion/webrtc/v4"
)

// call is one call (one call_id, one PeerConnection) of a peer. A peer
// has one at a time; glare or a replacing invite swaps it.
type call struct {
	id          string
	pc          *webrtc.PeerConnection
	outgoing    bool
	remoteParty string // adopted from the answer (ours) or the invite (theirs)
	seq         int64
	pending     PendingCandidates
	// signalled: our invite or answer was handed to the sender, so our
	// candidates may follow (never before, unlike the SDK's early flushes).
	signalled   bool
	established bool // offer and answer exchanged: renegotiation allowed
	batch       []Candidate
	flush       *time.Timer // armed while batch waits
	expiry      *time.Timer // our invite's lifetime
	restarts    int         // ICE restarts since the connection was last up
	restart     bool        // an ICE restart is due once the signalling state is stable
	renegotiate bool        // negotiation needed once the signalling state is stable
	senders     map[*outTrack]*webrtc.RTPSender
}

// idAlphabet is the SDK's call id alphabet (alphanumerics).
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomID returns n random alphanumerics.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// newCallID makes a call id as the SDK does: ms since epoch and 16
// alphanumerics.
func newCallID() string {
	return strconv.FormatInt(time.Now().UnixMilli(), 10) + randomID(16)
}

// newCall creates a call with its PeerConnection, our tracks added, and
// pion's callbacks forwarding to the owner.
func (p *Peer) newCall(id string, outgoing bool) (*call, error) {
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{ICEServers: p.cfg.ICE.Servers})
	if err != nil {
		return nil, err
	}
	c := &call{id: id, pc: pc, outgoing: outgoing, senders: map[*outTrack]*webrtc.RTPSender{}}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		p.post(func() { p.localCandidate(c, cand) })
	})
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		p.post(func() { p.iceState(c, s) })
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			p.readyOnce.Do(func() { close(p.ready) })
		}
	})
	pc.OnNegotiationNeeded(func() {
		// Before the call is established the invite or answer carries
		// our tracks; outputs added meanwhile flag renegotiation
		// themselves.
		p.post(func() {
			if p.call == c && c.established {
				c.renegotiate = true
				p.negotiate(c)
			}
		})
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		p.post(func() { p.startReader(t, r) })
	})
	for _, t := range p.tracks {
		if t.placeholder || t.bound() != nil {
			if err := p.addSender(c, t); err != nil {
				c.closePC(p.log)
				return nil, err
			}
		}
	}
	return c, nil
}

// closePC closes the call's PeerConnection and its timers.
func (c *call) closePC(log *slog.Logger) {
	if c.flush != nil {
		c.flush.Stop()
	}
	if c.expiry != nil {
		c.expiry.Stop()
	}
	if err := c.pc.Close(); err != nil {
		log.Debug("mesh: close peer connection", "err", err)
	}
}

// placeCall creates our offer and sends the invite.
func (p *Peer) placeCall() {
	c, err := p.newCall(newCallID(), true)
	if err != nil {
		p.log.Warn("mesh: cannot create peer connection", "err", err)
		p.end(ReasonLocalOfferFailed, false, false)
		return
	}
	p.call = c
	offer, err := localDescription(c.pc, true, nil)
	if err != nil {
		p.log.Warn("mesh: cannot create offer", "err", err)
		p.end(ReasonLocalOfferFailed, false, false)
		return
	}
	p.enqueue(c, &Invite{
		Lifetime:        p.cfg.InviteLifetime.Milliseconds(),
		Offer:           Description{SDP: offer.SDP, Type: SDPOffer},
		Invitee:         p.cfg.Remote.UserID,
		InviteeDeviceID: p.cfg.Remote.DeviceID,
		DeviceID:        p.cfg.Local.DeviceID,
		Capabilities:    &Capabilities{},
		Metadata:        p.metadata(),
	})
	c.expiry = time.NewTimer(p.cfg.InviteLifetime)
	p.signalled(c)
}

// answerInvite answers an invite (we are the polite side): a new call
// with the invite's id, the offer applied, candidates held for it
// released, our answer and metadata sent.
func (p *Peer) answerInvite(s Signal, inv *Invite) {
	c, err := p.newCall(s.Call.CallID, false)
	if err != nil {
		p.log.Warn("mesh: cannot create peer connection", "err", err)
		p.end(ReasonCreateAnswer, false, false)
		return
	}
	p.call = c
	c.remoteParty = s.Call.PartyID
	p.setRemoteMetadata(inv.Metadata)
	if !p.setRemote(c, webrtc.SDPTypeOffer, inv.Offer.SDP) {
		return
	}
	p.applyCandidates(c, p.early.Take(p.cfg.Remote.SessionID, c.id)...)
	answer, err := localDescription(c.pc, false, nil)
	if err != nil {
		p.log.Warn("mesh: cannot answer", "err", err)
		p.end(ReasonCreateAnswer, false, true)
		return
	}
	p.enqueue(c, &Answer{
		Answer:       Description{SDP: answer.SDP, Type: SDPAnswer},
		Capabilities: &Capabilities{},
		Metadata:     p.metadata(),
	})
	c.established = true
	p.signalled(c)
}

// setRemote applies a remote description and releases the candidates held
// before it; a description pion refuses ends the call with
// set_remote_description (hostile SDP never panics).
func (p *Peer) setRemote(c *call, t webrtc.SDPType, sdp string) bool {
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: t, SDP: sdp}); err != nil {
		p.log.Warn("mesh: remote description refused", "type", t, "err", err)
		p.end(ReasonSetRemoteDescription, false, true)
		return false
	}
	p.applyCandidates(c, c.pending.Release()...)
	return true
}

// localDescription creates our offer (with opts) or answer and sets it as the
// local description.
func localDescription(pc *webrtc.PeerConnection, offer bool, opts *webrtc.OfferOptions) (webrtc.SessionDescription, error) {
	var d webrtc.SessionDescription
	var err error
	if offer {
		d, err = pc.CreateOffer(opts)
	} else {
		d, err = pc.CreateAnswer(nil)
	}
	if err == nil {
		err = pc.SetLocalDescription(d)
	}
	return d, err
}
