package e2ee

import (
	"encoding/json"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// Reason says why a received key event (or key request) was refused.
type Reason int

const (
	ReasonUnknown Reason = iota
	// ReasonMalformed: the content did not parse, or the event had no sender.
	ReasonMalformed
	// ReasonPlaintext: it arrived unencrypted, in an encrypted room or with
	// plaintext keys refused by configuration.
	ReasonPlaintext
	// ReasonUnknownSenderDevice: it was Olm-encrypted, but the device that
	// owns the Olm sender key is unknown, so the claimed device cannot be
	// checked.
	ReasonUnknownSenderDevice
	// ReasonDeviceMismatch: the Olm sender device is not the device the
	// content claims.
	ReasonDeviceMismatch
	// ReasonNoMembership: the sender's device has no live membership in that
	// room and call (for keys: none appeared while the event was held).
	ReasonNoMembership
	// ReasonHoldFull: it was held for want of a membership, and the hold
	// buffer (or the sender device's share of it) overflowed.
	ReasonHoldFull
)

var reasonNames = [...]string{"unknown", "malformed", "plaintext", "unknown_sender_device", "device_mismatch", "no_membership", "hold_full"}

func (r Reason) String() string {
	if r < 0 || int(r) >= len(reasonNames) {
		return reasonNames[0]
	}
	return reasonNames[r]
}

// MarshalText writes the reason's name, so refusals read well as JSON.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Refusal records one refused key event or key request: who sent it, what it
// claimed, which key indices it carried, and why it was refused. It never
// holds key bytes, so it can be logged and shown in the admin API.
type Refusal struct {
	Reason   Reason             `json:"reason"`
	At       time.Time          `json:"at"`
	Dialect  membership.Dialect `json:"-"`
	Room     id.RoomID          `json:"room_id,omitempty"` // as claimed by the content
	CallID   string             `json:"call_id"`
	UserID   id.UserID          `json:"user_id"`             // the to-device sender
	DeviceID id.DeviceID        `json:"device_id,omitempty"` // as claimed by the content
	Indices  []int              `json:"indices,omitempty"`   // key indices refused; none for requests
	Request  bool               `json:"request,omitempty"`   // a key request, not keys
	Detail   string             `json:"detail,omitempty"`
}

// Error makes a Refusal usable as an error in logs.
func (r Refusal) Error() string {
	s := fmt.Sprintf("e2ee: refused %v key event from %s device %s for %s call %q: %v",
		r.Dialect, r.UserID, r.DeviceID, r.Room, r.CallID, r.Reason)
	if r.Detail != "" {
		s += ": " + r.Detail
	}
	return s
}

// MarshalJSON adds the dialect's name.
func (r Refusal) MarshalJSON() ([]byte, error) {
	type plain Refusal
	return json.Marshal(struct {
		plain
		Dialect string `json:"dialect"`
	}{plain(r), r.Dialect.String()})
}

// refusalOf starts a refusal of ev from sender.
func refusalOf(ev KeyEvent, sender id.UserID, reason Reason, at time.Time, detail string) Refusal {
	r := Refusal{
		Reason: reason, At: at, Dialect: ev.Dialect, Room: ev.Call.Room, CallID: ev.Call.CallID,
		UserID: sender, DeviceID: ev.DeviceID, Detail: detail,
	}
	for _, k := range ev.Keys {
		r.Indices = append(r.Indices, k.Index)
	}
	return r
}
