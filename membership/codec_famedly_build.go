package membership

import (
	"fmt"
	"time"
)

// famedlyContent and its parts are ordered as the SDK emits them
// (call_membership.dart:91-101, livekit_backend.dart:359-366).
type famedlyContent struct {
	Memberships []famedlyEntry `json:"memberships"`
}

type famedlyEntry struct {
	CallID       string         `json:"call_id"`
	Application  string         `json:"application"`
	Scope        string         `json:"scope"`
	FociActive   []famedlyFocus `json:"foci_active"`
	DeviceID     string         `json:"device_id"`
	ExpiresTS    int64          `json:"expires_ts"`
	MembershipID string         `json:"membershipID"`
	Feeds        []famedlyFeed  `json:"feeds,omitempty"`
}

type famedlyFocus struct {
	Type              string  `json:"type"`
	LiveKitServiceURL *string `json:"livekit_service_url,omitempty"`
	LiveKitAlias      *string `json:"livekit_alias,omitempty"`
}

type famedlyFeed struct {
	Purpose string `json:"purpose"`
}

// BuildFamedly writes the com.famedly.call.member content carrying entries
// (all of one user) in the SDK's key order. expires_ts is ExpiresAt minus
// FamedlyExpiryGrace, so ParseFamedly gives the entries back. Only
// ActiveFoci[0] is written. No entries gives the leave content
// {"memberships":[]}.
func BuildFamedly(entries []Member) ([]byte, error) {
	if len(entries) > MaxFamedlyEntries {
		return nil, fmt.Errorf("membership: build famedly: %w: %d entries, limit %d", ErrInvalidMember, len(entries), MaxFamedlyEntries)
	}
	c := famedlyContent{Memberships: make([]famedlyEntry, 0, len(entries))}
	for i, m := range entries {
		e, err := famedlyEntryOf(m)
		if err == nil && m.UserID != entries[0].UserID {
			err = fmt.Errorf("%w: user %q differs from entry 0's %q", ErrInvalidMember, m.UserID, entries[0].UserID)
		}
		if err != nil {
			return nil, fmt.Errorf("membership: build famedly entry %d: %w", i, err)
		}
		c.Memberships = append(c.Memberships, e)
	}
	return marshalNoEscape(c)
}

func famedlyEntryOf(m Member) (famedlyEntry, error) {
	var e famedlyEntry
	if err := checkIDs(map[string]string{
		"call id": m.Call.CallID, "application": m.Call.Application, "scope": m.Call.Scope,
		"device id": string(m.DeviceID), "membership id": m.MembershipID,
	}); err != nil {
		return e, err
	}
	if m.DeviceID == "" {
		return e, fmt.Errorf("%w: no device id", ErrInvalidMember)
	}
	if len(m.ActiveFoci) == 0 {
		return e, fmt.Errorf("%w: no active focus", ErrInvalidMember)
	}
	if len(m.Feeds) > MaxFeeds {
		return e, fmt.Errorf("%w: %d feeds, limit %d", ErrInvalidMember, len(m.Feeds), MaxFeeds)
	}
	f := m.ActiveFoci[0]
	ff := famedlyFocus{Type: f.Type}
	switch f.Type {
	case "mesh":
	case "livekit":
		if len(f.LiveKitServiceURL) > MaxURLLen || len(f.LiveKitAlias) > MaxIDLen {
			return e, fmt.Errorf("%w: livekit focus field too long", ErrInvalidMember)
		}
		url, alias := f.LiveKitServiceURL, f.LiveKitAlias
		ff.LiveKitServiceURL, ff.LiveKitAlias = &url, &alias
	default:
		return e, fmt.Errorf("%w: focus type %q is neither livekit nor mesh", ErrInvalidMember, f.Type)
	}
	ts := m.ExpiresAt.Add(-FamedlyExpiryGrace).UnixMilli()
	if m.ExpiresAt.IsZero() || ts > maxSafeInteger || ts < -maxSafeInteger {
		return e, fmt.Errorf("%w: expiry %v out of range", ErrInvalidMember, m.ExpiresAt)
	}
	e = famedlyEntry{
		CallID:       m.Call.CallID,
		Application:  m.Call.Application,
		Scope:        m.Call.Scope,
		FociActive:   []famedlyFocus{ff},
		DeviceID:     string(m.DeviceID),
		ExpiresTS:    ts,
		MembershipID: m.MembershipID,
	}
	for _, p := range m.Feeds {
		if len(p) > MaxIDLen {
			return e, fmt.Errorf("%w: feed purpose too long", ErrInvalidMember)
		}
		e.Feeds = append(e.Feeds, famedlyFeed{Purpose: p})
	}
	return e, nil
}

// checkIDs refuses ids longer than MaxIDLen.
func checkIDs(ids map[string]string) error {
	for name, v := range ids {
		if len(v) > MaxIDLen {
			return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalidMember, name, len(v), MaxIDLen)
		}
	}
	return nil
}

// FamedlyExpiresAt is the ExpiresAt to give BuildFamedly for an entry
// written at now, as the SDK does: expires_ts = now + 6 min, which stays live
// for another FamedlyExpiryGrace.
func FamedlyExpiresAt(now time.Time) time.Time {
	return now.Add(2 * FamedlyExpiryGrace)
}
