package httpserve

import (
	"sync"
	"time"
)

// maxLimiters bounds a Limiter's table; idle entries are swept first.
const maxLimiters = 100_000

// Limiter is a token bucket per client (ClientAddr.Of names them), in a
// bounded table.
type Limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// NewLimiter allows each client burst events at once and perSecond after;
// now is the clock (time.Now when nil).
func NewLimiter(perSecond float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: perSecond, burst: float64(burst), now: now, clients: map[string]*bucket{}}
}

// Allow takes one token from client's bucket, if there is one.
func (l *Limiter) Allow(client string) bool {
	ok, _ := l.Take(client)
	return ok
}

// Take is Allow that can be undone: giveBack returns the token (for an
// attempt that turned out not to count, e.g. a correct password). It is
// taken before the attempt is judged, so concurrent attempts cannot all pass
// on one token.
func (l *Limiter) Take(client string) (ok bool, giveBack func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketAt(client, l.now())
	if b.tokens < 1 {
		return false, nil
	}
	b.tokens--
	return true, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		b := l.bucketAt(client, l.now()) // the same one, unless swept meanwhile
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// RetryAfter is how long client waits for its next token.
func (l *Limiter) RetryAfter(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketAt(client, l.now())
	if b.tokens >= 1 || l.rate <= 0 {
		return 0
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// bucketAt is client's bucket, refilled up to now. The caller holds mu.
func (l *Limiter) bucketAt(client string, now time.Time) *bucket {
	b, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= maxLimiters {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.clients[client] = b
	}
	if now.After(b.at) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
		b.at = now
	}
	return b
}

// sweep drops buckets that are full again (their clients are idle); if
// that frees nothing the table is reset rather than grown without bound.
// The caller holds mu.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.clients {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.clients, k)
		}
	}
	if len(l.clients) >= maxLimiters {
		clear(l.clients)
	}
}
