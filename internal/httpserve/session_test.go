package httpserve

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

const sessionToken = "0123456789abcdefghijklmnopqrstuvwxyz"

// sessionSite is a guarded page and API with the login routes, as
// cmd/coordinator mounts them on the admin listener.
type sessionSite struct {
	auth  *BearerAuth
	h     http.Handler
	clock *fakeNow
}

func newSessionSite(t *testing.T, token string, clock *fakeNow) *sessionSite {
	t.Helper()
	clients, err := NewClientAddr([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	auth := newBearerAuth(secret.Value(token), clients, slog.New(slog.DiscardHandler), clock.now).WithSessions("/admin/login", "/admin/")
	mux := http.NewServeMux()
	mux.Handle("/", auth.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("secret page")) })))
	mux.Handle("POST /admin/login", auth.Login("/admin/", func(w http.ResponseWriter, _ *http.Request, status int) {
		http.Error(w, "login form", status)
	}))
	mux.Handle("POST /admin/logout", auth.Logout())
	return &sessionSite{auth: auth, h: mux, clock: clock}
}

// do sends a request from client (an X-Forwarded-For hop behind the
// trusted 127.0.0.1) with the given headers and cookie value.
func (s *sessionSite) do(method, path, client string, body url.Values, cookie string, header ...string) *httptest.ResponseRecorder {
	var req *http.Request
	if body != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(body.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("X-Forwarded-For", client)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	return w
}

func sessionCookieOf(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie set: %v", w.Header())
	return nil
}

const browserAccept = "text/html,application/xhtml+xml,*/*;q=0.8"

func TestSessionLoginFlow(t *testing.T) {
	s := newSessionSite(t, sessionToken, &fakeNow{t: time.Unix(1_000_000, 0)})

	// Without credentials: a browser goes to the form, an API client gets
	// 401 JSON. A browser offering nothing made no guess: never locked out.
	for range 3 * failureBurst {
		if w := s.do("GET", "/admin/", "198.51.100.1", nil, "", "Accept", browserAccept); w.Code != 303 || w.Header().Get("Location") != "/admin/login" {
			t.Fatalf("browser without credentials: %d to %q", w.Code, w.Header().Get("Location"))
		}
	}
	if w := s.do("GET", "/admin/v1/calls", "198.51.100.1", nil, ""); w.Code != 401 || !strings.Contains(w.Body.String(), "M_UNAUTHORIZED") {
		t.Fatalf("API without credentials: %d %s", w.Code, w.Body)
	}
	if w := s.do("GET", "/admin/", "198.51.100.1", nil, "", "Authorization", "Bearer "+sessionToken); w.Code != 200 {
		t.Fatalf("bearer token: %d", w.Code)
	}

	// A wrong token at the form: 401, and it counts.
	if w := s.do("POST", "/admin/login", "198.51.100.2", url.Values{"token": {"wrong"}}, ""); w.Code != 401 || len(w.Result().Cookies()) != 0 {
		t.Fatalf("wrong token: %d, cookies %v", w.Code, w.Result().Cookies())
	}

	// The right one: a cookie that does not hold the token, and a 303.
	w := s.do("POST", "/admin/login", "198.51.100.2", url.Values{"token": {sessionToken}}, "")
	if w.Code != 303 || w.Header().Get("Location") != "/admin/" {
		t.Fatalf("login: %d to %q", w.Code, w.Header().Get("Location"))
	}
	c := sessionCookieOf(t, w)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin/" || c.MaxAge != int(SessionLife.Seconds()) || c.Secure {
		t.Fatalf("cookie attributes: %+v", c)
	}
	if strings.Contains(c.Value, sessionToken) || strings.Contains(c.Value, sessionToken[:8]) {
		t.Fatalf("the cookie holds the token: %q", c.Value)
	}
	for _, path := range []string{"/admin/", "/admin/v1/calls"} {
		if w := s.do("GET", path, "198.51.100.2", nil, c.Value, "Accept", browserAccept); w.Code != 200 || w.Body.String() != "secret page" {
			t.Fatalf("%s with the cookie: %d", path, w.Code)
		}
	}

	// Logout clears it.
	w = s.do("POST", "/admin/logout", "198.51.100.2", nil, c.Value)
	if w.Code != 303 || w.Header().Get("Location") != "/admin/login" {
		t.Fatalf("logout: %d to %q", w.Code, w.Header().Get("Location"))
	}
	if cleared := sessionCookieOf(t, w); cleared.MaxAge >= 0 || cleared.Value != "" || cleared.Path != "/admin/" {
		t.Fatalf("logout cookie: %+v", cleared)
	}

	// Expired after SessionLife.
	s.clock.add(SessionLife - time.Second)
	if w := s.do("GET", "/admin/v1/calls", "198.51.100.2", nil, c.Value); w.Code != 200 {
		t.Fatalf("cookie before its end: %d", w.Code)
	}
	s.clock.add(time.Second)
	if w := s.do("GET", "/admin/v1/calls", "198.51.100.2", nil, c.Value); w.Code != 401 {
		t.Fatalf("expired cookie: %d", w.Code)
	}
	if w := s.do("GET", "/admin/", "198.51.100.2", nil, c.Value, "Accept", browserAccept); w.Code != 303 {
		t.Fatalf("browser with an expired cookie: %d, want a 303 to the form", w.Code)
	}
}

