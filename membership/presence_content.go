package membership

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"
)

// seatShape is how one state event of ours is written: where, and as what.
type seatShape struct {
	key      slotKey
	stateKey string
	// legacyFamedly: the "{userId}" state key, shared by all our devices, so
	// every write is a read-modify-write that keeps other devices' entries.
	legacyFamedly bool
	eventType     string
}

// shapeSlot picks the state key for a slot from the room version and the
// configured Famedly form (FamedlyFormUnknown: the SDK's own choice).
func shapeSlot(k slotKey, user id.UserID, device id.DeviceID, roomVersion string, form StateKeyForm) seatShape {
	owned := ownedStateRoom(roomVersion)
	if k.Dialect == DialectMatrixRTC {
		return seatShape{key: k, eventType: MatrixRTCEventType,
			stateKey: MatrixRTCStateKey(string(user), string(device), k.Application, k.CallID, owned)}
	}
	if form == FamedlyFormUnknown {
		form = FamedlyUser
		if owned {
			form = FamedlyUserDevice
		}
	}
	return seatShape{key: k, eventType: FamedlyEventType, legacyFamedly: form == FamedlyUser,
		stateKey: FamedlyStateKey(form, user, device)}
}

// shapeOfMember is where a membership of ours that the tracker shows lives
// (one left by an earlier run), read back from its state key.
func shapeOfMember(m Member) seatShape {
	shape := seatShape{key: slotOf(SeatKey{Call: m.Call, Dialect: m.Dialect}), stateKey: m.StateKey, eventType: MatrixRTCEventType}
	if m.Dialect == DialectFamedly {
		form, _, _, err := ParseFamedlyStateKey(m.StateKey)
		shape.eventType, shape.legacyFamedly = FamedlyEventType, err != nil || form == FamedlyUser
	}
	return shape
}

// newSessionID is a Famedly membershipID: base64 of 16 random bytes, new for
// every process start as the SDK does per app launch.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(b[:])
}

// ourMember is the membership we write for a seat at now.
func (p *Presence) ourMember(k SeatKey, spec SeatSpec, created, now time.Time) Member {
	m := Member{Dialect: k.Dialect, Call: k.Call, UserID: p.cfg.UserID, DeviceID: p.cfg.DeviceID}
	switch k.Dialect {
	case DialectFamedly:
		m.MembershipID = p.sessionID
		m.ExpiresAt = now.Add(p.cfg.FamedlyExpiry + FamedlyExpiryGrace)
		if len(spec.Foci) > 0 {
			m.ActiveFoci = spec.Foci[:1]
			if m.ActiveFoci[0].Type == "mesh" {
				m.Feeds = []string{"m.usermedia"}
			}
		}
	default:
		m.MembershipID = string(p.cfg.UserID) + ":" + string(p.cfg.DeviceID)
		m.CreatedAt = created
		m.ActiveFoci = []Focus{{Type: "livekit", FocusSelection: "oldest_membership"}}
		m.Preferred = spec.Foci
	}
	return m
}

// joinContent is the state content announcing members (our seats of one
// slot) under shape: a MatrixRTC event holds one membership, a Famedly
// event all of them.
func (p *Presence) joinContent(ctx context.Context, shape seatShape, members []Member, now time.Time) (json.RawMessage, error) {
	if shape.key.Dialect == DialectMatrixRTC {
		m := members[0]
		// The horizon is capped at now + expiry rather than growing by a
		// whole expiry per refresh as the js-sdk does (matrixrtc-js.md 1.7).
		expires := now.Sub(m.CreatedAt).Truncate(time.Millisecond) + p.cfg.MatrixRTCExpiry
		return BuildMatrixRTC(m, expires)
	}
	ours, err := BuildFamedly(members)
	if err != nil {
		return nil, err
	}
	if !shape.legacyFamedly {
		return ours, nil
	}
	var entry struct {
		Memberships []json.RawMessage `json:"memberships"`
	}
	if err := json.Unmarshal(ours, &entry); err != nil || len(entry.Memberships) != len(members) {
		return nil, fmt.Errorf("membership: our famedly entries: %v", err)
	}
	return p.famedlyWithout(ctx, shape, entry.Memberships...)
}

// leaveContent is the state content without our membership.
func (p *Presence) leaveContent(ctx context.Context, shape seatShape) (json.RawMessage, error) {
	switch {
	case shape.key.Dialect == DialectMatrixRTC:
		return json.RawMessage(`{}`), nil
	case shape.legacyFamedly:
		return p.famedlyWithout(ctx, shape)
	}
	return json.RawMessage(`{"memberships":[]}`), nil
}

// writeLeave writes the state content without our membership.
func (p *Presence) writeLeave(ctx context.Context, shape seatShape) error {
	content, err := p.leaveContent(ctx, shape)
	if err != nil {
		return err
	}
	return p.writer.PutState(ctx, shape.key.Room, shape.eventType, shape.stateKey, content)
}

// famedlyWithout reads the shared "{userId}" event, drops every entry of our
// device (ours are all written together, by one slot), keeps the other
// devices' entries byte for byte, and appends add.
func (p *Presence) famedlyWithout(ctx context.Context, shape seatShape, add ...json.RawMessage) (json.RawMessage, error) {
	cur, err := p.writer.GetState(ctx, shape.key.Room, shape.eventType, shape.stateKey)
	if err != nil {
		return nil, fmt.Errorf("membership: read %s: %w", shape.stateKey, err)
	}
	var c struct {
		Memberships []json.RawMessage `json:"memberships"`
	}
	if len(cur) > 0 {
		_ = json.Unmarshal(cur, &c) // unreadable content is replaced by ours
	}
	kept := make([]json.RawMessage, 0, len(c.Memberships)+len(add))
	for _, e := range c.Memberships {
		var d struct {
			DeviceID string `json:"device_id"`
		}
		if json.Unmarshal(e, &d) == nil && d.DeviceID == string(p.cfg.DeviceID) {
			continue
		}
		kept = append(kept, e)
	}
	kept = append(kept, add...)
	return json.Marshal(struct {
		Memberships []json.RawMessage `json:"memberships"`
	}{kept})
}
