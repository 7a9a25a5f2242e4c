package matrixbot

import (
	"math/rand/v2"
	"time"
)

// backoff yields exponentially growing delays between Initial and Max, each
// jittered to a random value in [d/2, d]. Not safe for concurrent use.
type backoff struct {
	cfg     Backoff
	attempt int
}

func (b *backoff) next() time.Duration {
	d := b.cfg.Initial
	for i := 0; i < b.attempt && d < b.cfg.Max; i++ {
		d *= 2
	}
	d = min(d, b.cfg.Max)
	b.attempt++
	half := d / 2
	return half + rand.N(d-half+1)
}

func (b *backoff) reset() { b.attempt = 0 }