func TestSessionForgedCookiesRefused(t *testing.T) {
	clock := &fakeNow{t: time.Unix(1_000_000, 0)}
	s := newSessionSite(t, sessionToken, clock)
	good := s.auth.session.mint(clock.now().Add(time.Hour))
	exp, sig, _ := strings.Cut(good, ".")
	other := newSessionSite(t, sessionToken+"-rotated", clock)
	forged := []string{
		"", ".", good + "x", exp + ".", "1" + exp + "." + sig, // a later expiry with the old MAC
		exp + "." + strings.ToUpper(sig),
		s.auth.session.mint(clock.now().Add(SessionLife + time.Hour)), // longer than any login gives
		other.auth.session.mint(clock.now().Add(time.Hour)),           // another token's
		sessionToken,
	}
	for i, v := range forged {
		if w := s.do("GET", "/admin/v1/calls", "198.51.100.9", nil, v); w.Code != 401 {
			t.Errorf("forged cookie %d %q: %d", i, v, w.Code)
		}
	}
	if w := s.do("GET", "/admin/v1/calls", "198.51.100.10", nil, good); w.Code != 200 {
		t.Fatalf("the genuine cookie: %d", w.Code)
	}
	// A rotated token ends every session of the old one.
	if w := other.do("GET", "/admin/v1/calls", "198.51.100.10", nil, good); w.Code != 401 {
		t.Fatalf("old token's cookie after rotation: %d", w.Code)
	}
	// Forged cookies count as failed attempts.
	for range failureBurst {
		s.do("GET", "/admin/v1/calls", "198.51.100.11", nil, "1.AAAA")
	}
	if w := s.do("GET", "/admin/v1/calls", "198.51.100.11", nil, good); w.Code != 429 {
		t.Fatalf("after %d forged cookies: %d, want 429", failureBurst, w.Code)
	}
}

func TestSessionLoginLimited(t *testing.T) {
	s := newSessionSite(t, sessionToken, &fakeNow{t: time.Unix(1_000_000, 0)})
	for i := range failureBurst {
		if w := s.do("POST", "/admin/login", "198.51.100.3", url.Values{"token": {"guess"}}, ""); w.Code != 401 {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	w := s.do("POST", "/admin/login", "198.51.100.3", url.Values{"token": {sessionToken}}, "")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || len(w.Result().Cookies()) != 0 {
		t.Fatalf("right token after %d guesses: %d, want 429 with Retry-After and no cookie", failureBurst, w.Code)
	}
	// The form's limit is Wrap's: the bearer token is locked out too.
	if w := s.do("GET", "/admin/v1/calls", "198.51.100.3", nil, "", "Authorization", "Bearer "+sessionToken); w.Code != 429 {
		t.Fatalf("bearer after form guesses: %d", w.Code)
	}
	big := url.Values{"token": {strings.Repeat("x", 2*loginBodyLimit)}}
	if w := s.do("POST", "/admin/login", "198.51.100.4", big, ""); w.Code != 400 {
		t.Fatalf("oversized form: %d", w.Code)
	}
}

func TestSessionCookieSecure(t *testing.T) {
	s := newSessionSite(t, sessionToken, &fakeNow{t: time.Unix(1_000_000, 0)})
	login := func(remote string, header ...string) *http.Cookie {
		req := httptest.NewRequest("POST", "/admin/login", strings.NewReader(url.Values{"token": {sessionToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = remote
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Add(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		s.h.ServeHTTP(w, req)
		return sessionCookieOf(t, w)
	}
	if !login("127.0.0.1:1", "X-Forwarded-Proto", "https").Secure {
		t.Error("a trusted proxy's https: not Secure")
	}
	if login("127.0.0.1:1", "X-Forwarded-Proto", "https, http").Secure {
		t.Error("the nearest proxy said http: Secure")
	}
	if login("192.0.2.7:1", "X-Forwarded-Proto", "https").Secure {
		t.Error("an untrusted peer's https claim believed")
	}
}

// Without WithSessions, Wrap is what it was: no cookie, no redirect.
func TestBearerAuthWithoutSessions(t *testing.T) {
	clock := &fakeNow{t: time.Unix(1_000_000, 0)}
	auth := newBearerAuth(secret.Value(sessionToken), nil, slog.New(slog.DiscardHandler), clock.now)
	h := auth.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest("GET", "/admin/", nil)
	req.Header.Set("Accept", browserAccept)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: auth.session.mint(clock.now().Add(time.Hour))})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 401 {
		t.Fatalf("%d, want 401", w.Code)
	}
}
