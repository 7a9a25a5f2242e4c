package mesh

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// Owner timings of a carried call.
const (
	// heldFor is how long a signal whose sender's membership we cannot
	// read (yet) is kept and checked again on each membership change.
	heldFor = 30 * time.Second
	maxHeld = 256
	// recallAfter is how long after a call we placed ended we call a
	// device that is still a member again.
	recallAfter = 2 * time.Second
	inboxCap    = 256
)

// meshCall is one carried call. Its goroutine (run) owns the peers and the
// features; the engine, the peers' callbacks and features hand it work
// through channels.
type meshCall struct {
	e   *Engine
	key membership.CallKey
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{} // 1-buffered: read the members again
	inbox  chan Incoming
	events chan func()
	done   chan struct{}

	// run's
	self    Device // SessionID "" until our membership is seen
	members []membership.Member
	known   bool // members read at least once
	held    []heldSignal
	recall  *time.Timer
	feats   *media.FeatureSet // the owner's (Running and Report: anyone's)
	peerWG  sync.WaitGroup

	media callMedia

	mu           sync.Mutex // guards peers (read by Publish, snapshots) and shownSession
	peers        map[string]*peerEntry
	shownSession string // self.SessionID for snapshots
}

type heldSignal struct {
	in Incoming
	at time.Time
}

// peerEntry is one remote device's peer.
type peerEntry struct {
	remote Device
	peer   *Peer
	placed bool // we call (Places)

	mu      sync.Mutex
	callIDs []string // the calls this peer carried: ours sent, theirs taken
	ended   bool
}

func (pe *peerEntry) noteCall(id string) {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	if !slices.Contains(pe.callIDs, id) {
		pe.callIDs = append(pe.callIDs, id)
		if len(pe.callIDs) > 8 {
			pe.callIDs = pe.callIDs[1:]
		}
	}
}

func (pe *peerEntry) isEnded() bool {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.ended
}

// endedBy marks the peer ended when callID is its current call.
func (pe *peerEntry) endedBy(callID string) {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	if n := len(pe.callIDs); n > 0 && pe.callIDs[n-1] == callID {
		pe.ended = true
	}
}

func (pe *peerEntry) hasCall(id string) (ended, ok bool) {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.ended, slices.Contains(pe.callIDs, id)
}

func newMeshCall(e *Engine, key membership.CallKey) *meshCall {
	ctx, cancel := context.WithCancel(context.Background())
	c := &meshCall{
		e: e, key: key, ctx: ctx, cancel: cancel,
		log:    e.log.With("room", key.Room, "conf_id", key.CallID),
		kick:   make(chan struct{}, 1),
		inbox:  make(chan Incoming, inboxCap),
		events: make(chan func(), 64),
		done:   make(chan struct{}),
		peers:  map[string]*peerEntry{},
	}
	c.media.c, c.media.metrics = c, e.cfg.Metrics
	c.feats = media.NewFeatureSet(&c.media, &c.media, c.log)
	c.poke()
	return c
}

func (c *meshCall) stop() { c.cancel() }

func (c *meshCall) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// post hands f to the owner; false once the call has ended.
func (c *meshCall) post(f func()) bool {
	select {
	case c.events <- f:
		return true
	case <-c.done:
		return false
	case <-c.ctx.Done():
		return false
	}
}

// receive queues a signal for the owner; a full queue drops it, logged.
func (c *meshCall) receive(in Incoming) {
	select {
	case c.inbox <- in:
	default:
		c.log.Warn("mesh: call inbox full, signal dropped", "kind", in.Signal.Kind(), "sender", in.Sender)
	}
}

// run owns the call until it is released or the engine stops.
func (c *meshCall) run(parent context.Context) {
	stopWithParent := context.AfterFunc(parent, c.cancel)
	defer stopWithParent()
	defer close(c.done)
	defer c.shutdown()
	for {
		var recall <-chan time.Time
		if c.recall != nil {
			recall = c.recall.C
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
			c.readMembers()
		case <-recall:
			c.recall = nil
			c.syncPeers()
		case in := <-c.inbox:
			c.handle(in, time.Now())
		case f := <-c.events:
			f()
		}
	}
}

// shutdown hangs every peer up and waits for them (their sources end and
// close their sinks), then closes the features and our outputs.
func (c *meshCall) shutdown() {
	c.mu.Lock()
	for _, pe := range c.peers {
		_ = pe.peer.Close()
	}
	c.mu.Unlock()
	c.peerWG.Wait()
	c.feats.Close()
	c.media.closeOutputs()
}

