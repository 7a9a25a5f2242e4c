package membership

import (
	"encoding/json"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"
)

// ParseMatrixRTC reads the content of an org.matrix.msc3401.call.member
// state event in the session format (matrixrtc-js.md 1.3, 1.6, 1.7). It
// returns (nil, nil) for a leave ({}) and for legacy content whose only
// field is "memberships" (ignored, as the js-sdk does). The state key must
// be MatrixRTCStateKey(sender, device_id, application, call_id, ownedState)
// for either value of ownedState. originTS is the event's origin_server_ts,
// used when created_ts is absent; it is truncated to milliseconds.
func ParseMatrixRTC(room id.RoomID, sender id.UserID, stateKey string, content []byte, originTS time.Time) (*Member, error) {
	m, err := parseMatrixRTC(room, sender, stateKey, content, originTS)
	if err != nil {
		return nil, fmt.Errorf("membership: matrixrtc %q: %w", stateKey, err)
	}
	return m, nil
}

func parseMatrixRTC(room id.RoomID, sender id.UserID, stateKey string, content []byte, originTS time.Time) (*Member, error) {
	o, err := decodeObject(content)
	if err != nil {
		return nil, err
	}
	if _, legacy := o["memberships"]; len(o) == 0 || (legacy && len(o) == 1) {
		return nil, nil
	}
	m := &Member{Dialect: DialectMatrixRTC, UserID: sender, StateKey: stateKey}
	m.Call.Room = room
	device, err := o.stringField("device_id", MaxIDLen, "", true, false)
	if err != nil {
		return nil, err
	}
	if device == "" {
		return nil, fmt.Errorf("%w: device_id is empty", ErrMalformed)
	}
	m.DeviceID = id.DeviceID(device)
	if m.Call.CallID, err = o.stringField("call_id", MaxIDLen, "", true, false); err != nil {
		return nil, err
	}
	if m.Call.Application, err = o.stringField("application", MaxIDLen, "", true, false); err != nil {
		return nil, err
	}
	if m.Call.Scope, err = o.stringField("scope", MaxIDLen, "m.room", false, false); err != nil {
		return nil, err
	}
	if _, err = o.stringField("m.call.intent", MaxIDLen, "", false, false); err != nil {
		return nil, err
	}
	if m.MembershipID, err = o.stringField("membershipID", MaxIDLen, string(sender)+":"+device, false, false); err != nil {
		return nil, err
	}
	rawActive, ok := o["focus_active"]
	if !ok {
		return nil, fmt.Errorf("%w: focus_active is required", ErrMalformed)
	}
	active, err := parseRTCFocus(rawActive, "focus_active")
	if err != nil {
		return nil, err
	}
	m.ActiveFoci = []Focus{active}
	if raw, ok := o["foci_preferred"]; ok {
		if m.Preferred, err = parseRTCFoci(raw, "foci_preferred"); err != nil {
			return nil, err
		}
	}
	m.CreatedAt = msTime(originTS.UnixMilli())
	if raw, ok := o["created_ts"]; ok {
		ts, err := asNumber(raw, "created_ts")
		if err != nil {
			return nil, err
		}
		m.CreatedAt = msTime(ts)
	}
	expires := DefaultMatrixRTCExpiry
	if raw, ok := o["expires"]; ok {
		ms, err := asNumber(raw, "expires")
		if err != nil {
			return nil, err
		}
		if ms > maxExpiresMs || ms < -maxExpiresMs {
			return nil, fmt.Errorf("%w: expires %d ms out of range", ErrMalformed, ms)
		}
		expires = time.Duration(ms) * time.Millisecond
	}
	m.ExpiresAt = m.CreatedAt.Add(expires)
	if stateKey != MatrixRTCStateKey(string(sender), device, m.Call.Application, m.Call.CallID, false) &&
		stateKey != MatrixRTCStateKey(string(sender), device, m.Call.Application, m.Call.CallID, true) {
		return nil, fmt.Errorf("%w: does not match sender %q, device %q, application %q, call %q",
			ErrStateKey, sender, device, m.Call.Application, m.Call.CallID)
	}
	return m, nil
}

// maxExpiresMs bounds "expires" (about 31 years) so durations cannot overflow.
const maxExpiresMs = int64(1e12)

// parseRTCFoci reads an array of transports ({type, ...} objects).
func parseRTCFoci(raw json.RawMessage, what string) ([]Focus, error) {
	elems, err := asArray(raw, what, MaxFoci)
	if err != nil {
		return nil, err
	}
	var foci []Focus
	for i, e := range elems {
		f, err := parseRTCFocus(e, fmt.Sprintf("%s[%d]", what, i))
		if err != nil {
			return nil, err
		}
		foci = append(foci, f)
	}
	return foci, nil
}

// parseRTCFocus reads one transport: type is a required non-empty string; the other
// known fields are taken when they are strings and ignored otherwise (the
// js-sdk does not check them).
func parseRTCFocus(raw json.RawMessage, what string) (Focus, error) {
	var f Focus
	o, err := asObject(raw, what)
	if err != nil {
		return f, err
	}
	if f.Type, err = o.stringField("type", MaxIDLen, "", true, false); err != nil {
		return f, fmt.Errorf("%s: %w", what, err)
	}
	if f.Type == "" {
		return f, fmt.Errorf("%w: %s.type is empty", ErrMalformed, what)
	}
	f.LiveKitServiceURL = o.lenientString("livekit_service_url", MaxURLLen)
	f.LiveKitAlias = o.lenientString("livekit_alias", MaxIDLen)
	if what == "focus_active" {
		f.FocusSelection = o.lenientString("focus_selection", MaxIDLen)
	}
	return f, nil
}

// lenientString returns o[key] if it is a string within limit, else "".
func (o jsonObject) lenientString(key string, limit int) string {
	raw, ok := o[key]
	if !ok {
		return ""
	}
	s, err := asString(raw, key, limit)
	if err != nil {
		return ""
	}
	return s
}
