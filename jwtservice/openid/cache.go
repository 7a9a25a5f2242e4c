package openid

import (
	"sync"
	"time"
)

// ttlCache is a bounded map whose entries expire. Reads take a read lock
// and do not allocate. Inserts sweep expired entries at least once per
// sweepEvery and whenever the map is full; if it is still full they evict
// arbitrary entries (Go randomises map iteration) down to 15/16 of max, so a
// full sweep happens at most once per max/16 inserts.
type ttlCache[K comparable, V any] struct {
	mu         sync.RWMutex
	entries    map[K]ttlEntry[V]
	max        int
	sweepEvery int64 // ns
	lastSweep  int64 // ns since the Unix epoch
}

type ttlEntry[V any] struct {
	val V
	exp int64 // ns since the Unix epoch
}

func newTTLCache[K comparable, V any](max int, sweepEvery time.Duration) *ttlCache[K, V] {
	return &ttlCache[K, V]{
		entries:    make(map[K]ttlEntry[V]),
		max:        max,
		sweepEvery: int64(sweepEvery),
	}
}

// get returns k's value if present and not expired at now.
func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || now.UnixNano() >= e.exp {
		var zero V
		return zero, false
	}
	return e.val, true
}

// put stores v under k until exp; it does nothing if exp is not after now.
func (c *ttlCache[K, V]) put(k K, v V, exp, now time.Time) {
	n, x := now.UnixNano(), exp.UnixNano()
	if x <= n {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.entries[k]; !exists {
		if n-c.lastSweep >= c.sweepEvery || len(c.entries) >= c.max {
			c.sweepLocked(n)
		}
		if len(c.entries) >= c.max {
			c.evictLocked()
		}
	}
	c.entries[k] = ttlEntry[V]{val: v, exp: x}
}

func (c *ttlCache[K, V]) sweepLocked(now int64) {
	for k, e := range c.entries {
		if now >= e.exp {
			delete(c.entries, k)
		}
	}
	c.lastSweep = now
}

func (c *ttlCache[K, V]) evictLocked() {
	keep := c.max - c.max/16 - 1
	for k := range c.entries {
		if len(c.entries) <= keep {
			return
		}
		delete(c.entries, k)
	}
}

func (c *ttlCache[K, V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
