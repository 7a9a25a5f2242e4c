// Package statuspage renders the operators' status page: a server-rendered
// HTML view of the calls, their members, our own seats, the 1:1 calls to
// the bot, recordings and the recent refusals and enforcement actions,
// with no JavaScript. It holds
// only plain view structs and the templates; cmd/coordinator fills a View
// from the components that own the data. Everything shown passes through
// html/template's contextual escaping: user ids, display names, device ids
// and room names are attacker-controlled.
package statuspage

import (
	"fmt"
	"time"
)

// View is everything one rendering of the page shows. A section whose
// owner did not answer has its Unavailable note set instead of data.
type View struct {
	Now     time.Time
	Version string
	Started time.Time
	// Refresh is the page's self-refresh period in seconds; 0: paused.
	Refresh int

	Health []Health

	Calls            []Call
	CallsUnavailable string
	// CallsHidden counts the calls past MaxCalls, not shown.
	CallsHidden int

	// Direct are the 1:1 calls to the bot, DirectActive of them answered
	// of at most DirectMax (calls.direct DirectMode).
	Direct                  []DirectCall
	DirectMode              string
	DirectActive, DirectMax int
	DirectUnavailable       string

	Recordings            []Recording
	RecordingsTruncated   bool
	RecordingsUnavailable string

	Refusals            []Refusal
	RefusalsUnavailable string

	Enforcement            []Action
	EnforcementUnavailable string

	Delegations            []Delegation
	DelegationsSent        []DelegationSent
	DelegationsUnavailable string
}

// Health is one component's state in the header: SFU, homeserver sync,
// an engine.
type Health struct {
	Name   string
	OK     bool
	State  string
	Detail string
}

// Call is one call we track, with what we do in it.
type Call struct {
	RoomID      string
	RoomName    string
	CallID      string
	Application string
	Dialects    []string
	// Engine carries the call (livekit, mesh; "" when we do not take
	// part), EngineState its state there.
	Engine      string
	EngineState string
	EngineError string
	// Decision is the supervisor's (joined, refused, uncarried) and why.
	Decision string
	Reason   string
	Features []string
	Seats    []Seat
	Members  []Member
	Keys     []KeyHolder
	// MembersHidden counts the members past MaxMembers, not shown.
	MembersHidden int
}

// The page's bounds: a page for a glance stays small however busy the
// server (a thousand calls would be megabytes every few seconds); the
// JSON admin API lists everything.
const (
	MaxCalls   = 100
	MaxMembers = 100
)

// bounded is v with at most MaxCalls calls of at most MaxMembers members
// (and key holders) each, counting what it left out. v's slices are not
// changed.
func (v View) bounded() View {
	if len(v.Calls) > MaxCalls {
		v.CallsHidden += len(v.Calls) - MaxCalls
		v.Calls = v.Calls[:MaxCalls]
	}
	calls := make([]Call, len(v.Calls))
	for i, c := range v.Calls {
		if len(c.Members) > MaxMembers {
			c.MembersHidden += len(c.Members) - MaxMembers
			c.Members = c.Members[:MaxMembers]
		}
		if len(c.Keys) > MaxMembers {
			c.Keys = c.Keys[:MaxMembers]
		}
		calls[i] = c
	}
	v.Calls = calls
	return v
}

// Seat is one of our own memberships in the call and its delayed leave.
type Seat struct {
	Dialect      string
	State        string
	Reason       string
	MembershipID string
	DelayedLeave bool
	LeaveDelay   string
	// LastRestart is the delayed leave's last successful restart,
	// RestartFailures how many failed.
	LastRestart     time.Time
	RestartFailures int
	JoinedAt        time.Time
	LastWrite       time.Time
	LastError       string
}

// Member is one member device of a call.
type Member struct {
	UserID       string
	DisplayName  string
	DeviceID     string
	Dialect      string
	MembershipID string
	ExpiresAt    time.Time
	// KeysHeld lists the key indices we hold for this device; nil: none.
	KeysHeld []int
	// Ours marks the coordinator's own membership.
	Ours bool
}

// KeyHolder is one participant whose media keys we hold (never the keys).
type KeyHolder struct {
	Identity string
	Current  int
	Keys     []Key
}

// Key is one held key's index and arrival.
type Key struct {
	Index   int
	Arrived time.Time
}

// DirectCall is one 1:1 call to the bot.
type DirectCall struct {
	Caller string
	Room   string
	Device string // the caller's, if the invite named it
	Since  time.Time
	State  string
	// EndsBy is when calls.direct_max_duration hangs up; zero until
	// answered.
	EndsBy time.Time
}

// Recording is one recording folder.
type Recording struct {
	Dir      string
	Room     string
	State    string
	Started  time.Time
	Duration time.Duration // 0: unknown or still running
	Bytes    int64
	Note     string // stop reason, error
}

// Refusal is one refused key event.
type Refusal struct {
	At       time.Time
	Room     string
	UserID   string
	DeviceID string
	Reason   string
}

// Action is one enforcement action on LiveKit.
type Action struct {
	At          time.Time
	Kind        string // removed participant, deleted room
	LiveKitRoom string
	Identity    string
	Reason      string
}

// Delegation is one delegated delayed leave held.
type Delegation struct {
	UserID      string
	DeviceID    string
	LiveKitRoom string
	State       string
	Delay       time.Duration
	AddedAt     time.Time
	LastRestart time.Time
}

// DelegationSent is one delegated leave sent lately.
type DelegationSent struct {
	At          time.Time
	UserID      string
	DeviceID    string
	LiveKitRoom string
	Reason      string
	Result      string
}

// Uptime is how long the coordinator has run, to the second.
func (v View) Uptime() string { return span(v.Now.Sub(v.Started)) }

// Ago says how long before the page's time t was ("never" for zero).
func (v View) Ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := v.Now.Sub(t)
	if d < 0 {
		return "in " + span(-d)
	}
	return span(d) + " ago"
}

// In says how long after the page's time t is ("" for zero; "past" once
// it has gone by).
func (v View) In(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(v.Now)
	if d < 0 {
		return span(-d) + " ago"
	}
	return "in " + span(d)
}

// Clock is t in UTC to the second, for absolute times.
func (v View) Clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// span writes d briefly: 45s, 3m05s, 2h07m, 3d04h.
func span(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// Span is span for templates (durations such as a recording's length).
func (View) Span(d time.Duration) string { return span(d) }

// Size writes a byte count briefly.
func (View) Size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
