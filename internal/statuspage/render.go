package statuspage

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
)

//go:embed page.html
var pageHTML string

// DefaultRefresh is how often the page reloads itself, in seconds.
const DefaultRefresh = 5

// Renderer holds the parsed templates; it is safe for concurrent use.
type Renderer struct{ t *template.Template }

// New parses the embedded templates.
func New() (*Renderer, error) {
	t, err := template.New("statuspage").Parse(pageHTML)
	if err != nil {
		return nil, fmt.Errorf("statuspage: %w", err)
	}
	return &Renderer{t: t}, nil
}

// Page writes the status page of v, within the page's bounds (MaxCalls,
// MaxMembers).
func (r *Renderer) Page(w io.Writer, v View) error {
	return r.t.ExecuteTemplate(w, "page", v.bounded())
}

// Login writes the login form, with msg (may be empty) above it.
func (r *Renderer) Login(w io.Writer, msg string) error {
	return r.t.ExecuteTemplate(w, "login", struct{ Message string }{msg})
}

// Handler serves the page: gather fills the view (it must answer within
// ctx, marking what did not answer as unavailable); ?refresh=0 pauses the
// self-refresh for reading.
func (r *Renderer) Handler(gather func(ctx context.Context) View) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		v := gather(req.Context())
		v.Refresh = DefaultRefresh
		if s := req.URL.Query().Get("refresh"); s != "" {
			if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 3600 {
				v.Refresh = n
			}
		}
		var buf bytes.Buffer
		if err := r.Page(&buf, v); err != nil {
			http.Error(w, "cannot render the status page", http.StatusInternalServerError)
			return
		}
		send(w, http.StatusOK, buf.Bytes())
	})
}

// LoginForm serves the login form (GET).
func (r *Renderer) LoginForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { r.LoginFailed(w, nil, 0) })
}

// LoginFailed answers a refused login with the form again and status (0:
// a plain form, 200): 401 a wrong token, 429 too many failed attempts.
func (r *Renderer) LoginFailed(w http.ResponseWriter, _ *http.Request, status int) {
	msg := ""
	switch status {
	case 0:
		status = http.StatusOK
	case http.StatusUnauthorized:
		msg = "That is not the admin token."
	case http.StatusTooManyRequests:
		msg = "Too many failed attempts from your address; try again later."
	default:
		msg = "The login could not be read; try again."
	}
	var buf bytes.Buffer
	if err := r.Login(&buf, msg); err != nil {
		http.Error(w, "cannot render the login form", http.StatusInternalServerError)
		return
	}
	send(w, status, buf.Bytes())
}

// send writes an HTML page with headers that keep it out of caches and
// frames and forbid any script, whatever the data holds.
func send(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy",
		"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
