package mesh

import (
	"cmp"
	"slices"
	"time"
)

// directPhase is where a 1:1 call is; connected is the Peer's to say.
type directPhase int32

const (
	phaseChecking  directPhase = iota // is the room a direct room?
	phaseRejecting                    // busy: the reject is being sent
	phaseAnswering
	phaseEnded
)

// The states of DirectCallSnapshot.
const (
	DirectChecking  = "checking"
	DirectRejecting = "rejecting"
	DirectAnswering = "answering"
	DirectConnected = "connected"
	DirectEnded     = "ended"
)

// DirectStates are every state a DirectCallSnapshot can have.
var DirectStates = []string{DirectChecking, DirectRejecting, DirectAnswering, DirectConnected, DirectEnded}

// DirectCallSnapshot describes a 1:1 call to the bot for operators.
type DirectCallSnapshot struct {
	Room   string `json:"room_id"`
	CallID string `json:"call_id"`
	Caller string `json:"caller"`
	// CallerDevice is the invite's device_id; legacy clients send none.
	CallerDevice string    `json:"caller_device,omitempty"`
	Invited      time.Time `json:"invited"`
	State        string    `json:"state"`
	// EndsBy is when calls.direct_max_duration hangs up; zero until
	// answered. Left is the time until then.
	EndsBy      time.Time `json:"ends_by,omitzero"`
	LeftSeconds int64     `json:"left_seconds,omitempty"`
}

// Calls lists the 1:1 calls under way (being checked, answered, ending),
// oldest invite first. Safe from any goroutine.
func (d *Direct) Calls() []DirectCallSnapshot {
	now := d.now()
	d.mu.Lock()
	out := make([]DirectCallSnapshot, 0, len(d.calls))
	for k, c := range d.calls {
		out = append(out, c.snapshot(k, now))
	}
	d.mu.Unlock()
	slices.SortFunc(out, func(a, b DirectCallSnapshot) int {
		return cmp.Or(a.Invited.Compare(b.Invited), cmp.Compare(a.Room, b.Room), cmp.Compare(a.CallID, b.CallID))
	})
	return out
}

// Counts are the calls answered and running, and calls.direct_max.
func (d *Direct) Counts() (active, max int) { return int(d.active.Load()), d.cfg.Max }

func (c *directCall) snapshot(k directKey, now time.Time) DirectCallSnapshot {
	s := DirectCallSnapshot{Room: k.room, CallID: k.callID, Caller: c.caller, CallerDevice: c.device, Invited: c.invited}
	switch directPhase(c.phase.Load()) {
	case phaseChecking:
		s.State = DirectChecking
	case phaseRejecting:
		s.State = DirectRejecting
	case phaseEnded:
		s.State = DirectEnded
	default:
		switch {
		case c.peer.Ended():
			s.State = DirectEnded
		case c.peer.Connected():
			s.State = DirectConnected
		default:
			s.State = DirectAnswering
		}
	}
	if ns := c.deadline.Load(); ns != 0 && s.State != DirectEnded {
		s.EndsBy = time.Unix(0, ns)
		s.LeftSeconds = int64(max(s.EndsBy.Sub(now), 0) / time.Second)
	}
	return s
}
