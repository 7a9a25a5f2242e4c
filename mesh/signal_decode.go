package mesh

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Decode parses and fully validates the content of a call event of the
// given type. It refuses (with an error wrapping one of the package
// sentinels) what the SDK would throw on and what exceeds our bounds; it
// keeps what the SDK tolerates (null as absent, integer versions 0 and 1
// from legacy clients, end-of-candidates markers).
func Decode(eventType string, raw json.RawMessage) (Signal, error) {
	d, k, err := ParseEventType(eventType)
	if err != nil {
		return Signal{}, err
	}
	if len(raw) > MaxContentBytes {
		return Signal{}, fmt.Errorf("%w: content is %d bytes, limit %d", ErrTooLarge, len(raw), MaxContentBytes)
	}
	o, err := toObject(raw, "content")
	if err != nil {
		return Signal{}, err
	}
	s := Signal{Dialect: d}
	if s.Call, err = decodeCall(o); err != nil {
		return Signal{}, err
	}
	if d == Group {
		if s.Group, err = decodeEnvelope(o); err != nil {
			return Signal{}, err
		}
	}
	if s.Body, err = decodeBody(o, d, k); err != nil {
		return Signal{}, fmt.Errorf("%s: %w", k, err)
	}
	return s, nil
}

func decodeCall(o object) (Call, error) {
	var c Call
	var err error
	if c.Version, err = decodeVersion(o); err != nil {
		return Call{}, err
	}
	if c.CallID, err = o.id("call_id"); err != nil {
		return Call{}, err
	}
	// Version 0 predates party ids.
	if c.PartyID, err = o.text("party_id", MaxIDLen, c.Version >= 1); err != nil {
		return Call{}, err
	}
	if c.Version >= 1 && c.PartyID == "" {
		return Call{}, fmt.Errorf("%w: party_id is empty", ErrMalformed)
	}
	return c, nil
}

// decodeVersion accepts the string "1" and, from legacy clients, the
// integers 0 and 1.
func decodeVersion(o object) (int, error) {
	if !o.has("version") {
		return 0, fmt.Errorf("%w: version is required", ErrMalformed)
	}
	switch string(bytes.TrimSpace(o["version"])) {
	case `"1"`, "1":
		return 1, nil
	case "0":
		return 0, nil
	}
	return 0, fmt.Errorf("%w: version %.20q", ErrUnsupported, bytes.TrimSpace(o["version"]))
}

func decodeEnvelope(o object) (*Envelope, error) {
	var e Envelope
	var err error
	if e.RoomID, err = o.id("room_id"); err != nil {
		return nil, err
	}
	if e.ConfID, err = o.text("conf_id", MaxIDLen, true); err != nil {
		return nil, err
	}
	if e.SenderSessionID, err = o.id("sender_session_id"); err != nil {
		return nil, err
	}
	if e.DestSessionID, err = o.text("dest_session_id", MaxIDLen, false); err != nil {
		return nil, err
	}
	if e.Seq, _, err = field[int64](o, "seq"); err != nil {
		return nil, err
	}
	if e.Seq < 0 {
		return nil, fmt.Errorf("%w: seq is negative", ErrMalformed)
	}
	return &e, nil
}

func decodeBody(o object, d Dialect, k Kind) (Body, error) {
	switch k {
	case KindInvite:
		return decodeInvite(o, d)
	case KindAnswer:
		return decodeAnswer(o)
	case KindCandidates:
		return decodeCandidates(o)
	case KindSelectAnswer:
		id, err := o.id("selected_party_id")
		return &SelectAnswer{SelectedPartyID: id}, err
	case KindReject:
		r, err := o.text("reason", MaxIDLen, false)
		return &Reject{Reason: Reason(r)}, err
	case KindHangup:
		r, err := o.text("reason", MaxIDLen, false)
		return &Hangup{Reason: Reason(r)}, err
	case KindNegotiate:
		return decodeNegotiate(o)
	case KindStreamMetadataChanged:
		m, err := decodeMetadata(o, true)
		return &StreamMetadataChanged{Metadata: m}, err
	case KindAssertedIdentity:
		return decodeAssertedIdentity(o)
	}
	return nil, fmt.Errorf("%w: kind %s", ErrUnsupported, k)
}

