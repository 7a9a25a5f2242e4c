package e2ee

import (
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
)

// refusalLog keeps the last max refusals, oldest first. One log for all
// rooms: refusals name rooms the sender chose, so a per-room log would let
// a sender grow it without bound.
type refusalLog struct {
	max   int
	items []Refusal
}

func (l *refusalLog) add(r Refusal) {
	if len(l.items) >= l.max {
		n := copy(l.items, l.items[1:])
		l.items = l.items[:n]
	}
	l.items = append(l.items, r)
}

// ReportFilter narrows a report; zero fields match everything.
type ReportFilter struct {
	Room     id.RoomID
	Identity string
}

func (f ReportFilter) matches(p Participant) bool {
	return (f.Room == "" || p.Call.Room == f.Room) && (f.Identity == "" || p.Identity == f.Identity)
}

// Report is the admin view of the store. It never holds key bytes.
type Report struct {
	Participants []ParticipantReport `json:"participants"`
	// Refusals are the recent refusals matching the filter, newest last,
	// including those of senders that hold no keys.
	Refusals []Refusal `json:"refusals"`
}

// ParticipantReport is one participant's ring without its keys.
type ParticipantReport struct {
	Room         id.RoomID   `json:"room_id"`
	Application  string      `json:"application"`
	CallID       string      `json:"call_id"`
	Scope        string      `json:"scope,omitempty"`
	Identity     string      `json:"identity"`
	UserID       id.UserID   `json:"user_id"`
	DeviceID     id.DeviceID `json:"device_id"`
	CurrentIndex int         `json:"current_index"`
	Keys         []KeyInfo   `json:"keys"`
	// Refusals are the recent refusals of this user's device, newest last.
	Refusals []Refusal `json:"refusals,omitempty"`
}

// KeyInfo describes one held key: its index, size and arrival, not its bytes.
type KeyInfo struct {
	Index     int       `json:"index"`
	Bytes     int       `json:"bytes"`
	ArrivedAt time.Time `json:"arrived_at"`
}

// Report describes the participants (and recent refusals) f selects, ordered
// by call and identity.
func (s *KeyStore) Report(f ReportFilter) Report {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rep := Report{Participants: []ParticipantReport{}, Refusals: []Refusal{}}
	var ps []Participant
	for p := range s.rings {
		if f.matches(p) {
			ps = append(ps, p)
		}
	}
	sortParticipants(ps)
	devices := map[deviceOf]bool{}
	for _, p := range ps {
		r := s.rings[p]
		pr := ParticipantReport{
			Room: p.Call.Room, Application: p.Call.Application, CallID: p.Call.CallID, Scope: p.Call.Scope,
			Identity: p.Identity, UserID: p.UserID, DeviceID: p.DeviceID, CurrentIndex: r.current,
		}
		for _, k := range r.keys() {
			pr.Keys = append(pr.Keys, KeyInfo{Index: k.Index, Bytes: len(k.Bytes), ArrivedAt: r.slots[k.Index].arrived})
		}
		who := deviceOf{p.UserID, p.DeviceID}
		devices[who] = true
		for _, ref := range s.refusals.items {
			if (deviceOf{ref.UserID, ref.DeviceID}) == who {
				pr.Refusals = append(pr.Refusals, ref)
			}
		}
		rep.Participants = append(rep.Participants, pr)
	}
	for _, ref := range s.refusals.items {
		if (f.Room == "" || ref.Room == f.Room) &&
			(f.Identity == "" || devices[deviceOf{ref.UserID, ref.DeviceID}] || lkid.Legacy(string(ref.UserID), string(ref.DeviceID)) == f.Identity) {
			rep.Refusals = append(rep.Refusals, ref)
		}
	}
	return rep
}

type deviceOf struct {
	user   id.UserID
	device id.DeviceID
}
