package mesh

// Reason is a hangup or reject reason as it travels.
type Reason string

// The SDK's CallErrorCode strings (utils/types.dart), which clients map by
// exact match, and the camelCase "userHangup" its hangup() always sends.
const (
	ReasonUserHangup           Reason = "user_hangup"
	ReasonLocalOfferFailed     Reason = "local_offer_failed"
	ReasonUserMediaFailed      Reason = "user_media_failed"
	ReasonUnknownDevice        Reason = "unknown_device"
	ReasonCreateAnswer         Reason = "create_answer"
	ReasonSetRemoteDescription Reason = "set_remote_description"
	ReasonSetLocalDescription  Reason = "set_local_description"
	ReasonAnsweredElsewhere    Reason = "answered_elsewhere"
	ReasonICEFailed            Reason = "ice_failed"
	ReasonInviteTimeout        Reason = "invite_timeout"
	ReasonReplaced             Reason = "replaced"
	ReasonICETimeout           Reason = "ice_timeout"
	ReasonUserBusy             Reason = "user_busy"
	ReasonTransferred          Reason = "transferred"
	ReasonUnknownError         Reason = "unknown_error"
	// ReasonUserHangupLegacy is what CallSession.hangup() sends whatever
	// the local reason; received only.
	ReasonUserHangupLegacy Reason = "userHangup"
)

// Our own reasons. Clients map reasons they do not know to user_hangup, so
// these only inform logs on the other side.
const (
	// ReasonStaleSession: the peer's membership id changed; the call to the
	// old session ends and a new one is placed.
	ReasonStaleSession Reason = "stale_session"
	// ReasonNotMember: the peer is no longer a member of the call.
	ReasonNotMember Reason = "not_member"
)

// Known says whether Encode may send r: one of the SDK's codes or ours
// (not the legacy camelCase form).
func (r Reason) Known() bool {
	switch r {
	case ReasonUserHangup, ReasonLocalOfferFailed, ReasonUserMediaFailed, ReasonUnknownDevice,
		ReasonCreateAnswer, ReasonSetRemoteDescription, ReasonSetLocalDescription,
		ReasonAnsweredElsewhere, ReasonICEFailed, ReasonInviteTimeout, ReasonReplaced,
		ReasonICETimeout, ReasonUserBusy, ReasonTransferred, ReasonUnknownError,
		ReasonStaleSession, ReasonNotMember:
		return true
	}
	return false
}

// Normalized maps a received reason into the bounded set of Known reasons
// (for logs and metrics): absent, the legacy "userHangup" and anything
// unknown become user_hangup, as the SDK maps them.
func (r Reason) Normalized() Reason {
	if r.Known() {
		return r
	}
	return ReasonUserHangup
}
