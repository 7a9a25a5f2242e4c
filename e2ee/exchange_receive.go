package e2ee

import (
	"context"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/membership"
)

// onChange applies one tracker change: the member index and held keys
// first, then our own sessions (ours started or ended) or, for anyone
// else, the sessions of the call it is in.
func (x *Exchange) onChange(c membership.Change) {
	m := c.Member
	x.index.Apply(c)
	live := c.Kind == membership.Joined || c.Kind == membership.Updated
	members := x.calls[m.Call]
	if live {
		if members == nil {
			members = map[memberKey]membership.Member{}
			x.calls[m.Call] = members
		}
		members[memberKeyOf(m)] = m
		x.settle(x.validator.MembershipChanged(m))
	} else {
		delete(members, memberKeyOf(m))
		if len(members) == 0 {
			delete(x.calls, m.Call)
		}
	}
	now := x.clock.Now()
	user, dev := x.whoAmI()
	if user != "" && m.UserID == user && m.DeviceID == dev {
		if m.Dialect != membership.DialectFamedly && m.Dialect != membership.DialectMatrixRTC {
			return
		}
		s := x.sessions[sessionKey{m.Call, m.Dialect}]
		switch {
		case live && s == nil:
			x.startSession(m, now)
		case live:
			s.self = m
		case s != nil:
			x.endSession(s)
		}
		return
	}
	if !live {
		x.store.Forget(ParticipantOf(m))
	}
	for _, s := range x.sessions {
		if s.peerOf(m) {
			x.reconcile(s, now)
		}
	}
}

// onToDevice validates a received key event into the store, or answers a
// key request. Other to-device events are not ours.
func (x *Exchange) onToDevice(ev matrixbot.Event) {
	if ev.Evt == nil {
		return
	}
	typ := ev.Evt.Type.Type
	_, request, err := DialectOfEventType(typ)
	if err != nil {
		return
	}
	content := ev.Evt.Content.VeryRaw
	tr := Transport{Sender: ev.Sender, Encrypted: ev.Encrypted, SenderDevice: ev.SenderDevice}
	if request {
		x.onRequest(content, tr)
		return
	}
	kev, err := ParseKeyEvent(typ, content)
	if err != nil {
		x.settle(x.validator.Receive(typ, content, tr))
		return
	}
	tr.RoomEncrypted = x.bot.RoomEncrypted(kev.Call.Room)
	x.settle(x.validator.Validate(kev, tr))
}

// onRequest answers a Famedly key request of a valid member of a call we
// are in with our latest key, to the requesting device only.
func (x *Exchange) onRequest(content []byte, tr Transport) {
	now := x.clock.Now()
	req, err := ParseFamedlyKeyRequest(content)
	if err != nil {
		r := refusalOf(KeyEvent{Dialect: membership.DialectFamedly}, tr.Sender, ReasonMalformed, now, err.Error())
		r.Request = true
		x.refuse(r)
		return
	}
	tr.RoomEncrypted = x.bot.RoomEncrypted(req.Call.Room)
	m, r, ok := x.validator.CheckRequest(req, tr)
	if !ok {
		x.refuse(r)
		return
	}
	s := x.sessions[sessionKey{req.Call, membership.DialectFamedly}]
	if s == nil {
		x.log.Debug("key request for a call we are not in", "room", req.Call.Room, "call_id", req.Call.CallID, "user", m.UserID)
		return
	}
	x.sendKey(s, map[device]membership.Member{deviceOfMember(m): m}, now)
}

// settle stores accepted keys and records refusals.
func (x *Exchange) settle(res Result) {
	for _, a := range res.Accepted {
		if err := x.store.Accept(a); err != nil {
			x.log.Warn("cannot store a received key", "identity", a.Participant.Identity, "err", err)
			continue
		}
		x.opts.Metrics.accepted(a.Member.Dialect)
		// indices only: a JSON log handler would marshal a Key's bytes
		indices := make([]int, len(a.Keys))
		for i, k := range a.Keys {
			indices[i] = k.Index
		}
		x.log.Debug("key received", "room", a.Participant.Call.Room, "identity", a.Participant.Identity, "indices", indices)
	}
	for _, r := range res.Refused {
		x.refuse(r)
	}
	if res.Held > 0 {
		x.log.Debug("key held until its sender's membership appears", "held", x.validator.Held())
	}
}

func (x *Exchange) refuse(r Refusal) {
	x.log.Warn("key event refused", "reason", r.Reason, "user", r.UserID, "device", r.DeviceID, "room", r.Room, "detail", r.Error())
	x.store.RecordRefusal(r)
	x.opts.Metrics.refused(r)
}

// resync re-reads every membership after the tracker dropped changes this
// exchange was too slow to take: members gone since leave, the rest are
// applied again (idempotent).
func (x *Exchange) resync(ctx context.Context) {
	snapshot, err := x.members.Snapshot(ctx)
	if err != nil {
		return // the tracker or ctx ended: Run ends too
	}
	now := x.clock.Now()
	type callMember struct {
		call membership.CallKey
		key  memberKey
	}
	live := make(map[callMember]bool, len(snapshot))
	for _, m := range snapshot {
		live[callMember{m.Call, memberKeyOf(m)}] = true
	}
	var gone []membership.Member
	for call, members := range x.calls {
		for k, m := range members {
			if !live[callMember{call, k}] {
				gone = append(gone, m)
			}
		}
	}
	for _, m := range gone {
		x.onChange(membership.Change{Kind: membership.Left, Member: m, At: now})
	}
	for _, m := range snapshot {
		x.onChange(membership.Change{Kind: membership.Updated, Member: m, At: now})
	}
}
