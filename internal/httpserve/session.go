package httpserve

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Login sessions of a BearerAuth: a browser that posted the right token to
// the login form gets a cookie "expiry.MAC", the MAC an HMAC-SHA256 of the
// expiry under a key derived from the token. Nothing is stored: the cookie
// never holds the token, any process with the same token accepts it, and a
// new token invalidates every cookie of the old one.
const (
	// SessionCookie is the cookie's name.
	SessionCookie = "switchboard_admin"
	// SessionLife is how long a login lasts.
	SessionLife = 12 * time.Hour
	// loginBodyLimit bounds the login form's body.
	loginBodyLimit = 4 << 10
)

// sessionKey signs and checks session cookies.
type sessionKey [sha256.Size]byte

func newSessionKey(token string) sessionKey {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("switchboard admin session cookie v1"))
	return sessionKey(m.Sum(nil))
}

func (k sessionKey) mac(expiry string) []byte {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(expiry))
	return m.Sum(nil)
}

// mint makes the cookie value of a session ending at expiry.
func (k sessionKey) mint(expiry time.Time) string {
	exp := strconv.FormatInt(expiry.Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(k.mac(exp))
}

// valid reports whether v is a cookie k minted that has not expired at now.
func (k sessionKey) valid(v string, now time.Time) bool {
	exp, sig, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, k.mac(exp)) {
		return false
	}
	end, err := strconv.ParseInt(exp, 10, 64)
	// A cookie ending later than one minted now would is from a clock that
	// has since gone back: refused rather than trusted for longer.
	return err == nil && now.Unix() < end && end <= now.Add(SessionLife+time.Minute).Unix()
}

// WithSessions turns on login sessions (call it before serving): Wrap then
// also lets through a valid session cookie, scoped to cookiePath (e.g.
// /admin/), and sends a browser's unauthenticated GET (one that accepts
// text/html) to loginPath with a 303 instead of a 401. It returns a.
func (a *BearerAuth) WithSessions(loginPath, cookiePath string) *BearerAuth {
	a.loginPath, a.cookiePath = loginPath, cookiePath
	return a
}

// sessionValid reports whether r carries a valid session cookie.
func (a *BearerAuth) sessionValid(r *http.Request) bool {
	if a.off || a.loginPath == "" {
		return false
	}
	c, err := r.Cookie(SessionCookie)
	return err == nil && a.session.valid(c.Value, a.now())
}

// toLogin redirects a browser's refused GET to the login form and reports
// whether it did. A browser that offered no credential at all has made no
// guess, so that attempt is given back.
func (a *BearerAuth) toLogin(w http.ResponseWriter, r *http.Request, giveBack func()) bool {
	if a.loginPath == "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) ||
		!strings.Contains(r.Header.Get("Accept"), "text/html") {
		return false
	}
	if _, err := r.Cookie(SessionCookie); err != nil && r.Header.Get("Authorization") == "" {
		giveBack()
	} else {
		a.logger.Warn("admin session refused", "client", a.clients.Of(r), "path", r.URL.Path)
	}
	http.Redirect(w, r, a.loginPath, http.StatusSeeOther)
	return true
}

// Login serves the login form's POST (field "token"): the right token gets
// a session cookie and a 303 to next; anything else is answered by fail
// with the status (400 unreadable form, 401 wrong token, 429 too many
// failures). Failures count toward the same per-client limit as Wrap's.
func (a *BearerAuth) Login(next string, fail func(w http.ResponseWriter, r *http.Request, status int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := a.clients.Of(r)
		ok, giveBack := a.failures.Take(client)
		if !ok {
			a.retryAfter(w, client)
			fail(w, r, http.StatusTooManyRequests)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, loginBodyLimit)
		if err := r.ParseForm(); err != nil {
			fail(w, r, http.StatusBadRequest)
			return
		}
		if a.loginPath == "" || !a.matches(r.PostForm.Get("token")) {
			a.logger.Warn("admin login refused", "client", client)
			fail(w, r, http.StatusUnauthorized)
			return
		}
		giveBack()
		a.setCookie(w, r, a.session.mint(a.now().Add(SessionLife)), int(SessionLife.Seconds()))
		a.logger.Info("admin login", "client", client)
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

// Logout clears the session cookie and redirects to the login form. The
// cookie is stateless, so a copy kept elsewhere stays valid until it
// expires; changing the token ends every session.
func (a *BearerAuth) Logout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.setCookie(w, r, "", -1)
		http.Redirect(w, r, a.loginPath, http.StatusSeeOther)
	})
}

// setCookie sets (maxAge > 0) or clears the session cookie: HttpOnly,
// SameSite=Strict (no other site can make a browser send it), Secure when
// the request came over TLS.
func (a *BearerAuth) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: value, Path: a.cookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.clients.HTTPS(r)})
}
