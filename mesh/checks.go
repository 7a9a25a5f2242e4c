package mesh

// Verdict is the outcome of the receive-side checks: accept, hold, reject,
// retry or one of a bounded set of reasons to ignore the event (for logs
// and metrics). Only Accept, Hold and RejectCall act on the event.
type Verdict uint8

const (
	// Accept: hand the event to its call (an invite creates the call).
	Accept Verdict = iota + 1
	// Hold: candidates for a call we do not know yet, from a current
	// member: keep them (bounded) until the invite arrives, which the
	// SDK's early flushes can overtake (reference §4.7).
	Hold
	// RejectCall: a group invite for another group call than ours; answer
	// it with a reject.
	RejectCall
	// Retry: the sender's membership cannot be read yet; unknown is not
	// absent, so decide again later rather than refuse.
	Retry
	IgnoreWrongRoom       // group event for another room than this view's
	IgnoreWrongSession    // dest_session_id is not our session
	IgnoreOwnDevice       // sent by our own user and device
	IgnoreOwnParty        // carries our own party id
	IgnoreUnknownCall     // not an invite, and no such call
	IgnoreWrongSender     // a known call's event from another user
	IgnoreWrongParty      // a known call's event from another party
	IgnoreStaleSession    // a known call's event from another session of the peer
	IgnoreDuplicateInvite // an invite for a call that exists and has not ended
	IgnoreNotForUs        // an invite naming another invitee or invitee device
	IgnoreNotInGroupCall  // a group invite while we are in no group call
	IgnoreAnswered        // an answer when the call already has its remote party
	IgnoreNotMember       // the sender is not a member of the call with that membership id
)

var verdictNames = [...]string{
	Accept:                "accept",
	Hold:                  "hold",
	RejectCall:            "reject_call",
	Retry:                 "retry",
	IgnoreWrongRoom:       "wrong_room",
	IgnoreWrongSession:    "wrong_session",
	IgnoreOwnDevice:       "own_device",
	IgnoreOwnParty:        "own_party",
	IgnoreUnknownCall:     "unknown_call",
	IgnoreWrongSender:     "wrong_sender",
	IgnoreWrongParty:      "wrong_party",
	IgnoreStaleSession:    "stale_session",
	IgnoreDuplicateInvite: "duplicate_invite",
	IgnoreNotForUs:        "not_for_us",
	IgnoreNotInGroupCall:  "not_in_group_call",
	IgnoreAnswered:        "already_answered",
	IgnoreNotMember:       "not_member",
}

// String is the verdict's stable name (a metrics label).
func (v Verdict) String() string {
	if v >= Accept && int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "invalid"
}

// Membership is what the call's membership says of a sender's session.
type Membership uint8

const (
	// MembershipUnknown: the membership cannot be read (yet).
	MembershipUnknown Membership = iota
	// Member: a current member with that membership id.
	Member
	// NotMember: readable, and no current membership with that id.
	NotMember
)

// KnownCall is what the checks need of a call we have.
type KnownCall struct {
	RemoteUserID    string // "" until known
	RemoteDeviceID  string
	RemotePartyID   string // "" until an answer (or the invite) named it
	RemoteSessionID string // group calls: the peer's membershipID
	Ended           bool
}

// View is the receiver's state the checks read. Its functions must not
// block; they are asked at most once per check.
type View struct {
	UserID    string // ours
	DeviceID  string // ours
	PartyID   string // ours (our membershipID in group calls)
	SessionID string // our membershipID, which group events must name as dest_session_id
	RoomID    string // the room whose events these are
	// InGroupCall says we are in the room's group call ConfID.
	InGroupCall bool
	ConfID      string
	// Call returns the call with that id in this room, if any (nil: no
	// calls).
	Call func(callID string) (KnownCall, bool)
	// Member says whether user's device (device "" when not known) is a
	// member of the group call with membership id session (nil: unknown).
	Member func(user, device, session string) Membership
}

func (v View) call(id string) (KnownCall, bool) {
	if v.Call == nil {
		return KnownCall{}, false
	}
	return v.Call(id)
}

func (v View) member(user, device, session string) Membership {
	if v.Member == nil {
		return MembershipUnknown
	}
	return v.Member(user, device, session)
}

// Incoming is a decoded event and who sent it. SenderDevice is the
// Olm-verified sending device of a to-device event, "" when not known.
type Incoming struct {
	Sender       string
	SenderDevice string
	Signal       Signal
}

// Check applies the SDK's receive-side checks (reference §4.5, mesh
// invites §4.6) and ours (membership of group senders) in order, and says
// what to do with the event. It is pure: it reads v and in only.
func Check(v View, in Incoming) Verdict {
	s := in.Signal
	inv, isInvite := s.Body.(*Invite)
	device := in.SenderDevice
	if device == "" && isInvite {
		device = inv.DeviceID
	}
	if g := s.Group; g != nil {
		if g.RoomID != v.RoomID {
			return IgnoreWrongRoom
		}
		if g.DestSessionID != v.SessionID {
			return IgnoreWrongSession
		}
	}
	if in.Sender == v.UserID && (device == v.DeviceID || (device == "" && s.Call.PartyID == v.PartyID)) {
		return IgnoreOwnDevice
	}
	call, known := v.call(s.Call.CallID)
	if known {
		if verdict := checkKnown(call, in, v.PartyID); verdict != Accept {
			return verdict
		}
		if device == "" {
			device = call.RemoteDeviceID
		}
	}
	switch {
	case isInvite:
		if verdict := checkInvite(v, s, inv, call, known); verdict != Accept {
			return verdict
		}
	case !known && s.Kind() != KindCandidates:
		return IgnoreUnknownCall
	case s.Kind() == KindAnswer && call.RemotePartyID != "":
		return IgnoreAnswered
	}
	if s.Group != nil {
		switch v.member(in.Sender, device, s.Group.SenderSessionID) {
		case MembershipUnknown:
			return Retry
		case NotMember:
			return IgnoreNotMember
		}
	}
	if !known && !isInvite {
		if s.Group == nil {
			return IgnoreUnknownCall // 1:1 early candidates have no membership to vouch for them
		}
		return Hold
	}
	return Accept
}

// checkKnown checks an event for a call we have: the sender, party and
// session must be the call's.
func checkKnown(call KnownCall, in Incoming, ourParty string) Verdict {
	s := in.Signal
	switch {
	case call.RemoteUserID != "" && call.RemoteUserID != in.Sender:
		return IgnoreWrongSender
	case call.RemotePartyID != "" && call.RemotePartyID != s.Call.PartyID:
		return IgnoreWrongParty
	case call.RemotePartyID != "" && call.RemotePartyID == ourParty:
		return IgnoreOwnParty
	case s.Group != nil && call.RemoteSessionID != "" && call.RemoteSessionID != s.Group.SenderSessionID:
		return IgnoreStaleSession
	}
	return Accept
}

func checkInvite(v View, s Signal, inv *Invite, call KnownCall, known bool) Verdict {
	switch {
	case known && !call.Ended:
		return IgnoreDuplicateInvite
	case inv.Invitee != "" && inv.Invitee != v.UserID,
		inv.InviteeDeviceID != "" && inv.InviteeDeviceID != v.DeviceID:
		return IgnoreNotForUs
	case s.Group != nil && !v.InGroupCall:
		return IgnoreNotInGroupCall
	case s.Group != nil && s.Group.ConfID != v.ConfID:
		return RejectCall
	}
	return Accept
}
