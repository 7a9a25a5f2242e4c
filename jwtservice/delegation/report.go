package delegation

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
)

// sentLogSize is how many sent leaves the report keeps.
const sentLogSize = 100

// Report is the operators' view of the delegated leaves: the jobs held and
// the leaves sent lately. It never includes a delay id (a capability).
type Report struct {
	Jobs []JobReport  `json:"jobs"`
	Sent []SentReport `json:"sent"`
}

// JobReport describes one held job.
type JobReport struct {
	UserID      string    `json:"user_id"`
	DeviceID    string    `json:"device_id"`
	Room        string    `json:"livekit_room"`
	Identity    string    `json:"livekit_identity"`
	DelayMS     int64     `json:"delay_ms"`
	AddedAt     time.Time `json:"added_at"`
	LastRestart time.Time `json:"last_restart,omitzero"`
	State       string    `json:"state"`
}

// SentReport is one leave the manager sent, and why.
type SentReport struct {
	UserID   string    `json:"user_id"`
	DeviceID string    `json:"device_id"`
	Room     string    `json:"livekit_room"`
	Identity string    `json:"livekit_identity"`
	At       time.Time `json:"at"`
	// Reason is how the participant left: Left (it said so), ConnAborted
	// (LiveKit's webhook: its connection ended), NotListed (a listing of
	// the room, ours or the enforcer's, lacked it), Gone (a lookup of it
	// failed to find it, e.g. right after a restart), WaitExpired (it never
	// connected).
	Reason string `json:"reason"`
	// Result is sent, or failed (retries ran out; the homeserver fires
	// the event at its deadline).
	Result string `json:"result"`
}

// sentLog is a ring of the latest sent leaves; owned by the actor.
type sentLog struct {
	buf  []SentReport
	next int
}

func (l *sentLog) add(r SentReport) {
	if len(l.buf) < sentLogSize {
		l.buf = append(l.buf, r)
		return
	}
	l.buf[l.next] = r
	l.next = (l.next + 1) % sentLogSize
}

// all returns the entries, newest first.
func (l *sentLog) all() []SentReport {
	out := append(slices.Clone(l.buf[l.next:]), l.buf[:l.next]...)
	slices.Reverse(out)
	return out
}

func (a *actor) logSent(j *job, sig signal, now time.Time) {
	result := "sent"
	if sig == sigSendFailed {
		result = "failed"
	}
	a.sends.add(SentReport{UserID: j.p.UserID, DeviceID: j.p.DeviceID, Room: j.p.Room, Identity: j.p.Identity,
		At: now.UTC(), Reason: j.reason, Result: result})
}

func (a *actor) report() Report {
	r := Report{Jobs: make([]JobReport, 0, len(a.jobs)), Sent: a.sends.all()}
	for _, j := range a.jobs {
		r.Jobs = append(r.Jobs, JobReport{UserID: j.p.UserID, DeviceID: j.p.DeviceID, Room: j.p.Room,
			Identity: j.p.Identity, DelayMS: j.p.DelayTimeout.Milliseconds(), AddedAt: j.addedAt.UTC(),
			LastRestart: j.restarted.UTC(), State: j.state.String()})
	}
	slices.SortFunc(r.Jobs, func(x, y JobReport) int {
		return strings.Compare(x.UserID+"\x00"+x.Room+"\x00"+x.Identity, y.UserID+"\x00"+y.Room+"\x00"+y.Identity)
	})
	return r
}

// Report asks the actor for the current view; it fails with
// ErrShuttingDown once Run has ended, or with ctx's error.
func (m *Manager) Report(ctx context.Context) (Report, error) {
	reply := make(chan Report, 1)
	select {
	case m.reports <- reply:
		return <-reply, nil
	case <-m.stopped:
		return Report{}, ErrShuttingDown
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
}

// AdminHandler serves m's Report as JSON (GET); the caller puts it behind
// the admin authentication.
func AdminHandler(m *Manager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, err := m.Report(r.Context())
		if err != nil {
			httpserve.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"errcode": "M_UNKNOWN", "error": "delegation not running"})
			return
		}
		httpserve.WriteJSON(w, http.StatusOK, rep)
	})
}
