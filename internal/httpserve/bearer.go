package httpserve

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// Failed bearer-token attempts allowed per client: a burst, then one more
// every failureEvery. A strong token (check-config asks for 32+ characters)
// cannot be guessed at that pace; the limit also keeps a scanner's noise
// out of the logs.
const (
	failureBurst = 10
	failureEvery = 10 * time.Second
)

// BearerAuth lets requests through to a handler only with the right
// "Authorization: Bearer" token (or, WithSessions, a login cookie), and
// refuses every attempt (right or wrong) from a client that has failed too
// often lately.
type BearerAuth struct {
	want     [sha256.Size]byte
	off      bool // no token: nothing gets through
	clients  *ClientAddr
	failures *Limiter
	logger   *slog.Logger
	now      func() time.Time
	// Login sessions (session.go): off while loginPath is "".
	session               sessionKey
	loginPath, cookiePath string
}

// NewBearerAuth checks for token; clients names the client whose failures
// count (nil: the peer address).
func NewBearerAuth(token secret.Value, clients *ClientAddr, logger *slog.Logger) *BearerAuth {
	return newBearerAuth(token, clients, logger, time.Now)
}

func newBearerAuth(token secret.Value, clients *ClientAddr, logger *slog.Logger, now func() time.Time) *BearerAuth {
	return &BearerAuth{
		want: sha256.Sum256([]byte(token.Reveal())), off: token.IsZero(), clients: clients, logger: logger,
		failures: NewLimiter(1/failureEvery.Seconds(), failureBurst, now), now: now,
		session: newSessionKey(token.Reveal()),
	}
}

// Wrap guards h.
func (a *BearerAuth) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := a.clients.Of(r)
		ok, giveBack := a.failures.Take(client)
		if !ok {
			a.retryAfter(w, client)
			writeError(w, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED", "too many failed attempts; try again later")
			return
		}
		got, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !(bearer && a.matches(got) || a.sessionValid(r)) {
			if a.toLogin(w, r, giveBack) {
				return
			}
			a.logger.Warn("bearer token refused", "client", client, "path", r.URL.Path)
			writeError(w, http.StatusUnauthorized, "M_UNAUTHORIZED", "a valid bearer token is required")
			return
		}
		giveBack()
		h.ServeHTTP(w, r)
	})
}

// matches reports whether got is the token. Hashing first makes the
// comparison's time independent of the length of either.
func (a *BearerAuth) matches(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return !a.off && subtle.ConstantTimeCompare(sum[:], a.want[:]) == 1
}

func (a *BearerAuth) retryAfter(w http.ResponseWriter, client string) {
	wait := a.failures.RetryAfter(client)
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
}

func writeError(w http.ResponseWriter, status int, errcode, msg string) {
	WriteJSON(w, status, map[string]string{"errcode": errcode, "error": msg})
}
