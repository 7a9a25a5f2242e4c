package mesh

import (
	"errors"
	"fmt"
)

// The checks below are shared by Decode (on what arrived) and Encode (on
// what we are about to send); each returns an error wrapping a sentinel.

// check refuses a description whose type is not want ("" allows offer or
// answer) or whose SDP is empty, too long or unparsable.
func (d Description) check(what string, want SDPType) error {
	switch {
	case want != "" && d.Type != want:
		return fmt.Errorf("%w: %s type is %.20q, want %q", ErrMalformed, what, d.Type, want)
	case d.Type != SDPOffer && d.Type != SDPAnswer:
		return fmt.Errorf("%w: %s type %.20q is neither offer nor answer", ErrMalformed, what, d.Type)
	}
	if err := checkSDP(d.SDP); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// check refuses a stream purpose other than the two of MSC3077.
func (p Purpose) check() error {
	if p != PurposeUserMedia && p != PurposeScreenshare {
		return fmt.Errorf("%w: stream purpose %.40q", ErrUnsupported, p)
	}
	return nil
}

// check refuses stream metadata with too many, unnamed or unknown streams.
func (m StreamMetadata) check() error {
	if len(m) > MaxStreams {
		return fmt.Errorf("%w: %d streams, limit %d", ErrTooLarge, len(m), MaxStreams)
	}
	for msid, info := range m {
		if msid == "" || len(msid) > MaxIDLen {
			return fmt.Errorf("%w: stream id of %d bytes", ErrMalformed, len(msid))
		}
		if err := info.Purpose.check(); err != nil {
			return err
		}
	}
	return nil
}

// check refuses a candidate entry too long or holding control characters
// (which could end an SDP line). The attribute itself is parsed by
// ParseCandidate when it is applied.
func (c Candidate) check() error {
	if len(c.Candidate) > MaxCandidateBytes {
		return fmt.Errorf("%w: candidate is %d bytes, limit %d", ErrTooLarge, len(c.Candidate), MaxCandidateBytes)
	}
	if len(c.SDPMid) > MaxIDLen {
		return fmt.Errorf("%w: sdpMid is %d bytes, limit %d", ErrTooLarge, len(c.SDPMid), MaxIDLen)
	}
	if c.SDPMLineIndex > MaxMLineIndex {
		return fmt.Errorf("%w: sdpMLineIndex outside 0..%d", ErrMalformed, MaxMLineIndex)
	}
	if hasControl(c.Candidate) || hasControl(c.SDPMid) {
		return fmt.Errorf("%w: control character in candidate", ErrMalformed)
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// checkID refuses an empty or overlong id we are about to send.
func checkID(what, v string) error {
	if v == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(v) > MaxIDLen {
		return fmt.Errorf("%s is %d bytes, limit %d", what, len(v), MaxIDLen)
	}
	return nil
}

// checkOptionalID refuses an overlong optional id.
func checkOptionalID(what, v string) error {
	if v == "" {
		return nil
	}
	return checkID(what, v)
}

// validate refuses a signal Encode cannot send complete and fully typed.
func (s Signal) validate() error {
	if s.Body == nil {
		return errors.New("no body")
	}
	err := errors.Join(checkID("call_id", s.Call.CallID), checkID("party_id", s.Call.PartyID))
	switch s.Dialect {
	case Group:
		if s.Group == nil {
			return errors.New("group signal without envelope")
		}
		err = errors.Join(err, s.Group.validate())
	case Room:
		if s.Group != nil {
			return errors.New("room signal with a group envelope")
		}
	default:
		return fmt.Errorf("dialect %s", s.Dialect)
	}
	return errors.Join(err, s.validateBody())
}

func (e *Envelope) validate() error {
	var err error
	if e.Seq < 0 || e.Seq > maxSafeInteger {
		err = errors.New("seq out of range")
	}
	if len(e.ConfID) > MaxIDLen {
		err = errors.Join(err, errors.New("conf_id too long"))
	}
	// dest_session_id is what the receiver checks first: we always know it
	// (the peer's membershipID) and always send it.
	return errors.Join(err, checkID("room_id", e.RoomID), checkID("sender_session_id", e.SenderSessionID),
		checkID("dest_session_id", e.DestSessionID))
}

func (s Signal) validateBody() error {
	switch b := s.Body.(type) {
	case *Invite:
		return b.validate(s.Dialect)
	case *Answer:
		return errors.Join(b.Answer.check("answer", SDPAnswer), checkCapabilities(b.Capabilities),
			checkMetadata(b.Metadata, true))
	case *Candidates:
		return validateCandidates(b.Candidates)
	case *SelectAnswer:
		return checkID("selected_party_id", b.SelectedPartyID)
	case *Reject:
		return checkReason(b.Reason)
	case *Hangup:
		return checkReason(b.Reason)
	case *Negotiate:
		return b.validate()
	case *StreamMetadataChanged:
		return checkMetadata(b.Metadata, true)
	case *AssertedIdentity:
		return errors.New("asserted_identity is decoded only")
	}
	return fmt.Errorf("body %T", s.Body)
}

func (b *Invite) validate(d Dialect) error {
	var err error
	if b.Lifetime <= 0 || b.Lifetime > MaxLifetime {
		err = fmt.Errorf("lifetime %d outside 1..%d ms", b.Lifetime, MaxLifetime)
	}
	err = errors.Join(err, b.Offer.check("offer", SDPOffer), checkCapabilities(b.Capabilities),
		checkMetadata(b.Metadata, true), checkOptionalID("invitee", b.Invitee),
		checkOptionalID("invitee_device_id", b.InviteeDeviceID), checkOptionalID("device_id", b.DeviceID))
	if (b.InviteeDeviceID == "") != (b.DeviceID == "") {
		err = errors.Join(err, errors.New("device_id is sent iff invitee_device_id is"))
	}
	// Group invites name their target, and the receiver reads our device
	// from device_id.
	if d == Group {
		err = errors.Join(err, checkID("invitee", b.Invitee), checkID("invitee_device_id", b.InviteeDeviceID))
	}
	return err
}

func (b *Negotiate) validate() error {
	var err error
	if b.Lifetime < 0 || b.Lifetime > MaxLifetime {
		err = fmt.Errorf("lifetime %d outside 0..%d ms", b.Lifetime, MaxLifetime)
	}
	// An offer may change the streams, so it says what they are; the SDK's
	// answers to a negotiate carry neither capabilities nor metadata.
	offer := b.Description.Type == SDPOffer
	return errors.Join(err, b.Description.check("description", ""), checkMetadata(b.Metadata, offer))
}

func checkCapabilities(c *Capabilities) error {
	if c == nil {
		return errors.New("capabilities missing")
	}
	return nil
}

func checkMetadata(m StreamMetadata, required bool) error {
	if m == nil && required {
		return errors.New("sdp_stream_metadata missing (clients ignore streams it does not list)")
	}
	return m.check()
}

func validateCandidates(cs []Candidate) error {
	if len(cs) == 0 || len(cs) > MaxCandidates {
		return fmt.Errorf("%d candidates, want 1..%d", len(cs), MaxCandidates)
	}
	for i, c := range cs {
		if err := c.check(); err != nil {
			return fmt.Errorf("candidates[%d]: %w", i, err)
		}
		if c.EndOfCandidates() {
			continue
		}
		if _, err := ParseCandidate(c.Candidate); err != nil {
			return fmt.Errorf("candidates[%d]: %w", i, err)
		}
	}
	return nil
}

func checkReason(r Reason) error {
	if r != "" && !r.Known() {
		return fmt.Errorf("reason %.40q is not one we send", r)
	}
	return nil
}
