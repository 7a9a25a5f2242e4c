package matrixbot

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"maunium.net/go/mautrix"
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

// probeTimeout bounds one probe of the homeserver.
const probeTimeout = 5 * time.Second

// wait waits out the next backoff delay d after the failed request's err,
// or less: it probes the homeserver every ProbeInterval meanwhile and
// returns as soon as the server answers after having been unreachable (err
// says so, or a probe failed). So a homeserver back from an outage is
// synced with again within a probe interval, not after a delay that grew
// while it was down; a server that answers throughout (failing only the
// request itself) gets the full delay. It reports whether ctx is still
// alive.
func (b *Bot) wait(ctx context.Context, d time.Duration, err error) bool {
	if d <= b.cfg.ProbeInterval {
		return sleep(ctx, d)
	}
	end := time.NewTimer(d)
	defer end.Stop()
	tick := time.NewTicker(b.cfg.ProbeInterval)
	defer tick.Stop()
	down := unreachable(err)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-end.C:
			return true
		case <-tick.C:
			up := b.probe(ctx)
			if up && down {
				b.logger.Info("homeserver answers again, retrying now")
				return true
			}
			down = down || !up
		}
	}
}

// probe reports whether the homeserver answers GET /_matrix/client/versions
// (unauthenticated and cheap) with 200. Failures are expected while it is
// down and not logged.
func (b *Bot) probe(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, min(probeTimeout, b.cfg.ProbeInterval*5))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(b.cfg.HomeserverURL, "/")+"/_matrix/client/versions", nil)
	if err != nil {
		return false
	}
	res, err := b.http.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode == http.StatusOK
}

// unreachable reports whether err says the homeserver did not answer: no
// HTTP response at all, or a gateway's 502, 503 or 504 in front of it.
func unreachable(err error) bool {
	var he mautrix.HTTPError
	if !errors.As(err, &he) {
		return false
	}
	if he.Response == nil {
		return true
	}
	switch he.Response.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
