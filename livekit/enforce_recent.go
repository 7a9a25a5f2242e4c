package livekit

import (
	"slices"
	"sync"
	"time"
)

// recentActionsMax bounds the enforcer's memory of its actions.
const recentActionsMax = 50

// Enforcement action kinds.
const (
	ActionRemoved = "removed participant"
	ActionDeleted = "deleted room"
)

// EnforceAction is one thing the enforcer did to LiveKit, for the status
// page.
type EnforceAction struct {
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`
	LiveKitRoom string    `json:"livekit_room"`
	Identity    string    `json:"identity,omitempty"` // the participant removed
	Reason      string    `json:"reason"`
}

// recentActions keeps the latest actions, oldest first. Run's goroutine
// adds; readers copy under the lock. Its zero value is ready.
type recentActions struct {
	mu  sync.Mutex
	buf []EnforceAction
}

func (r *recentActions) add(a EnforceAction) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == recentActionsMax { // actions are rare: shifting 50 is nothing
		r.buf = slices.Delete(r.buf, 0, 1)
	}
	r.buf = append(r.buf, a)
}

// Recent lists the enforcer's latest actions (at most 50), newest first.
func (e *Enforcer) Recent() []EnforceAction {
	e.recent.mu.Lock()
	out := slices.Clone(e.recent.buf)
	e.recent.mu.Unlock()
	slices.Reverse(out)
	return out
}

// noted records an action done now.
func (e *Enforcer) noted(kind, room, ident string) {
	reason := "no valid Matrix call membership for the whole grace period (" + e.cfg.Grace.String() + ")"
	if kind == ActionDeleted {
		reason = "no valid Matrix call member, and every participant had the whole grace period (" + e.cfg.Grace.String() + ")"
	}
	e.recent.add(EnforceAction{At: e.clock.Now().UTC(), Kind: kind, LiveKitRoom: room, Identity: ident, Reason: reason})
}
