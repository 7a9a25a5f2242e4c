package membership

import (
	"sort"
	"sync"
	"time"
)

// SeatStatus is the state of one membership of ours, for the admin view.
type SeatStatus struct {
	Room         string    `json:"room_id"`
	Application  string    `json:"application"`
	CallID       string    `json:"call_id"`
	Scope        string    `json:"scope"`
	Dialect      string    `json:"dialect"`
	State        string    `json:"state"`            // starting, joined, retrying, leaving; refused (by the supervisor)
	Reason       string    `json:"reason,omitempty"` // why a seat is refused (a bound on seats)
	StateKey     string    `json:"state_key,omitempty"`
	MembershipID string    `json:"membership_id,omitempty"`
	Foci         []Focus   `json:"foci,omitempty"`
	DelayedLeave bool      `json:"delayed_leave"`
	LeaveDelay   string    `json:"leave_delay,omitempty"`
	JoinedAt     time.Time `json:"joined_at,omitzero"`
	LastWrite    time.Time `json:"last_write,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	// LastRestart is the delayed leave's last successful restart;
	// RestartFailures counts its failed restarts (presence_restarts.go).
	LastRestart     time.Time `json:"last_restart,omitzero"`
	RestartFailures int       `json:"restart_failures,omitempty"`
}

// board is where seats publish their state; the admin API reads it.
type board struct {
	mu    sync.Mutex
	seats map[SeatKey]*SeatStatus
}

func (b *board) set(k SeatKey, f func(*SeatStatus)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.seats[k]
	if st == nil {
		fresh := NewSeatStatus(k)
		st = &fresh
		b.seats[k] = st
	}
	f(st)
}

// NewSeatStatus is the admin view of seat k before anything is known of it.
func NewSeatStatus(k SeatKey) SeatStatus {
	return SeatStatus{Room: string(k.Call.Room), Application: k.Call.Application, CallID: k.Call.CallID,
		Scope: k.Call.Scope, Dialect: k.Dialect.String()}
}

func (b *board) drop(k SeatKey) {
	b.mu.Lock()
	delete(b.seats, k)
	b.mu.Unlock()
}

// Seats lists our memberships and their state, ordered by room, call and
// dialect.
func (p *Presence) Seats() []SeatStatus {
	p.board.mu.Lock()
	out := make([]SeatStatus, 0, len(p.board.seats))
	for _, st := range p.board.seats {
		out = append(out, *st)
	}
	p.board.mu.Unlock()
	SortSeats(out)
	return out
}

// SortSeats orders an admin list of seats by room, call and dialect.
func SortSeats(out []SeatStatus) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Room != out[j].Room {
			return out[i].Room < out[j].Room
		}
		if out[i].CallID != out[j].CallID {
			return out[i].CallID < out[j].CallID
		}
		return out[i].Dialect < out[j].Dialect
	})
}
