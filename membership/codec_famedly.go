package membership

import (
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// ParseFamedly reads the content of a com.famedly.call.member state event
// (famedly-voip.md 1.2-1.4). The sender is every member's user. Each entry of
// "memberships" is checked on its own: valid entries are returned even when
// siblings are refused, and every refusal is an error (wrapping a sentinel of
// this package) naming the entry and the reason. A refusal of the whole event
// (bad state key, other user, malformed or oversized content) returns no
// members and one error. Empty content, or no/empty "memberships", is a leave:
// no members and no error.
func ParseFamedly(room id.RoomID, sender id.UserID, stateKey string, content []byte) (members []Member, refused []error) {
	_, user, _, err := ParseFamedlyStateKey(stateKey)
	if err != nil {
		return nil, []error{fmt.Errorf("membership: famedly: %w", err)}
	}
	if user != sender {
		return nil, []error{fmt.Errorf("membership: famedly: %w: state key %q, sender %q", ErrSenderMismatch, stateKey, sender)}
	}
	obj, err := decodeObject(content)
	if err != nil {
		return nil, []error{fmt.Errorf("membership: famedly: %w", err)}
	}
	raw, ok := obj["memberships"]
	if !ok || isNull(raw) {
		return nil, nil
	}
	entries, err := asArray(raw, "memberships", 0)
	if err != nil {
		return nil, []error{fmt.Errorf("membership: famedly: %w", err)}
	}
	for i, e := range entries {
		if i >= MaxFamedlyEntries {
			refused = append(refused, fmt.Errorf("membership: famedly memberships[%d:%d]: %w: more than %d entries",
				i, len(entries), ErrTooLarge, MaxFamedlyEntries))
			break
		}
		m, err := parseFamedlyEntry(e)
		if err != nil {
			refused = append(refused, fmt.Errorf("membership: famedly memberships[%d]: %w", i, err))
			continue
		}
		m.Call.Room = room
		m.UserID = sender
		m.StateKey = stateKey
		members = append(members, m)
	}
	return members, refused
}

// parseFamedlyEntry applies the SDK's isValidMemEvent and
// CallMembership.fromJson checks to one entry.
func parseFamedlyEntry(raw json.RawMessage) (Member, error) {
	m := Member{Dialect: DialectFamedly}
	o, err := asObject(raw, "entry")
	if err != nil {
		return m, err
	}
	if m.Call.CallID, err = o.stringField("call_id", MaxIDLen, "", true, false); err != nil {
		return m, err
	}
	device, err := o.stringField("device_id", MaxIDLen, "", true, false)
	if err != nil {
		return m, err
	}
	if device == "" {
		return m, fmt.Errorf("%w: device_id is empty", ErrMalformed)
	}
	m.DeviceID = id.DeviceID(device)
	rawTS, ok := o["expires_ts"]
	if !ok {
		return m, fmt.Errorf("%w: expires_ts is required", ErrMalformed)
	}
	ts, err := asInteger(rawTS, "expires_ts")
	if err != nil {
		return m, err
	}
	m.ExpiresAt = msTime(ts).Add(FamedlyExpiryGrace)
	if m.Call.Application, err = o.stringField("application", MaxIDLen, "m.call", false, true); err != nil {
		return m, err
	}
	if m.Call.Scope, err = o.stringField("scope", MaxIDLen, "m.room", false, true); err != nil {
		return m, err
	}
	if m.MembershipID, err = o.stringField("membershipID", MaxIDLen, famedlyMissingMembershipID, false, true); err != nil {
		return m, err
	}
	rawFoci, ok := o["foci_active"]
	if !ok {
		return m, fmt.Errorf("%w: foci_active is required", ErrMalformed)
	}
	foci, err := asArray(rawFoci, "foci_active", 0)
	if err != nil {
		return m, err
	}
	if len(foci) == 0 {
		return m, fmt.Errorf("%w: foci_active is empty", ErrMalformed)
	}
	f, err := parseFamedlyFocus(foci[0]) // the SDK uses element 0 only
	if err != nil {
		return m, err
	}
	m.ActiveFoci = []Focus{f}
	if rawFeeds, ok := o["feeds"]; ok && !isNull(rawFeeds) {
		if m.Feeds, err = parseFamedlyFeeds(rawFeeds); err != nil {
			return m, err
		}
	}
	return m, nil
}

func parseFamedlyFocus(raw json.RawMessage) (Focus, error) {
	var f Focus
	o, err := asObject(raw, "foci_active[0]")
	if err != nil {
		return f, err
	}
	if f.Type, err = o.stringField("type", MaxIDLen, "", true, false); err != nil {
		return f, fmt.Errorf("foci_active[0]: %w", err)
	}
	switch f.Type {
	case "mesh":
	case "livekit":
		if f.LiveKitServiceURL, err = o.stringField("livekit_service_url", MaxURLLen, "", true, false); err != nil {
			return f, fmt.Errorf("foci_active[0]: %w", err)
		}
		if f.LiveKitAlias, err = o.stringField("livekit_alias", MaxIDLen, "", true, false); err != nil {
			return f, fmt.Errorf("foci_active[0]: %w", err)
		}
	default:
		return f, fmt.Errorf("%w: foci_active[0].type %q is neither livekit nor mesh", ErrMalformed, f.Type)
	}
	return f, nil
}

func parseFamedlyFeeds(raw json.RawMessage) ([]string, error) {
	feeds, err := asArray(raw, "feeds", MaxFeeds)
	if err != nil {
		return nil, err
	}
	var purposes []string
	for i, e := range feeds {
		o, err := asObject(e, fmt.Sprintf("feeds[%d]", i))
		if err != nil {
			return nil, err
		}
		p, err := o.stringField("purpose", MaxIDLen, "", true, false)
		if err != nil {
			return nil, fmt.Errorf("feeds[%d]: %w", i, err)
		}
		purposes = append(purposes, p)
	}
	return purposes, nil
}
