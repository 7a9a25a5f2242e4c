package calls

import (
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// ErrNotCarried is wrapped by an engine asked to act on a call it does not
// carry; it is media's, the seam every engine imports.
var ErrNotCarried = media.ErrCallNotCarried

// Engine carries calls' media: the LiveKit SFU participant, the mesh. The
// supervisor calls Carry and Release from one goroutine; Health and
// CallState may also be called by the admin view, from any goroutine. No
// method may block on the network (an engine hands the work to its own
// goroutines).
type Engine interface {
	// Name names the engine in logs and the admin view ("livekit", "mesh").
	Name() string
	// CanCarry reports whether the engine can carry a call whose members
	// use focus (by its type: "livekit", "mesh").
	CanCarry(focus membership.Focus) bool
	// Carry starts carrying call on focus, or moves it to a new focus in
	// place when it already carries it.
	Carry(call membership.CallKey, focus membership.Focus)
	// Release stops carrying call.
	Release(call membership.CallKey)
	// SetFeatures sets the media features of a call the engine carries
	// (after Carry; again whenever the set changes): a feature whose name
	// is already running keeps running, new names start (once the call is
	// connected; each is offered the call's current sources), names no
	// longer listed are closed. Unknown calls are ignored.
	SetFeatures(call membership.CallKey, features []media.Factory)
	// StartFeature runs a one-off feature (an announcement) on a carried
	// call beside its set, until it finishes (media.Finisher) or the call
	// ends. It returns an error wrapping ErrNotCarried for a call the
	// engine does not carry.
	StartFeature(call membership.CallKey, f media.Factory) error
	// Health reports whether the engine can take new calls, and why not.
	Health() (ok bool, reason string)
	// CallState describes a carried call for the admin view.
	CallState(call membership.CallKey) string
}

// callFocus is the focus a call's members use, read from its oldest member
// (clients adopt it): a MatrixRTC member's preferred focus names the
// service (its active focus only says "oldest membership"), a Famedly
// member's first active focus is the call's.
func callFocus(m membership.Member) (membership.Focus, bool) {
	if len(m.Preferred) > 0 {
		return m.Preferred[0], true
	}
	if len(m.ActiveFoci) > 0 {
		return m.ActiveFoci[0], true
	}
	return membership.Focus{}, false
}

// seatFoci is what our seat announces for a call whose oldest member is m:
// Famedly its active foci (the writer takes the first), MatrixRTC its
// preferred foci or, without them, its first active focus that names a
// service.
func seatFoci(d membership.Dialect, m membership.Member) []membership.Focus {
	if d != membership.DialectMatrixRTC {
		return m.ActiveFoci
	}
	if len(m.Preferred) > 0 {
		return m.Preferred
	}
	for _, f := range m.ActiveFoci {
		if f.LiveKitServiceURL != "" {
			return []membership.Focus{{Type: f.Type, LiveKitServiceURL: f.LiveKitServiceURL, LiveKitAlias: f.LiveKitAlias}}
		}
	}
	return nil
}
