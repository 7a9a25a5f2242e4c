package e2ee

import (
	"encoding/json"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// sessionKey names our part in one call's key exchange: the call and the
// dialect of our membership there (Presence keeps one per call and dialect).
type sessionKey struct {
	call    membership.CallKey
	dialect membership.Dialect
}

// device is one member device, whatever membership it holds.
type device struct {
	user   id.UserID
	device id.DeviceID
}

func deviceOfMember(m membership.Member) device { return device{m.UserID, m.DeviceID} }

// ownKey is a key we made for one session.
type ownKey struct {
	index int
	bytes []byte
	made  time.Time
}

// session is our key state in one call while our membership is in it.
// Owned by the Exchange's Run goroutine.
type session struct {
	key     sessionKey
	self    membership.Member
	timings Timings

	latest ownKey // the newest key we made
	inUse  int    // the index we encrypt with
	// shared are the member devices latest was sent to, with the
	// membership they had then (a changed membership is a re-join).
	shared map[device]membership.Member

	useAt    time.Time // when latest becomes inUse (zero: nothing pending)
	rotateAt time.Time // when a leave's new key is due (zero: none)
	retryAt  time.Time // when failed sends are repeated (zero: none)
	retry    map[device]struct{}
	attempts map[device]int
}

// nextDeadline is the session's earliest pending timer.
func (s *session) nextDeadline() (time.Time, bool) {
	var next time.Time
	for _, at := range []time.Time{s.useAt, s.rotateAt, s.retryAt} {
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next, !next.IsZero()
}

// peerOf says whether m is another device in s's call that speaks s's
// dialect: Famedly sessions pair with Famedly members of the same call;
// MatrixRTC sessions with session-format members of the same call and with
// sticky members of the same room, application and call id (sticky
// memberships have no scope).
func (s *session) peerOf(m membership.Member) bool {
	if deviceOfMember(m) == deviceOfMember(s.self) {
		return false
	}
	c := s.key.call
	switch s.key.dialect {
	case membership.DialectFamedly:
		return m.Dialect == membership.DialectFamedly && m.Call == c
	case membership.DialectMatrixRTC:
		return (m.Dialect == membership.DialectMatrixRTC && m.Call == c) ||
			(m.Dialect == membership.DialectRTCSticky && m.Call.Room == c.Room &&
				m.Call.Application == c.Application && m.Call.CallID == c.CallID)
	}
	return false
}

// rejoined: the device published a new membership (new id, or for
// MatrixRTC a new created_ts), so it probably lost our key.
func rejoined(old, now membership.Member) bool {
	return old.MembershipID != now.MembershipID || old.Dialect != now.Dialect ||
		(now.Dialect != membership.DialectFamedly && !old.CreatedAt.Equal(now.CreatedAt))
}

// peers are the member devices of s's call we exchange keys with.
func (x *Exchange) peers(s *session) map[device]membership.Member {
	out := map[device]membership.Member{}
	calls := []membership.CallKey{s.key.call}
	if s.key.dialect == membership.DialectMatrixRTC && s.key.call.Scope != "" {
		sticky := s.key.call
		sticky.Scope = ""
		calls = append(calls, sticky)
	}
	for _, c := range calls {
		for _, m := range x.calls[c] {
			if s.peerOf(m) {
				out[deviceOfMember(m)] = m
			}
		}
	}
	return out
}

// startSession begins our exchange in the call of our membership m: a
// first key, used at once, to every member; Famedly members are also asked
// for their keys, since the SDK does not send them to a newcomer.
func (x *Exchange) startSession(m membership.Member, now time.Time) {
	k := sessionKey{m.Call, m.Dialect}
	t := *x.opts.MatrixRTC
	if m.Dialect == membership.DialectFamedly {
		t = *x.opts.Famedly
	}
	s := &session{key: k, self: m, timings: t, shared: map[device]membership.Member{},
		retry: map[device]struct{}{}, attempts: map[device]int{}}
	x.sessions[k] = s
	x.log.Info("joining the key exchange", "room", m.Call.Room, "call_id", m.Call.CallID, "dialect", m.Dialect)
	if !x.newKey(s, now, true) {
		return
	}
	peers := x.peers(s)
	x.sendKey(s, peers, now)
	if k.dialect == membership.DialectFamedly {
		x.sendRequests(s, peers)
	}
}

// endSession stops our exchange in a call we left.
func (x *Exchange) endSession(s *session) {
	delete(x.sessions, s.key)
	x.store.Forget(ParticipantOf(s.self))
	x.log.Info("left the key exchange", "room", s.key.call.Room, "call_id", s.key.call.CallID, "dialect", s.key.dialect)
}

// reconcile compares the call's members with those that have our latest
// key: leavers schedule a rotation (after the dialect's delay); joiners get
// the latest key while it is fresh, or a new key goes to everyone.
func (x *Exchange) reconcile(s *session, now time.Time) {
	peers := x.peers(s)
	for d := range s.shared {
		if _, ok := peers[d]; !ok {
			delete(s.shared, d)
			delete(s.retry, d)
			delete(s.attempts, d)
			s.rotateAt = now.Add(s.timings.RotateDelay)
		}
	}
	joiners := map[device]membership.Member{}
	for d, m := range peers {
		if old, ok := s.shared[d]; !ok || rejoined(old, m) {
			joiners[d] = m
		}
	}
	if len(joiners) == 0 {
		return
	}
	if now.Sub(s.latest.made) < s.timings.ReuseFor {
		x.sendKey(s, joiners, now)
		return
	}
	x.rotate(s, now)
}

// rotate makes a new key, sends it to every member and schedules its use.
// Any pending leave rotation is satisfied by it.
func (x *Exchange) rotate(s *session, now time.Time) {
	if !x.newKey(s, now, false) {
		return
	}
	s.rotateAt = time.Time{}
	clear(s.shared)
	clear(s.retry)
	clear(s.attempts)
	s.retryAt = time.Time{}
	x.sendKey(s, x.peers(s), now)
}

// newKey replaces s.latest; the first key of a session is used at once,
// later ones after the use delay.
func (x *Exchange) newKey(s *session, now time.Time, first bool) bool {
	b, err := NewKey(s.key.dialect)
	if err != nil {
		x.log.Error("cannot make a key", "dialect", s.key.dialect, "err", err)
		return false
	}
	index := 0
	if !first {
		index = NextIndex(s.key.dialect, s.latest.index)
	}
	s.latest = ownKey{index: index, bytes: b, made: now}
	if first {
		x.useLatest(s, now)
	} else {
		s.useAt = now.Add(s.timings.UseDelay)
	}
	return true
}

// useLatest switches our sending key to the latest one, publishing it in
// the store under our own participant for the engines.
func (x *Exchange) useLatest(s *session, now time.Time) {
	s.inUse = s.latest.index
	s.useAt = time.Time{}
	if err := x.store.Set(ParticipantOf(s.self), s.latest.index, s.latest.bytes, now); err != nil {
		x.log.Error("cannot store our key", "err", err)
	}
}

// due runs s's timers that have come.
func (x *Exchange) due(s *session, now time.Time) {
	if !s.useAt.IsZero() && !now.Before(s.useAt) {
		x.useLatest(s, now)
	}
	if !s.rotateAt.IsZero() && !now.Before(s.rotateAt) {
		x.rotate(s, now)
	}
	if !s.retryAt.IsZero() && !now.Before(s.retryAt) {
		s.retryAt = time.Time{}
		peers := x.peers(s)
		to := map[device]membership.Member{}
		for d := range s.retry {
			if m, ok := peers[d]; ok {
				to[d] = m
			}
		}
		clear(s.retry)
		x.sendKey(s, to, now)
	}
}

// sendKey queues our latest key for the given member devices and records
// them as having it.
func (x *Exchange) sendKey(s *session, to map[device]membership.Member, now time.Time) {
	if len(to) == 0 {
		return
	}
	ev := KeyEvent{Dialect: s.key.dialect, Call: s.key.call, DeviceID: s.self.DeviceID,
		Keys: []Key{{Index: s.latest.index, Bytes: s.latest.bytes}}}
	types := x.opts.FamedlyEventTypes
	build := BuildFamedlyKeys
	if s.key.dialect == membership.DialectMatrixRTC {
		types = []string{MatrixRTCKeysEventType}
		build = BuildMatrixRTCKeys
		ev.MemberID = s.self.MembershipID
		if ev.MemberID == "" {
			ev.MemberID = s.self.Identity()
		}
		ev.SentAt = now
	}
	content, err := build(ev)
	if err != nil {
		x.log.Error("cannot build our key event", "dialect", s.key.dialect, "err", err)
		return
	}
	for d, m := range to {
		s.shared[d] = m
	}
	x.queue(s, types, to, content, false)
}

// sendRequests asks the given Famedly members for their keys.
func (x *Exchange) sendRequests(s *session, to map[device]membership.Member) {
	if len(to) == 0 {
		return
	}
	content, err := BuildFamedlyKeyRequest(KeyRequest{Call: s.key.call, DeviceID: s.self.DeviceID})
	if err != nil {
		x.log.Error("cannot build a key request", "err", err)
		return
	}
	var types []string
	for _, t := range x.opts.FamedlyEventTypes {
		switch t {
		case FamedlyKeysEventType:
			types = append(types, FamedlyKeyRequestEventType)
		case FamedlyKeysEventTypeAlias:
			types = append(types, FamedlyKeyRequestEventTypeAlias)
		}
	}
	x.queue(s, types, to, content, true)
}

func (x *Exchange) queue(s *session, types []string, to map[device]membership.Member, content []byte, request bool) {
	recipients := map[id.UserID][]id.DeviceID{}
	for d := range to {
		recipients[d.user] = append(recipients[d.user], d.device)
	}
	for _, t := range types {
		x.sender.enqueue(sendJob{session: s.key, evtType: t, to: recipients, content: json.RawMessage(content), request: request})
	}
}

// onResult schedules a repeat of a failed key send to the devices that are
// still members, at most Retries times per device and key.
func (x *Exchange) onResult(r sendResult) {
	s := x.sessions[r.job.session]
	if s == nil || r.job.request {
		return
	}
	now := x.clock.Now()
	for user, devs := range r.job.to {
		for _, dev := range devs {
			d := device{user, dev}
			if _, member := s.shared[d]; !member {
				continue
			}
			if _, pending := s.retry[d]; pending {
				continue
			}
			if s.attempts[d]++; s.attempts[d] > x.opts.Retries {
				x.log.Warn("giving up sending our key", "room", s.key.call.Room, "user", user, "device", dev)
				continue
			}
			s.retry[d] = struct{}{}
			if s.retryAt.IsZero() {
				s.retryAt = now.Add(x.opts.RetryDelay)
			}
		}
	}
}