func decodeInvite(o object, d Dialect) (*Invite, error) {
	var inv Invite
	var err error
	if inv.Lifetime, err = decodeLifetime(o, true); err != nil {
		return nil, err
	}
	if inv.Offer, err = decodeDescription(o, "offer", SDPOffer); err != nil {
		return nil, err
	}
	if inv.Invitee, err = o.text("invitee", MaxIDLen, false); err != nil {
		return nil, err
	}
	if inv.InviteeDeviceID, err = o.text("invitee_device_id", MaxIDLen, false); err != nil {
		return nil, err
	}
	// The SDK reads a group sender's device from the invite's device_id.
	if inv.DeviceID, err = o.text("device_id", MaxIDLen, d == Group); err != nil {
		return nil, err
	}
	if d == Group && inv.DeviceID == "" {
		return nil, fmt.Errorf("%w: device_id is empty", ErrMalformed)
	}
	if inv.Capabilities, err = decodeCapabilities(o); err != nil {
		return nil, err
	}
	if inv.Metadata, err = decodeMetadata(o, false); err != nil {
		return nil, err
	}
	return &inv, nil
}

func decodeAnswer(o object) (*Answer, error) {
	var a Answer
	var err error
	if a.Answer, err = decodeDescription(o, "answer", SDPAnswer); err != nil {
		return nil, err
	}
	if a.Capabilities, err = decodeCapabilities(o); err != nil {
		return nil, err
	}
	if a.Metadata, err = decodeMetadata(o, false); err != nil {
		return nil, err
	}
	return &a, nil
}

func decodeNegotiate(o object) (*Negotiate, error) {
	var n Negotiate
	var err error
	if n.Lifetime, err = decodeLifetime(o, false); err != nil {
		return nil, err
	}
	if n.Description, err = decodeDescription(o, "description", ""); err != nil {
		return nil, err
	}
	if n.Capabilities, err = decodeCapabilities(o); err != nil {
		return nil, err
	}
	if n.Metadata, err = decodeMetadata(o, false); err != nil {
		return nil, err
	}
	return &n, nil
}

// decodeLifetime reads an integer lifetime in ms; the SDK throws on a
// missing or non-integer invite lifetime.
func decodeLifetime(o object, required bool) (int64, error) {
	v, ok, err := field[int64](o, "lifetime")
	switch {
	case err != nil:
		return 0, err
	case !ok && required:
		return 0, fmt.Errorf("%w: lifetime is required", ErrMalformed)
	case ok && (v <= 0 || v > MaxLifetime):
		return 0, fmt.Errorf("%w: lifetime %d outside 1..%d ms", ErrMalformed, v, MaxLifetime)
	}
	return v, nil
}

// decodeDescription reads {sdp, type}; want "" accepts offer or answer.
func decodeDescription(o object, key string, want SDPType) (Description, error) {
	d, err := o.sub(key, true)
	if err != nil {
		return Description{}, err
	}
	sdp, err := d.text("sdp", MaxSDPBytes, true)
	if err != nil {
		return Description{}, fmt.Errorf("%s: %w", key, err)
	}
	typ, err := d.text("type", MaxIDLen, true)
	if err != nil {
		return Description{}, fmt.Errorf("%s: %w", key, err)
	}
	desc := Description{SDP: sdp, Type: SDPType(typ)}
	if err := desc.check(key, want); err != nil {
		return Description{}, err
	}
	return desc, nil
}

