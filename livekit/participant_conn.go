package livekit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/membership"
)

// connectTimeout bounds joining the room once we have a token.
const connectTimeout = 10 * time.Second

// conn is one connection of the participant to a LiveKit room. Everything
// but the readers' WaitGroup and the event queue belongs to run.
type conn struct {
	room    *lksdk.Room
	join    Join
	sif     []byte
	events  *queue[lkEvent]
	readers sync.WaitGroup
	remotes map[string]struct{}        // identities in the room
	tracks  map[*output]publishedTrack // our outputs published on this connection
	pli     map[string]func()          // by remote track id: ask its sender for a key frame
	sources []*reader                  // remote tracks read (some may have ended)
}

// publishedTrack is an output's track on one connection.
type publishedTrack struct {
	track *lksdk.LocalTrack
	sid   string
}

// lkEvent is an lksdk callback, forwarded to run.
type lkEvent struct {
	kind     lkEventKind
	identity string
	track    *webrtc.TrackRemote
	pub      *lksdk.RemoteTrackPublication
	rp       *lksdk.RemoteParticipant
	reason   string
}

type lkEventKind uint8

const (
	evTrack lkEventKind = iota + 1
	evJoined
	evLeft
	evDisconnected
	evReconnecting
	evReconnected
)

// errDisconnected: LiveKit ended our session (lksdk gave up resuming it).
var errDisconnected = errors.New("livekit: disconnected")

// connect gets a token for focus and joins the room.
func (p *participant) connect(focus membership.Focus) (*conn, error) {
	tctx, cancel := context.WithTimeout(p.ctx, p.e.cfg.TokenTimeout)
	join, err := p.e.tokens.Token(tctx, p.call, focus)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	p.mu.Lock()
	p.st.lkRoom, p.st.identity = join.Room, join.Identity
	p.mu.Unlock()
	c := &conn{join: join, events: newQueue[lkEvent](), remotes: map[string]struct{}{}, tracks: map[*output]publishedTrack{}, pli: map[string]func(){}}
	room := lksdk.NewRoom(c.callbacks())
	// p.ctx, not a timeout: lksdk keeps this context for its own reconnects.
	if err := room.JoinWithContextAndToken(p.ctx, join.URL, join.Token,
		lksdk.WithAutoSubscribe(true), lksdk.WithConnectTimeout(connectTimeout),
		lksdk.WithLogger(sdkLogger(p.log.With("livekit_room", join.Room)))); err != nil {
		room.Disconnect()
		return nil, fmt.Errorf("join %s at %s: %w", join.Room, join.URL, err)
	}
	c.room = room
	c.sif = room.SifTrailer()
	for _, rp := range room.GetRemoteParticipants() {
		c.remotes[rp.Identity()] = struct{}{}
	}
	p.setState(StateConnected, "")
	p.log.Info("joined LiveKit", "livekit_room", join.Room, "identity", join.Identity)
	return c, nil
}

// callbacks forward lksdk's events to run; they never block.
func (c *conn) callbacks() *lksdk.RoomCallback {
	post := func(ev lkEvent) { c.events.push(ev) }
	return &lksdk.RoomCallback{
		OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) {
			post(lkEvent{kind: evDisconnected, reason: string(r)})
		},
		OnParticipantConnected:    func(rp *lksdk.RemoteParticipant) { post(lkEvent{kind: evJoined, identity: rp.Identity()}) },
		OnParticipantDisconnected: func(rp *lksdk.RemoteParticipant) { post(lkEvent{kind: evLeft, identity: rp.Identity()}) },
		OnReconnecting:            func() { post(lkEvent{kind: evReconnecting}) },
		OnReconnected:             func() { post(lkEvent{kind: evReconnected}) },
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: func(t *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
				post(lkEvent{kind: evTrack, identity: rp.Identity(), track: t, pub: pub, rp: rp})
			},
		},
	}
}

// close leaves the room and waits for the track readers, which end when
// their tracks do.
func (c *conn) close() {
	for o := range c.tracks {
		o.detach(c)
	}
	c.room.Disconnect()
	c.readers.Wait()
}

// serve runs one connected session until it ends: disconnected, moved to
// another focus, or stopped.
func (p *participant) serve(c *conn, sub *e2ee.Subscription, focus *membership.Focus) error {
	p.mu.Lock()
	outs := append([]*output(nil), p.outputs...)
	p.mu.Unlock()
	for _, o := range outs {
		p.publishOn(c, o)
	}
	for {
		select {
		case <-p.ctx.Done():
			return p.ctx.Err()
		case f := <-p.focus:
			if f != *focus {
				p.moveTo(f, focus)
				return errFocusMoved
			}
		case <-sub.Ready():
			p.applyKeys(sub)
		case <-p.inbox.ready:
			p.applyFeatures(c)
		case <-p.publish.ready:
			for _, o := range p.publish.take() {
				p.publishOn(c, o)
			}
		case <-p.keyFrame.ready:
			for _, id := range p.keyFrame.take() {
				if ask := c.pli[id]; ask != nil {
					ask()
				}
			}
		case <-c.events.ready:
			for _, ev := range c.events.take() {
				if err := p.handle(c, ev); err != nil {
					return err
				}
			}
		}
	}
}

// handle acts on one lksdk event.
func (p *participant) handle(c *conn, ev lkEvent) error {
	switch ev.kind {
	case evTrack:
		p.subscribed(c, ev.identity, ev.track, ev.pub)
		if ev.track.Kind() == webrtc.RTPCodecTypeVideo {
			rp, ssrc := ev.rp, ev.track.SSRC()
			c.pli[ev.pub.SID()] = func() { rp.WritePLI(ssrc) }
		}
	case evJoined:
		c.remotes[ev.identity] = struct{}{}
		p.updatePermissions(c, nil)
	case evLeft:
		delete(c.remotes, ev.identity)
		p.updatePermissions(c, nil)
	case evReconnecting:
		p.setState(StateReconnecting, "LiveKit connection interrupted")
	case evReconnected:
		p.setState(StateConnected, "")
		p.refreshTracks(c)
	case evDisconnected:
		return fmt.Errorf("%w: %s", errDisconnected, ev.reason)
	}
	return nil
}
