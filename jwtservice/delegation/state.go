package delegation

import "fmt"

// State is where a delegated job is in its lifecycle. transition is the
// whole machine:
//
//	WaitingForInitialConnect ──Joined, Found──────────────▶ Connected
//	WaitingForInitialConnect ──ConnAborted────────────────▶ Aborted
//	WaitingForInitialConnect ──WaitExpired────────────────▶ Disconnected
//	Connected                ──Left───────────────────────▶ Disconnected
//	Connected                ──ConnAborted, Gone──────────▶ Departing
//	Connected, Departing     ──RestartGone, RestartFailed─▶ Aborted
//	Departing                ──Joined, Found──────────────▶ Connected
//	Departing                ──Left, Gone─────────────────▶ Disconnected
//	Disconnected             ──Sent, SendFailed───────────▶ Done
//	any non-terminal state   ──Replaced───────────────────▶ Replaced
//
// Entering Connected restarts the delayed event at once and then every 80 %
// of its timeout; Departing keeps restarting it for the reconnect grace,
// then looks the participant up once more (Found or Gone); entering
// Disconnected sends it. With no grace configured Departing is skipped.
// Done, Aborted and Replaced are terminal: the job leaves the table.
type State int

const (
	StateUnknown State = iota
	// StateWaitingForInitialConnect: the participant has not been seen on
	// the SFU yet; GetParticipant is polled with backoff.
	StateWaitingForInitialConnect
	// StateConnected: the participant is on the SFU; the delayed event is
	// restarted periodically.
	StateConnected
	// StateDisconnected: the participant left; the delayed event is being
	// sent (with retries).
	StateDisconnected
	// StateDeparting: the participant was seen leaving without saying so
	// (connection aborted, or absent from LiveKit); it may come back within
	// the reconnect grace.
	StateDeparting
	// StateDone: the send finished (the leave happened, was already
	// sent, or retries ran out).
	StateDone
	// StateAborted: the job ended without sending (connection aborted
	// before connecting, or the delayed event is gone or could not be
	// restarted in time, so it has fired or will fire by itself).
	StateAborted
	// StateReplaced: a newer job for the same participant took over.
	StateReplaced
)

func (s State) String() string {
	switch s {
	case StateUnknown:
		return "Unknown"
	case StateWaitingForInitialConnect:
		return "WaitingForInitialConnect"
	case StateConnected:
		return "Connected"
	case StateDisconnected:
		return "Disconnected"
	case StateDeparting:
		return "Departing"
	case StateDone:
		return "Done"
	case StateAborted:
		return "Aborted"
	case StateReplaced:
		return "Replaced"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Terminal reports whether s ends the job.
func (s State) Terminal() bool {
	return s == StateDone || s == StateAborted || s == StateReplaced
}

// signal is an input of the state machine.
type signal int

const (
	sigUnknown       signal = iota
	sigJoined               // webhook participant_joined
	sigFound                // phase-1 GetParticipant found the participant
	sigLeft                 // webhook left, client initiated
	sigConnAborted          // webhook left or connection aborted, other reasons
	sigWaitExpired          // the initial-connect wait ran out
	sigGone                 // phase-2 sanity check: participant not found
	sigRestartGone          // restart answered 404: the delayed event is gone
	sigRestartFailed        // restart could not succeed before the deadline
	sigSent                 // send succeeded or the event had already fired (404)
	sigSendFailed           // send retries ran out
	sigReplaced             // a newer job for the same participant was added
	sigObservedGone         // a listing of the room (ours or the enforcer's) did not have the participant
)

func (s signal) String() string {
	switch s {
	case sigUnknown:
		return "Unknown"
	case sigJoined:
		return "Joined"
	case sigFound:
		return "Found"
	case sigLeft:
		return "Left"
	case sigConnAborted:
		return "ConnAborted"
	case sigWaitExpired:
		return "WaitExpired"
	case sigGone:
		return "Gone"
	case sigRestartGone:
		return "RestartGone"
	case sigRestartFailed:
		return "RestartFailed"
	case sigSent:
		return "Sent"
	case sigSendFailed:
		return "SendFailed"
	case sigReplaced:
		return "Replaced"
	case sigObservedGone:
		return "NotListed"
	}
	return fmt.Sprintf("signal(%d)", int(s))
}

// transition is the whole state machine: the next state for s on sig, and
// whether there is one. Pairs not listed are ignored (duplicate webhooks,
// late results, a left webhook of an earlier session while waiting).
func transition(s State, sig signal) (State, bool) {
	if sig == sigReplaced && !s.Terminal() && s != StateUnknown {
		return StateReplaced, true
	}
	switch s {
	case StateWaitingForInitialConnect:
		switch sig {
		case sigJoined, sigFound:
			return StateConnected, true
		case sigConnAborted:
			return StateAborted, true
		case sigWaitExpired:
			return StateDisconnected, true
		}
	case StateConnected:
		switch sig {
		case sigLeft:
			return StateDisconnected, true
		case sigConnAborted, sigGone, sigObservedGone:
			return StateDeparting, true
		case sigRestartGone, sigRestartFailed:
			return StateAborted, true
		}
	case StateDeparting:
		switch sig {
		case sigJoined, sigFound:
			return StateConnected, true
		case sigLeft, sigGone:
			return StateDisconnected, true
		case sigRestartGone, sigRestartFailed:
			return StateAborted, true
		}
	case StateDisconnected:
		switch sig {
		case sigSent, sigSendFailed:
			return StateDone, true
		}
	}
	return s, false
}
