package delegation

import (
	"fmt"

	"github.com/livekit/protocol/livekit"
)

// LiveKit webhook event names (livekit/protocol webhook package).
const (
	webhookParticipantJoined            = "participant_joined"
	webhookParticipantLeft              = "participant_left"
	webhookParticipantConnectionAborted = "participant_connection_aborted"
)

// EventKind is what a LiveKit webhook says about a participant.
type EventKind int

const (
	EventUnknown EventKind = iota
	// EventJoined: participant_joined.
	EventJoined
	// EventLeftIntentionally: participant_left or
	// participant_connection_aborted with disconnect reason
	// CLIENT_INITIATED.
	EventLeftIntentionally
	// EventConnectionAborted: participant_left or
	// participant_connection_aborted for any other reason.
	EventConnectionAborted
)

func (k EventKind) String() string {
	switch k {
	case EventUnknown:
		return "Unknown"
	case EventJoined:
		return "Joined"
	case EventLeftIntentionally:
		return "LeftIntentionally"
	case EventConnectionAborted:
		return "ConnectionAborted"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// signal maps a webhook kind to its state-machine input.
func (k EventKind) signal() signal {
	switch k {
	case EventJoined:
		return sigJoined
	case EventLeftIntentionally:
		return sigLeft
	case EventConnectionAborted:
		return sigConnAborted
	}
	return sigUnknown
}

// Event is a webhook about one participant, routed to the job keyed by
// (Room, Identity).
type Event struct {
	Kind           EventKind
	Room, Identity string
}

// EventFromWebhook maps a verified LiveKit webhook to an Event. It reports
// false for every other event and for events without a room name or
// participant identity.
func EventFromWebhook(ev *livekit.WebhookEvent) (Event, bool) {
	var kind EventKind
	switch ev.GetEvent() {
	case webhookParticipantJoined:
		kind = EventJoined
	case webhookParticipantLeft, webhookParticipantConnectionAborted:
		kind = EventConnectionAborted
		if ev.GetParticipant().GetDisconnectReason() == livekit.DisconnectReason_CLIENT_INITIATED {
			kind = EventLeftIntentionally
		}
	default:
		return Event{}, false
	}
	out := Event{Kind: kind, Room: ev.GetRoom().GetName(), Identity: ev.GetParticipant().GetIdentity()}
	if out.Room == "" || out.Identity == "" {
		return Event{}, false
	}
	return out, true
}
