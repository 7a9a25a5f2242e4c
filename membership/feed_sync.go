package membership

import (
	"sync"
	"time"
)

// syncStaleAfter is how long after its last handled batch the bot's sync
// counts as behind even with no failure reported: the bot long-polls for
// 30 s and gives a request 30 s more before it calls the connection dead.
const syncStaleAfter = 90 * time.Second

// syncHealth says whether the tracker and roster reflect Matrix as of now:
// the first batch is in, the last sync request did not fail, and a batch
// arrived recently. Written by the feed, read by enforcement.
type syncHealth struct {
	now func() time.Time

	mu       sync.Mutex
	ready    bool
	failing  bool
	lastDone time.Time
}

func (h *syncHealth) done() {
	h.mu.Lock()
	h.ready, h.failing, h.lastDone = true, false, h.now()
	h.mu.Unlock()
}

func (h *syncHealth) failed() {
	h.mu.Lock()
	h.failing = true
	h.mu.Unlock()
}

// Current reports whether the bot's view of Matrix is current: the first
// sync batch is in the tracker, no sync request has failed since the last
// batch, and that batch is less than syncStaleAfter old. Until then what
// the tracker lacks may merely be unseen (unknown is not absent).
func (f *Feed) Current() bool {
	h := &f.health
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ready && !h.failing && h.now().Sub(h.lastDone) < syncStaleAfter
}
