package e2ee

import (
	"cmp"
	"slices"
	"sync"
)

// KeyChange is the state of one participant's ring after it changed.
type KeyChange struct {
	Participant Participant
	Forgotten   bool  // the ring is gone (the member left); Keys is empty
	Current     int   // the index the sender encrypts with now
	Keys        []Key // every key held, by ascending index (copies)
}

// Subscription tells one consumer (an engine) which participants' keys
// changed. It is latest-value per participant, not a log: the store marks a
// participant dirty and signals Ready; Take returns each dirty participant's
// whole ring as it is at that moment. A slow consumer therefore never blocks
// the store, memory stays bounded by the number of participants, and nothing
// is lost: intermediate states are skipped, but every key still held is in
// the ring Take returns, and a ring removed is reported as Forgotten.
// Subscriptions start no goroutines; Close unregisters.
type Subscription struct {
	store  *KeyStore
	filter func(Participant) bool
	ready  chan struct{} // 1-buffered: something is dirty

	mu    sync.Mutex
	dirty map[Participant]struct{}
}

// Subscribe returns a subscription to the changes of the participants filter
// selects (nil: all). filter runs under the store's lock: it must be quick
// and must not call the store. Rings that already hold keys are marked dirty
// at once, so the first Take returns the current state.
func (s *KeyStore) Subscribe(filter func(Participant) bool) *Subscription {
	sub := &Subscription{store: s, filter: filter, ready: make(chan struct{}, 1), dirty: map[Participant]struct{}{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[sub] = struct{}{}
	for p := range s.rings {
		sub.mark(p)
	}
	return sub
}

// notify marks p dirty for every interested subscription; s.mu is held.
func (s *KeyStore) notify(p Participant) {
	for sub := range s.subs {
		sub.mark(p)
	}
}

func (sub *Subscription) mark(p Participant) {
	if sub.filter != nil && !sub.filter(p) {
		return
	}
	sub.mu.Lock()
	sub.dirty[p] = struct{}{}
	sub.mu.Unlock()
	select {
	case sub.ready <- struct{}{}:
	default:
	}
}

// Ready receives a value when changes wait to be taken.
func (sub *Subscription) Ready() <-chan struct{} { return sub.ready }

// Take returns the current ring of every participant that changed since the
// last Take, ordered by call and identity. A change racing with Take may be
// reported again by the next one.
func (sub *Subscription) Take() []KeyChange {
	sub.mu.Lock()
	dirty := sub.dirty
	sub.dirty = map[Participant]struct{}{}
	sub.mu.Unlock()
	if len(dirty) == 0 {
		return nil
	}
	ps := make([]Participant, 0, len(dirty))
	for p := range dirty {
		ps = append(ps, p)
	}
	sortParticipants(ps)
	s := sub.store
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]KeyChange, 0, len(ps))
	for _, p := range ps {
		c := KeyChange{Participant: p, Forgotten: true}
		if r := s.rings[p]; r != nil {
			c = KeyChange{Participant: p, Current: r.current, Keys: r.keys()}
		}
		out = append(out, c)
	}
	return out
}

// Close unregisters the subscription; it is safe to call more than once.
// Ready is not closed, so a select on it simply never fires again.
func (sub *Subscription) Close() {
	sub.store.mu.Lock()
	delete(sub.store.subs, sub)
	sub.store.mu.Unlock()
}

// sortParticipants orders by room, application, call id, scope and identity.
func sortParticipants(ps []Participant) {
	slices.SortFunc(ps, func(a, b Participant) int {
		return cmp.Or(
			cmp.Compare(a.Call.Room, b.Call.Room),
			cmp.Compare(a.Call.Application, b.Call.Application),
			cmp.Compare(a.Call.CallID, b.Call.CallID),
			cmp.Compare(a.Call.Scope, b.Call.Scope),
			cmp.Compare(a.Identity, b.Identity),
			cmp.Compare(a.UserID, b.UserID),
			cmp.Compare(a.DeviceID, b.DeviceID),
		)
	})
}
