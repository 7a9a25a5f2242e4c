package membership

import (
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"
)

// ParseRTCSticky reads the content of an org.matrix.msc4143.rtc.member
// sticky event (matrixrtc-js.md 1.4; read only). It returns (nil, nil) for
// empty content. The member's slot "app#id" gives the call (id "ROOM" is the
// room-wide call, CallID ""; scope is empty), member.id the MembershipID, the
// sticky key the StateKey and rtc_transports the Preferred foci (ActiveFoci
// stays empty). CreatedAt is originTS (ms); ExpiresAt is originTS + ttl,
// where ttl (the event's stickiness duration) is capped at MaxStickyTTL and
// a ttl <= 0 means MaxStickyTTL.
func ParseRTCSticky(room id.RoomID, sender id.UserID, content []byte, originTS time.Time, ttl time.Duration) (*Member, error) {
	m, err := parseRTCSticky(room, sender, content, originTS, ttl)
	if err != nil {
		return nil, fmt.Errorf("membership: rtc sticky from %q: %w", sender, err)
	}
	return m, nil
}

func parseRTCSticky(room id.RoomID, sender id.UserID, content []byte, originTS time.Time, ttl time.Duration) (*Member, error) {
	o, err := decodeObject(content)
	if err != nil || len(o) == 0 {
		return nil, err
	}
	m := &Member{Dialect: DialectRTCSticky, UserID: sender}
	m.Call.Room = room

	rawApp, ok := o["application"]
	if !ok {
		return nil, fmt.Errorf("%w: application is required", ErrMalformed)
	}
	app, err := asObject(rawApp, "application")
	if err != nil {
		return nil, err
	}
	if m.Call.Application, err = app.stringField("type", MaxIDLen, "", true, false); err != nil {
		return nil, fmt.Errorf("application: %w", err)
	}
	if _, err = app.stringField("m.call.intent", MaxIDLen, "", false, false); err != nil {
		return nil, fmt.Errorf("application: %w", err)
	}

	slot, err := o.stringField("slot_id", MaxIDLen, "", true, false)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(slot, m.Call.Application+"#") || strings.Count(slot, "#") != 1 {
		return nil, fmt.Errorf("%w: slot_id %q is not %q followed by one id", ErrMalformed, slot, m.Call.Application+"#")
	}
	if m.Call.CallID = slot[len(m.Call.Application)+1:]; m.Call.CallID == "ROOM" {
		m.Call.CallID = ""
	}

	rawMember, ok := o["member"]
	if !ok {
		return nil, fmt.Errorf("%w: member is required", ErrMalformed)
	}
	mem, err := asObject(rawMember, "member")
	if err != nil {
		return nil, err
	}
	user, err := mem.stringField("user_id", MaxIDLen, "", true, false)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	if _, _, err := id.UserID(user).ParseAndValidateRelaxed(); err != nil {
		return nil, fmt.Errorf("%w: member.user_id %q: %v", ErrMalformed, user, err)
	}
	if id.UserID(user) != sender {
		return nil, fmt.Errorf("%w: member.user_id %q", ErrSenderMismatch, user)
	}
	device, err := mem.stringField("device_id", MaxIDLen, "", true, false)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	if device == "" {
		return nil, fmt.Errorf("%w: member.device_id is empty", ErrMalformed)
	}
	m.DeviceID = id.DeviceID(device)
	if m.MembershipID, err = mem.stringField("id", MaxIDLen, "", true, false); err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	if m.MembershipID == "" {
		return nil, fmt.Errorf("%w: member.id is empty", ErrMalformed)
	}

	rawTransports, ok := o["rtc_transports"]
	if !ok {
		return nil, fmt.Errorf("%w: rtc_transports is required", ErrMalformed)
	}
	if m.Preferred, err = parseRTCFoci(rawTransports, "rtc_transports"); err != nil {
		return nil, err
	}
	if raw, ok := o["versions"]; ok {
		versions, err := asArray(raw, "versions", MaxFoci)
		if err != nil {
			return nil, err
		}
		for i, v := range versions {
			if _, err := asString(v, fmt.Sprintf("versions[%d]", i), MaxIDLen); err != nil {
				return nil, err
			}
		}
	}

	key, hasKey, err := stickyKey(o, "sticky_key")
	if err != nil {
		return nil, err
	}
	mscKey, hasMSCKey, err := stickyKey(o, "msc4354_sticky_key")
	if err != nil {
		return nil, err
	}
	switch {
	case hasKey && hasMSCKey && key != mscKey:
		return nil, fmt.Errorf("%w: sticky_key %q differs from msc4354_sticky_key %q", ErrStateKey, key, mscKey)
	case !hasKey && !hasMSCKey:
		return nil, fmt.Errorf("%w: no sticky key", ErrStateKey)
	case key == "" && mscKey == "":
		return nil, fmt.Errorf("%w: empty sticky key", ErrStateKey)
	case hasKey:
		m.StateKey = key
	default:
		m.StateKey = mscKey
	}

	if ttl <= 0 || ttl > MaxStickyTTL {
		ttl = MaxStickyTTL
	}
	m.CreatedAt = msTime(originTS.UnixMilli())
	m.ExpiresAt = m.CreatedAt.Add(ttl)
	return m, nil
}

func stickyKey(o jsonObject, field string) (string, bool, error) {
	raw, ok := o[field]
	if !ok {
		return "", false, nil
	}
	s, err := asString(raw, field, MaxIDLen)
	if err != nil {
		return "", false, fmt.Errorf("%w: %v", ErrStateKey, err)
	}
	return s, true, nil
}
