package matrixbot

import (
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Kind says what an Event carries.
type Kind int

const (
	KindUnknown Kind = iota
	// KindState is a room state event (Evt has a state key). Source says
	// whether it came from the sync's state, state_after or timeline section.
	KindState
	// KindTimeline is a non-state room timeline event (or an MSC4354 sticky
	// event, Source == SourceSticky), possibly decrypted (Decrypted) or
	// encrypted with a key the bot lacks (Undecryptable).
	KindTimeline
	// KindToDevice is a to-device event. Olm-encrypted ones arrive
	// decrypted (Encrypted set, see Event); plain ones as delivered.
	KindToDevice
	// KindDeviceLists carries the sync's device_lists (changed/left users).
	KindDeviceLists
	// KindOTKCounts carries the one-time-key counts and unused fallback key
	// types of the bot's device.
	KindOTKCounts
	// KindMembership is a change of the bot's own membership in RoomID
	// (Membership: join, invite, leave or ban).
	KindMembership
	// KindSyncDone ends the events of one sync response; Batch is its
	// next_batch token.
	KindSyncDone
	// KindSyncFailed: a sync request (or handing its response over) failed
	// and is retried; Err says why. Until the next KindSyncDone the
	// consumer's view is not current: joins, leaves and keys may be
	// missing. Not emitted when Run's context ends.
	KindSyncFailed
)

func (k Kind) String() string {
	switch k {
	case KindState:
		return "state"
	case KindTimeline:
		return "timeline"
	case KindToDevice:
		return "to_device"
	case KindDeviceLists:
		return "device_lists"
	case KindOTKCounts:
		return "otk_counts"
	case KindMembership:
		return "membership"
	case KindSyncDone:
		return "sync_done"
	case KindSyncFailed:
		return "sync_failed"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Source says which part of a sync response a room event came from.
type Source int

const (
	SourceUnknown    Source = iota
	SourceState             // rooms.*.state: state before the timeline (delta, or full on an initial sync)
	SourceStateAfter        // rooms.*.state_after (MSC4222): state after the timeline
	SourceTimeline          // rooms.*.timeline
	SourceSticky            // rooms.join.*.msc4354_sticky
	SourceInvite            // rooms.invite.*.invite_state (stripped state)
)

func (s Source) String() string {
	switch s {
	case SourceState:
		return "state"
	case SourceStateAfter:
		return "state_after"
	case SourceTimeline:
		return "timeline"
	case SourceSticky:
		return "sticky"
	case SourceInvite:
		return "invite_state"
	default:
		return fmt.Sprintf("Source(%d)", int(s))
	}
}

// Event is one item of the Events stream. Which fields are set depends on Kind.
type Event struct {
	Kind   Kind
	RoomID id.RoomID // KindState, KindTimeline, KindMembership
	Source Source    // KindState, KindTimeline

	// Evt is the Matrix event for KindState, KindTimeline and KindToDevice
	// (RoomID filled in; content of known types parsed, custom types in
	// Content.Raw/VeryRaw); for KindMembership the bot's m.room.member event
	// when the sync included it (may be nil).
	Evt *event.Event

	// KindMembership: the bot's new membership, who caused it (inviter,
	// kicker, banner; the bot itself for a join or a voluntary leave) and
	// the reason given, if any. KindToDevice: Sender is the sender.
	Membership event.Membership
	Sender     id.UserID
	Reason     string

	// KindTimeline from an encrypted room (see crypto_room.go): sticky
	// m.room.encrypted events, and non-sticky ones of the timeline (room
	// messages) sent within MessageWindow before the bot saw them.
	// Decrypted: Evt arrived Megolm-encrypted and is given decrypted (same
	// event ID, sender, timestamp and stickiness, content parsed, any type;
	// Source as it arrived; Evt.Mautrix.TrustState says how far the session
	// is tied to a device of the sender), whether at once or later when its
	// key came. Undecryptable (sticky events only): Evt is the encrypted
	// event, whose room key the bot lacks; it has asked for the key and
	// emits the event again, Decrypted, if the key comes within the event's
	// stickiness. Each undecryptable event is emitted once per run. A
	// message whose key is missing is not emitted (no consumer can use it):
	// the bot asks for the key and emits it Decrypted if the key comes
	// within its window.
	//
	// Room messages (m.room.message, plain or encrypted) older than
	// MessageWindow are never emitted, so an initial sync's backlog of
	// commands is not run again.
	Decrypted     bool
	Undecryptable bool

	// KindToDevice: Encrypted says the event came Olm-encrypted; Evt is then
	// the decrypted event (its type and content; the sender was checked
	// against the Olm payload). SenderKey is the sender's Curve25519
	// identity key, SenderDevice the device the Olm machine found with that
	// key ("" when none is known: then nothing ties the event to a device).
	// A plain event carries Encrypted false and no keys.
	Encrypted    bool
	SenderDevice id.DeviceID
	SenderKey    id.SenderKey

	DeviceLists  *mautrix.DeviceLists // KindDeviceLists
	OTKCounts    *mautrix.OTKCount    // KindOTKCounts
	FallbackKeys []id.KeyAlgorithm    // KindOTKCounts: unused fallback key types

	// KindSyncDone: the next_batch token and whether the response was a
	// full snapshot of every joined room's state rather than a delta: the
	// initial sync (no since token), and the first sync of every run
	// (full_state), so in-memory consumers start complete after a restart.
	Batch   string
	Initial bool

	// KindSyncFailed: the failure.
	Err error
}
