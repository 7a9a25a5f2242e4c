package mesh

import (
	"encoding/json"
	"fmt"
	"time"
)

// The pure rules of 1:1 calls to the bot (Direct): which room events of a
// sync are taken, and which invites are for us. Reference: famedly-voip.md
// §4.5 (batch filters, the initial-sync rule).

// DirectMode is what the bot does when called in a direct room.
type DirectMode uint8

const (
	// DirectEcho answers with the echo test.
	DirectEcho DirectMode = iota + 1
	// DirectReject declines with m.call.reject.
	DirectReject
	// DirectIgnore lets the invite ring out unanswered.
	DirectIgnore
)

// DirectModes names the modes, as configured.
var DirectModes = map[string]DirectMode{"echo": DirectEcho, "reject": DirectReject, "ignore": DirectIgnore}

func (m DirectMode) String() string {
	for name, v := range DirectModes {
		if v == m {
			return name
		}
	}
	return fmt.Sprintf("DirectMode(%d)", uint8(m))
}

// RoomEvent is one call event of a room's timeline as the sync delivered
// it (decrypted if it came Megolm-encrypted).
type RoomEvent struct {
	RoomID, Sender, EventID, Type string
	Content                       json.RawMessage
	// Sent is the origin_server_ts; Age the unsigned age when the
	// homeserver gave one (0: absent), which is preferred, as the SDK does.
	Sent time.Time
	Age  time.Duration
}

// RoomBatch is one room's call events of one sync response, in timeline
// order. Initial marks the first sync of a run (a backlog, never acted on,
// as the SDK skips room call events of the initial sync).
type RoomBatch struct {
	RoomID  string
	Events  []RoomEvent
	Initial bool
}

// RoomSignal is a decoded room event of a batch that passed the filters.
type RoomSignal struct {
	RoomEvent
	Signal Signal
}

// Refused is a room event the filters dropped, and why (for the log).
type Refused struct {
	Event  RoomEvent
	Reason string
}

// FilterBatch decodes a batch's events and applies the batch rules:
//   - an initial batch is dropped whole (backlog);
//   - our own events (self) and undecodable ones are dropped;
//   - invite, candidates, negotiate and metadata changes of a call that the
//     same batch answers, hangs up or rejects are dropped (the call is over
//     or taken before we could act);
//   - an invite older than its lifetime (age, else now − sent) is dropped.
//     Unlike the SDK (defect 10) it does not wipe the rest of the batch.
//
// The order of what is kept is the timeline's.
func FilterBatch(b RoomBatch, self string, now time.Time) (kept []RoomSignal, refused []Refused) {
	if b.Initial {
		for _, e := range b.Events {
			refused = append(refused, Refused{e, "initial sync backlog"})
		}
		return nil, refused
	}
	decoded := make([]RoomSignal, 0, len(b.Events))
	ended := map[string]bool{}
	for _, e := range b.Events {
		if e.Sender == self {
			continue // our own events, echoed by the sync
		}
		s, err := Decode(e.Type, e.Content)
		if err != nil {
			refused = append(refused, Refused{e, err.Error()})
			continue
		}
		if s.Dialect != Room {
			refused = append(refused, Refused{e, "not a room call event"})
			continue
		}
		switch s.Kind() {
		case KindAnswer, KindHangup, KindReject:
			ended[s.Call.CallID] = true
		}
		decoded = append(decoded, RoomSignal{RoomEvent: e, Signal: s})
	}
	for _, rs := range decoded {
		switch rs.Signal.Kind() {
		case KindInvite, KindCandidates, KindNegotiate, KindStreamMetadataChanged:
			if ended[rs.Signal.Call.CallID] {
				refused = append(refused, Refused{rs.RoomEvent, "its call ends in the same batch"})
				continue
			}
		}
		if inv, ok := rs.Signal.Body.(*Invite); ok && InviteExpired(rs.RoomEvent, inv, now) {
			refused = append(refused, Refused{rs.RoomEvent, "invite older than its lifetime"})
			continue
		}
		kept = append(kept, rs)
	}
	return kept, refused
}

// InviteExpired says whether an invite is older than its lifetime: by its
// unsigned age when the homeserver gave one, else by its timestamp.
func InviteExpired(e RoomEvent, inv *Invite, now time.Time) bool {
	age := e.Age
	if age <= 0 {
		age = now.Sub(e.Sent)
	}
	return age >= time.Duration(inv.Lifetime)*time.Millisecond
}

// InviteForUs says whether an invite addresses the bot: invitee absent or
// the bot's user, invitee_device_id absent or the bot's device.
func InviteForUs(inv *Invite, user, device string) bool {
	return (inv.Invitee == "" || inv.Invitee == user) && (inv.InviteeDeviceID == "" || inv.InviteeDeviceID == device)
}

// IsDirectRoom is the rule for a direct room: its joined members are
// exactly the bot and the caller. m.direct is not trusted for this: it is
// the caller's own account data, which the bot cannot read, and a room
// marked direct may have grown; a big room never gets an automatic answer.
func IsDirectRoom(joined []string, bot, caller string) bool {
	if len(joined) != 2 || bot == caller {
		return false
	}
	return (joined[0] == bot && joined[1] == caller) || (joined[0] == caller && joined[1] == bot)
}
