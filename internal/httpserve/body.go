package httpserve

import (
	"net/http"
	"time"
)

// bodyTimeout bounds the arrival of a request body, counted from the end of
// its headers. Our API bodies are a few KiB (LiveKit's webhooks a few more),
// so a client trickling one holds a connection no longer than one trickling
// its headers (readHeaderTimeout).
const bodyTimeout = 10 * time.Second

// limitBodyTime gives each request with a body d to send it. net/http lifts
// the deadline itself once the body has been read (it clears it to watch the
// idle connection), so a handler may work longer than d afterwards.
func limitBodyTime(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}
