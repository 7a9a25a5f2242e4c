package e2ee

import (
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// Transport is what the to-device layer knows about how an event arrived.
type Transport struct {
	// Sender is the to-device sender. For Olm events the crypto layer has
	// checked it against the sender inside the Olm plaintext.
	Sender id.UserID
	// Encrypted: the event arrived as m.room.encrypted and Olm decrypted it.
	Encrypted bool
	// SenderDevice is the device that owns the Olm session's sender key, as
	// the crypto store knows it; "" when unknown or not encrypted.
	SenderDevice id.DeviceID
	// RoomEncrypted: the room the content names has m.room.encryption.
	RoomEncrypted bool
}

// Members is the membership view validation needs. MemberIndex implements
// it from the tracker's changes.
type Members interface {
	// DeviceMembers returns the live memberships of one device in a room,
	// of every call and dialect.
	DeviceMembers(room id.RoomID, user id.UserID, device id.DeviceID) []membership.Member
}

// Clock is the time source of the Validator and KeyStore; membership.SystemClock fits.
type Clock interface{ Now() time.Time }

// Accepted is a key event that passed every check, attributed to the
// membership it matched.
type Accepted struct {
	Participant Participant
	Member      membership.Member
	Keys        []Key
	ArrivedAt   time.Time // when the event arrived, also for events that were held
}

// Result is what one step of the Validator decided. Any step can settle
// events held earlier, so each returns all three.
type Result struct {
	Accepted []Accepted
	Refused  []Refusal
	Held     int // events this step put on hold (a re-checked event still waiting counts again)
}

func (r *Result) add(o Result) {
	r.Accepted = append(r.Accepted, o.Accepted...)
	r.Refused = append(r.Refused, o.Refused...)
	r.Held += o.Held
}

// ValidatorOptions are the Validator's knobs; the zero value gives defaults.
type ValidatorOptions struct {
	// RefusePlaintext refuses unencrypted key events in unencrypted rooms
	// too. Unencrypted events are always refused in encrypted rooms.
	RefusePlaintext  bool
	HoldFor          time.Duration // how long keys wait for a membership; default 60 s
	MaxHeld          int           // events held at once; default 256
	MaxHeldPerDevice int           // events held per sending device; default 4
}

// Default hold bounds.
const (
	DefaultHoldFor          = 60 * time.Second
	DefaultMaxHeld          = 256
	DefaultMaxHeldPerDevice = 4
)

// Validator decides which received keys to use. It is stricter than both
// SDKs (famedly-voip.md 2.4, matrixrtc-js.md 3.4): a key counts only if it
// came Olm-encrypted (plaintext only in unencrypted rooms, if allowed), from
// the device the content claims, and that device has a live membership in
// the room and call the content names. Keys that arrive before the
// membership are held (bounded in time and count) and settled by
// MembershipChanged or Expire.
//
// Concurrency: not safe for concurrent use; one goroutine (the e2ee owner)
// calls every method.
type Validator struct {
	members Members
	clock   Clock
	opts    ValidatorOptions
	hold    holdBuffer
}

// NewValidator returns a validator consulting members. A nil clock is the
// system clock.
func NewValidator(members Members, clock Clock, opts ValidatorOptions) *Validator {
	if clock == nil {
		clock = membership.SystemClock{}
	}
	if opts.HoldFor <= 0 {
		opts.HoldFor = DefaultHoldFor
	}
	if opts.MaxHeld <= 0 {
		opts.MaxHeld = DefaultMaxHeld
	}
	if opts.MaxHeldPerDevice <= 0 {
		opts.MaxHeldPerDevice = DefaultMaxHeldPerDevice
	}
	return &Validator{
		members: members, clock: clock, opts: opts,
		hold: holdBuffer{ttl: opts.HoldFor, max: opts.MaxHeld, perDevice: opts.MaxHeldPerDevice},
	}
}

// Receive parses a to-device key event of either dialect and validates it;
// content that does not parse is refused as ReasonMalformed.
func (v *Validator) Receive(eventType string, content []byte, tr Transport) Result {
	ev, err := ParseKeyEvent(eventType, content)
	if err != nil {
		res := v.Expire()
		d, _, _ := DialectOfEventType(eventType)
		r := refusalOf(KeyEvent{Dialect: d}, tr.Sender, ReasonMalformed, v.clock.Now(), err.Error())
		res.Refused = append(res.Refused, r)
		return res
	}
	return v.Validate(ev, tr)
}

// Validate checks a parsed key event. It first settles held events that
// timed out.
func (v *Validator) Validate(ev KeyEvent, tr Transport) Result {
	res := v.Expire()
	now := v.clock.Now()
	if reason, detail := v.checkTransport(ev.DeviceID, tr); reason != ReasonUnknown {
		res.Refused = append(res.Refused, refusalOf(ev, tr.Sender, reason, now, detail))
		return res
	}
	if m, ok := v.lookup(ev.Dialect, ev.Call, ev.MemberID, tr.Sender, ev.DeviceID, now); ok {
		res.Accepted = append(res.Accepted, accept(ev, m, now))
		return res
	}
	res.add(v.holdOn(held{ev: ev, tr: tr, arrived: now}))
	return res
}

// MembershipChanged re-checks the events held for m's device in m's room;
// call it whenever a membership appears or changes.
func (v *Validator) MembershipChanged(m membership.Member) Result {
	res := v.Expire()
	now := v.clock.Now()
	for _, h := range v.hold.take(m.Call.Room, m.UserID, m.DeviceID) {
		if mm, ok := v.lookup(h.ev.Dialect, h.ev.Call, h.ev.MemberID, h.tr.Sender, h.ev.DeviceID, now); ok {
			res.Accepted = append(res.Accepted, accept(h.ev, mm, h.arrived))
			continue
		}
		res.add(v.holdOn(h)) // the device's membership is for another call or dialect
	}
	return res
}

// holdOn holds h, refusing whatever the bounds push out (h itself included).
func (v *Validator) holdOn(h held) Result {
	var res Result
	dropped, ok := v.hold.add(h)
	if ok {
		res.Held++
	} else {
		dropped = append(dropped, h)
	}
	now := v.clock.Now()
	for _, d := range dropped {
		detail := fmt.Sprintf("held since %s; at most %d events, %d per device", d.arrived.Format(time.RFC3339), v.opts.MaxHeld, v.opts.MaxHeldPerDevice)
		res.Refused = append(res.Refused, refusalOf(d.ev, d.tr.Sender, ReasonHoldFull, now, detail))
	}
	return res
}

// Expire refuses the held events whose membership did not appear in time.
func (v *Validator) Expire() Result {
	var res Result
	now := v.clock.Now()
	for _, h := range v.hold.expire(now) {
		detail := fmt.Sprintf("no membership within %v", v.opts.HoldFor)
		res.Refused = append(res.Refused, refusalOf(h.ev, h.tr.Sender, ReasonNoMembership, now, detail))
	}
	return res
}

// NextExpiry is when Expire next has something to do, for the owner's timer.
func (v *Validator) NextExpiry() (time.Time, bool) { return v.hold.next() }

// Held is the number of events waiting for a membership.
func (v *Validator) Held() int { return len(v.hold.items) }

// CheckRequest checks a key request like a key event, except that a request
// without a membership is refused at once: there is nothing worth holding.
// On success it returns the requester's membership.
func (v *Validator) CheckRequest(req KeyRequest, tr Transport) (membership.Member, Refusal, bool) {
	now := v.clock.Now()
	ev := KeyEvent{Dialect: membership.DialectFamedly, Call: req.Call, DeviceID: req.DeviceID}
	reason, detail := v.checkTransport(req.DeviceID, tr)
	if reason == ReasonUnknown {
		if m, ok := v.lookup(ev.Dialect, ev.Call, "", tr.Sender, ev.DeviceID, now); ok {
			return m, Refusal{}, true
		}
		reason = ReasonNoMembership
	}
	r := refusalOf(ev, tr.Sender, reason, now, detail)
	r.Request = true
	return membership.Member{}, r, false
}

// checkTransport applies the encryption and device checks.
func (v *Validator) checkTransport(claimed id.DeviceID, tr Transport) (Reason, string) {
	switch {
	case tr.Sender == "":
		return ReasonMalformed, "no sender"
	case !tr.Encrypted && tr.RoomEncrypted:
		return ReasonPlaintext, "unencrypted key event for an encrypted room"
	case !tr.Encrypted && v.opts.RefusePlaintext:
		return ReasonPlaintext, "unencrypted key events are refused"
	case !tr.Encrypted:
		return ReasonUnknown, ""
	case tr.SenderDevice == "":
		return ReasonUnknownSenderDevice, ""
	case tr.SenderDevice != claimed:
		return ReasonDeviceMismatch, fmt.Sprintf("olm sender device %s", tr.SenderDevice)
	}
	return ReasonUnknown, ""
}

// lookup finds the live membership a key event of dialect d for call,
// from user's device, belongs to. Famedly keys name the call by room and
// conf_id only. MatrixRTC keys match session or sticky memberships of the
// same room, application and call id (sticky ones have no scope), and for a
// sticky membership the content's member id must be the membership's,
// since the LiveKit identity is derived from it.
func (v *Validator) lookup(d membership.Dialect, call membership.CallKey, memberID string, user id.UserID, device id.DeviceID, now time.Time) (membership.Member, bool) {
	if v.members == nil {
		return membership.Member{}, false
	}
	for _, m := range v.members.DeviceMembers(call.Room, user, device) {
		if m.UserID != user || m.DeviceID != device || m.Call.Room != call.Room || m.Call.CallID != call.CallID ||
			(!m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt)) {
			continue
		}
		switch {
		case d == membership.DialectFamedly && m.Dialect == membership.DialectFamedly:
			return m, true
		case d != membership.DialectMatrixRTC || m.Call.Application != call.Application:
		case m.Dialect == membership.DialectMatrixRTC && m.Call.Scope == call.Scope:
			return m, true
		case m.Dialect == membership.DialectRTCSticky && m.MembershipID == memberID:
			return m, true
		}
	}
	return membership.Member{}, false
}

func accept(ev KeyEvent, m membership.Member, arrived time.Time) Accepted {
	return Accepted{Participant: ParticipantOf(m), Member: m, Keys: ev.Keys, ArrivedAt: arrived}
}
