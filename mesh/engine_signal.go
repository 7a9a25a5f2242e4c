package mesh

import (
	"slices"
	"time"
)

// view is the call's state as Check reads it.
func (c *meshCall) view() View {
	return View{
		UserID: c.self.UserID, DeviceID: c.self.DeviceID,
		PartyID: c.self.SessionID, SessionID: c.self.SessionID,
		RoomID: string(c.key.Room), ConfID: c.key.CallID,
		InGroupCall: c.self.SessionID != "",
		Call: func(callID string) (KnownCall, bool) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, pe := range c.peers {
				if ended, ok := pe.hasCall(callID); ok {
					return KnownCall{RemoteUserID: pe.remote.UserID, RemoteDeviceID: pe.remote.DeviceID,
						RemoteSessionID: pe.remote.SessionID, Ended: ended}, true
				}
			}
			return KnownCall{}, false
		},
		Member: func(user, device, session string) Membership {
			if !c.known {
				return MembershipUnknown
			}
			for _, m := range c.members {
				if string(m.UserID) == user && (device == "" || string(m.DeviceID) == device) &&
					m.MembershipID == session {
					return Member
				}
			}
			return NotMember
		},
	}
}

// handle checks a signal (reference §4.5) and acts on it: an invite makes
// (or replaces) the sender's peer, which answers it; other signals go to
// the peer of their call. A signal whose sender's membership we cannot
// read or do not see yet is held and checked again as members change:
// unknown is not absent, and a membership may reach us after its invite.
func (c *meshCall) handle(in Incoming, now time.Time) {
	if c.self.SessionID == "" {
		c.hold(in, now)
		return
	}
	v := Check(c.view(), in)
	switch v {
	case Accept, Hold:
		c.deliver(in, v)
	case Retry, IgnoreNotMember:
		c.hold(in, now)
	default:
		c.log.Info("mesh: call event ignored", "verdict", v, "kind", in.Signal.Kind(), "sender", in.Sender,
			"device", in.SenderDevice)
	}
}

func (c *meshCall) deliver(in Incoming, v Verdict) {
	s := in.Signal
	device := in.SenderDevice
	if inv, ok := s.Body.(*Invite); ok && device == "" {
		device = inv.DeviceID
	}
	c.mu.Lock()
	if device == "" {
		// A plain event names no device: the sender's peer of that
		// session is its.
		for _, x := range c.peers {
			if x.remote.UserID == in.Sender && x.remote.SessionID == s.Group.SenderSessionID {
				device = x.remote.DeviceID
			}
		}
	}
	key := PeerKey(in.Sender, device)
	pe := c.peers[key]
	c.mu.Unlock()
	if _, ok := s.Body.(*Invite); ok {
		created := false
		if pe == nil || pe.remote.SessionID != s.Group.SenderSessionID || pe.isEnded() {
			created = true
			// A new session of the device, a device we had no peer for,
			// or one whose last call has just ended: its invite makes
			// the peer.
			pe = c.startPeer(Device{UserID: in.Sender, DeviceID: device, SessionID: s.Group.SenderSessionID}, RoleAnswer)
			if pe == nil {
				return
			}
		}
		// An invite of the device we call crosses ours: the peer
		// rejects it (MeshGlare), so it never becomes the peer's call.
		if created || !Places(c.self.Key(), key) {
			pe.noteCall(s.Call.CallID)
		}
	}
	if pe == nil || pe.remote.SessionID != s.Group.SenderSessionID {
		if v == Hold {
			c.hold(in, time.Now())
		}
		return
	}
	if err := pe.peer.Deliver(s); err != nil {
		c.log.Warn("mesh: signal not delivered", "kind", s.Kind(), "peer", key, "err", err)
	}
	switch s.Kind() {
	case KindInvite:
		c.releaseHeld(in.Sender)
	case KindHangup, KindReject:
		// The peer ends its call on it, and takes nothing after: an
		// invite right behind it must make a new peer.
		pe.endedBy(s.Call.CallID)
	}
}

// releaseHeld checks again the held candidates of sender, whose invite
// has just made its call known.
func (c *meshCall) releaseHeld(sender string) {
	var again []heldSignal
	c.held = slices.DeleteFunc(c.held, func(h heldSignal) bool {
		if h.in.Sender == sender && h.in.Signal.Kind() == KindCandidates {
			again = append(again, h)
			return true
		}
		return false
	})
	for _, h := range again {
		c.handle(h.in, h.at)
	}
}

// hold keeps a signal to check again later (bounded; the oldest goes).
func (c *meshCall) hold(in Incoming, now time.Time) {
	if len(c.held) >= maxHeld {
		c.log.Warn("mesh: held call event dropped", "kind", c.held[0].in.Signal.Kind(), "sender", c.held[0].in.Sender)
		c.held = c.held[1:]
	}
	c.held = append(c.held, heldSignal{in: in, at: now})
}

// retryHeld checks the held signals again, in order; those held too long
// are dropped, logged.
func (c *meshCall) retryHeld() {
	held := c.held
	c.held = nil
	now := time.Now()
	for _, h := range held {
		if now.Sub(h.at) > heldFor {
			c.log.Info("mesh: call event dropped: the sender's membership was not seen", "kind", h.in.Signal.Kind(),
				"sender", h.in.Sender, "device", h.in.SenderDevice)
			continue
		}
		c.handle(h.in, h.at)
	}
}
