package membership

import (
	"fmt"
	"time"
)

// matrixRTCContent is ordered as makeMyMembership emits it (matrixrtc-js.md 1.3).
type matrixRTCContent struct {
	Application   string     `json:"application"`
	CallID        string     `json:"call_id"`
	Scope         string     `json:"scope"`
	DeviceID      string     `json:"device_id"`
	MembershipID  string     `json:"membershipID"`
	Expires       int64      `json:"expires"`
	FocusActive   rtcFocus   `json:"focus_active"`
	FociPreferred []rtcFocus `json:"foci_preferred,omitempty"`
	CreatedTS     *int64     `json:"created_ts,omitempty"`
}

type rtcFocus struct {
	Type              string `json:"type"`
	FocusSelection    string `json:"focus_selection,omitempty"`
	LiveKitServiceURL string `json:"livekit_service_url,omitempty"`
	LiveKitAlias      string `json:"livekit_alias,omitempty"`
}

// BuildMatrixRTC writes the session-format content of m with the given
// relative expiry (pass DefaultMatrixRTCExpiry for the js-sdk default; it
// must be whole milliseconds). m.ExpiresAt is not read. created_ts is
// m.CreatedAt, left out when zero (first join: receivers then use the
// event's origin_server_ts). ActiveFoci[0] becomes focus_active, Preferred
// foci_preferred. The membershipID is always written; set it to
// "{user}:{device}" as EC does. Publish it under MatrixRTCStateKey.
func BuildMatrixRTC(m Member, expires time.Duration) ([]byte, error) {
	if err := checkIDs(map[string]string{
		"call id": m.Call.CallID, "application": m.Call.Application, "scope": m.Call.Scope,
		"device id": string(m.DeviceID), "membership id": m.MembershipID,
	}); err != nil {
		return nil, fmt.Errorf("membership: build matrixrtc: %w", err)
	}
	switch {
	case m.DeviceID == "":
		return nil, fmt.Errorf("membership: build matrixrtc: %w: no device id", ErrInvalidMember)
	case m.Call.Application == "":
		return nil, fmt.Errorf("membership: build matrixrtc: %w: no application", ErrInvalidMember)
	case len(m.ActiveFoci) == 0 || m.ActiveFoci[0].Type == "":
		return nil, fmt.Errorf("membership: build matrixrtc: %w: no active focus", ErrInvalidMember)
	case len(m.Preferred) > MaxFoci:
		return nil, fmt.Errorf("membership: build matrixrtc: %w: %d preferred foci, limit %d", ErrInvalidMember, len(m.Preferred), MaxFoci)
	case expires%time.Millisecond != 0 || expires.Milliseconds() > maxExpiresMs || expires.Milliseconds() < -maxExpiresMs:
		return nil, fmt.Errorf("membership: build matrixrtc: %w: expires %v", ErrInvalidMember, expires)
	}
	c := matrixRTCContent{
		Application:  m.Call.Application,
		CallID:       m.Call.CallID,
		Scope:        m.Call.Scope,
		DeviceID:     string(m.DeviceID),
		MembershipID: m.MembershipID,
		Expires:      expires.Milliseconds(),
	}
	var err error
	if c.FocusActive, err = rtcFocusOf(m.ActiveFoci[0], true); err != nil {
		return nil, fmt.Errorf("membership: build matrixrtc: focus_active: %w", err)
	}
	for i, f := range m.Preferred {
		rf, err := rtcFocusOf(f, false)
		if err != nil {
			return nil, fmt.Errorf("membership: build matrixrtc: foci_preferred[%d]: %w", i, err)
		}
		c.FociPreferred = append(c.FociPreferred, rf)
	}
	if !m.CreatedAt.IsZero() {
		ts := m.CreatedAt.UnixMilli()
		if ts > maxSafeInteger || ts < -maxSafeInteger || !msTime(ts).Equal(m.CreatedAt) {
			return nil, fmt.Errorf("membership: build matrixrtc: %w: created %v not whole ms in range", ErrInvalidMember, m.CreatedAt)
		}
		c.CreatedTS = &ts
	}
	return marshalNoEscape(c)
}

func rtcFocusOf(f Focus, active bool) (rtcFocus, error) {
	if f.Type == "" || len(f.Type) > MaxIDLen || len(f.LiveKitAlias) > MaxIDLen ||
		len(f.FocusSelection) > MaxIDLen || len(f.LiveKitServiceURL) > MaxURLLen {
		return rtcFocus{}, fmt.Errorf("%w: focus type empty or field too long", ErrInvalidMember)
	}
	rf := rtcFocus{Type: f.Type, LiveKitServiceURL: f.LiveKitServiceURL, LiveKitAlias: f.LiveKitAlias}
	if active {
		rf.FocusSelection = f.FocusSelection
	}
	return rf, nil
}