func decodeCapabilities(o object) (*Capabilities, error) {
	c, err := o.sub("capabilities", false)
	if c == nil || err != nil {
		return nil, err
	}
	var caps Capabilities
	if caps.Transferee, err = c.flag("m.call.transferee"); err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	if caps.DTMF, err = c.flag("m.call.dtmf"); err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	return &caps, nil
}

const metadataKey = "org.matrix.msc3077.sdp_stream_metadata"

// decodeMetadata reads the MSC3077 stream metadata; absent yields nil.
func decodeMetadata(o object, required bool) (StreamMetadata, error) {
	m, err := o.sub(metadataKey, required)
	if m == nil || err != nil {
		return nil, err
	}
	out := make(StreamMetadata, len(m))
	for msid := range m {
		s, err := m.sub(msid, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", metadataKey, err)
		}
		var info StreamInfo
		p, err := s.text("purpose", MaxIDLen, true)
		info.Purpose = Purpose(p)
		if err == nil {
			info.AudioMuted, err = s.flag("audio_muted")
		}
		if err == nil {
			info.VideoMuted, err = s.flag("video_muted")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %.80q: %w", metadataKey, msid, err)
		}
		out[msid] = info
	}
	if err := out.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", metadataKey, err)
	}
	return out, nil
}

func decodeCandidates(o object) (*Candidates, error) {
	if !o.has("candidates") {
		return nil, fmt.Errorf("%w: candidates is required", ErrMalformed)
	}
	var list []json.RawMessage
	if t := bytes.TrimSpace(o["candidates"]); t[0] != '[' || json.Unmarshal(t, &list) != nil {
		return nil, fmt.Errorf("%w: candidates must be an array", ErrMalformed)
	}
	if len(list) > MaxCandidates {
		return nil, fmt.Errorf("%w: %d candidates, limit %d", ErrTooLarge, len(list), MaxCandidates)
	}
	out := make([]Candidate, 0, len(list))
	for i, raw := range list {
		c, err := decodeCandidate(raw)
		if err != nil {
			return nil, fmt.Errorf("candidates[%d]: %w", i, err)
		}
		out = append(out, c)
	}
	return &Candidates{Candidates: out}, nil
}

// decodeCandidate reads one {candidate, sdpMid, sdpMLineIndex}. As in the
// SDK, sdpMid defaults to "" and sdpMLineIndex (any number, rounded) to 0;
// an absent or empty candidate is an end-of-candidates marker.
func decodeCandidate(raw json.RawMessage) (Candidate, error) {
	o, err := toObject(raw, "candidate entry")
	if err != nil {
		return Candidate{}, err
	}
	var c Candidate
	if c.Candidate, err = o.text("candidate", MaxCandidateBytes, false); err != nil {
		return Candidate{}, err
	}
	if c.SDPMid, err = o.text("sdpMid", MaxIDLen, false); err != nil {
		return Candidate{}, err
	}
	idx, _, err := field[float64](o, "sdpMLineIndex")
	if err != nil {
		return Candidate{}, err
	}
	if idx = math.Round(idx); idx < 0 || idx > MaxMLineIndex {
		return Candidate{}, fmt.Errorf("%w: sdpMLineIndex outside 0..%d", ErrMalformed, MaxMLineIndex)
	}
	c.SDPMLineIndex = uint16(idx)
	if err := c.check(); err != nil {
		return Candidate{}, err
	}
	return c, nil
}

func decodeAssertedIdentity(o object) (*AssertedIdentity, error) {
	a, err := o.sub("asserted_identity", true)
	if err != nil {
		return nil, err
	}
	var id AssertedIdentity
	if id.ID, err = a.text("id", MaxIDLen, false); err == nil {
		if id.DisplayName, err = a.text("display_name", MaxIDLen, false); err == nil {
			id.AvatarURL, err = a.text("avatar_url", MaxURLLen, false)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("asserted_identity: %w", err)
	}
	return &id, nil
}