// readMembers reads the call's members; an error leaves what we knew.
func (c *meshCall) readMembers() {
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	all, err := c.e.members.SnapshotRoom(ctx, c.key.Room)
	if err != nil {
		if c.ctx.Err() == nil {
			c.log.Warn("mesh: members not readable", "err", err)
		}
		return
	}
	var ms []membership.Member
	for _, m := range all {
		if m.Call == c.key {
			ms = append(ms, m)
		}
	}
	c.members, c.known = ms, true
	if c.e.cfg.Self != nil {
		user, device := c.e.cfg.Self()
		session := ""
		for _, m := range ms {
			if m.UserID == user && m.DeviceID == device {
				session = m.MembershipID
			}
		}
		if session != c.self.SessionID && c.self.SessionID != "" {
			c.log.Info("mesh: our membership changed; every peer is called again")
			c.closePeers(func(*peerEntry) bool { return true })
		}
		c.self = Device{UserID: string(user), DeviceID: string(device), SessionID: session}
		c.mu.Lock()
		c.shownSession = session
		c.mu.Unlock()
	}
	c.syncPeers()
	c.retryHeld()
}

// syncPeers makes the peers follow the members: a device that left is
// hung up, one whose membershipID changed is hung up and called again, a
// new one gets a peer (which calls it, or waits for its invite, by
// Places).
func (c *meshCall) syncPeers() {
	if c.self.SessionID == "" {
		return
	}
	want := map[string]Device{}
	for _, m := range c.members {
		d := Device{UserID: string(m.UserID), DeviceID: string(m.DeviceID), SessionID: m.MembershipID}
		if d.Key() == c.self.Key() || d.SessionID == "" {
			continue
		}
		want[d.Key()] = d
	}
	c.closePeers(func(pe *peerEntry) bool {
		d, ok := want[pe.remote.Key()]
		return !ok || d.SessionID != pe.remote.SessionID
	})
	for k, d := range want {
		c.mu.Lock()
		pe := c.peers[k]
		c.mu.Unlock()
		if pe == nil {
			c.startPeer(d, RoleAuto)
		}
	}
}

// closePeers hangs up the peers which match and forgets them.
func (c *meshCall) closePeers(match func(*peerEntry) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, pe := range c.peers {
		if match(pe) {
			c.log.Info("mesh: hanging up", "peer", k, "session", pe.remote.SessionID)
			_ = pe.peer.Close()
			delete(c.peers, k)
		}
	}
}

// startPeer creates and runs the peer of remote (replacing any), its
// signals carried by the transport and its sources offered to the
// features.
func (c *meshCall) startPeer(remote Device, role Role) *peerEntry {
	pe := &peerEntry{remote: remote, placed: role == RoleAuto && Places(c.self.Key(), remote.Key())}
	room := c.key.Room
	var ice ICEConfig
	if c.e.cfg.ICE != nil {
		ice = c.e.cfg.ICE()
	}
	p, err := New(PeerConfig{
		Local: c.self, Remote: remote, RoomID: string(room), ConfID: c.key.CallID,
		Role: role, ICE: ice, Logger: c.log,
		Send: func(ctx context.Context, s Signal) error {
			pe.noteCall(s.Call.CallID)
			typ, content, err := Encode(s)
			if err != nil {
				return err
			}
			return c.e.transport.SendCallEvent(ctx, room, id.UserID(remote.UserID), id.DeviceID(remote.DeviceID),
				typ, content)
		},
		OnSource:   c.media.sourceAdded,
		OnMetadata: func(md StreamMetadata) { c.media.metadataChanged(remote.Key(), md) },
	})
	if err != nil {
		c.log.Error("mesh: peer not created", "peer", remote.Key(), "err", err)
		return nil
	}
	pe.peer = p
	c.mu.Lock()
	if old := c.peers[remote.Key()]; old != nil {
		_ = old.peer.Close()
	}
	c.peers[remote.Key()] = pe
	c.mu.Unlock()
	c.peerWG.Go(func() {
		if err := p.Run(c.ctx); err != nil {
			c.log.Warn("mesh: peer did not start", "peer", remote.Key(), "err", err)
		}
		pe.mu.Lock()
		pe.ended = true
		pe.mu.Unlock()
		c.post(func() { c.peerEnded(pe) })
	})
	c.media.peerAdded(pe)
	return pe
}

// peerEnded forgets an ended peer; a device we call that is still a
// member is called again a little later.
func (c *meshCall) peerEnded(pe *peerEntry) {
	res := pe.peer.Result()
	c.log.Info("mesh: peer ended", "peer", pe.remote.Key(), "reason", res.Reason, "remote", res.Remote)
	c.mu.Lock()
	if c.peers[pe.remote.Key()] == pe {
		delete(c.peers, pe.remote.Key())
	}
	c.mu.Unlock()
	if pe.placed && c.recall == nil {
		c.recall = time.NewTimer(recallAfter)
	}
}
