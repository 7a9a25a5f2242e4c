package mesh

import (
	"context"
	"time"

	"github.com/pion/webrtc/v4"
)

// Sending policy (reference §4.7): failures retry after 500·2ⁿ ms; after
// more than maxSendFailures the call ends (ice_timeout for candidates).
const (
	sendBackoff     = 500 * time.Millisecond
	maxSendFailures = 5
	// sendTimeout bounds sending what is queued when the call ends (the
	// final hangup).
	sendTimeout = 5 * time.Second
)

// outgoing is one signal for the sender goroutine.
type outgoing struct {
	s Signal
}

// enqueue stamps a body with c's call id, our party and the envelope, and
// queues it for the sender. It waits for room (the sender drains the
// queue; candidates are batched so it rarely fills).
func (p *Peer) enqueue(c *call, b Body) {
	s := Signal{
		Dialect: p.cfg.Dialect,
		Call:    Call{CallID: c.id, PartyID: p.cfg.Local.SessionID, Version: Version},
		Body:    b,
	}
	if s.Dialect == Group {
		s.Group = &Envelope{Seq: c.seq, SenderSessionID: p.cfg.Local.SessionID,
			DestSessionID: p.cfg.Remote.SessionID, RoomID: p.cfg.RoomID, ConfID: p.cfg.ConfID}
		c.seq++
	}
	p.out <- outgoing{s: s}
}

// sender sends queued signals in order, retrying failures; when the
// owner has stopped it sends what is left once each (the final hangup)
// and returns when the queue is closed and drained.
func (p *Peer) sender(ctx context.Context) {
	defer p.wg.Done()
	for o := range p.out {
		for failures := 0; ; failures++ {
			err := p.cfg.Send(ctx, o.s)
			if err == nil {
				break
			}
			p.log.Warn("mesh: send failed", "kind", o.s.Kind(), "failures", failures+1, "err", err)
			if failures >= maxSendFailures {
				reason := ReasonUnknownError
				if o.s.Kind() == KindCandidates {
					reason = ReasonICETimeout
				}
				p.post(func() { p.end(reason, false, true) })
				break
			}
			t := time.NewTimer(p.backoff << failures)
			select {
			case <-t.C:
				continue
			case <-p.stopped:
				t.Stop()
			case <-ctx.Done():
				t.Stop()
			}
			break
		}
	}
}

// signalled marks our invite or answer sent: the candidates gathered so
// far follow at once.
func (p *Peer) signalled(c *call) {
	c.signalled = true
	p.flushCandidates()
}

// localCandidate batches one of our candidates (nil: gathering complete,
// sent as the end-of-candidates marker).
func (p *Peer) localCandidate(c *call, cand *webrtc.ICECandidate) {
	if p.call != c {
		return
	}
	var wire Candidate // the end-of-candidates marker
	if cand != nil {
		var err error
		if wire, err = CandidateFromInit(cand.ToJSON()); err != nil {
			p.log.Debug("mesh: local candidate not sendable", "err", err)
			return
		}
	} else {
		wire.SDPMid = "0"
	}
	c.batch = append(c.batch, wire)
	if c.signalled && c.flush == nil {
		c.flush = time.NewTimer(candidateFlush)
	}
}

// flushCandidates sends the batched candidates of the current call.
func (p *Peer) flushCandidates() {
	c := p.call
	if c == nil || !c.signalled {
		return
	}
	for len(c.batch) > 0 {
		n := min(len(c.batch), MaxCandidates)
		p.enqueue(c, &Candidates{Candidates: c.batch[:n:n]})
		c.batch = c.batch[n:]
	}
	c.batch = nil
}

// metadata is our stream metadata: one stream, our user media, muted
// where no output is bound.
func (p *Peer) metadata() StreamMetadata {
	info := StreamInfo{Purpose: PurposeUserMedia, AudioMuted: true, VideoMuted: true}
	for _, t := range p.tracks {
		if t.bound() == nil {
			continue
		}
		if t.kind == webrtcAudio {
			info.AudioMuted = false
		} else {
			info.VideoMuted = false
		}
	}
	return StreamMetadata{p.streamID: info}
}
