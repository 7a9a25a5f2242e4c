package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// maxBody caps every answer read; a discovery document or an error is a
// few hundred bytes, a filtered /sync a few KiB.
const maxBody = 1 << 20

// errTooLarge means an answer was longer than maxBody.
var errTooLarge = errors.New("answer larger than 1 MiB")

// httpClient makes the doctor's requests: each bounded by the timeout, no
// redirect followed with a token (Go would drop the header, and a token
// must not travel), bodies capped.
type httpClient struct {
	timeout time.Duration
	plain   *http.Client
	authed  *http.Client
	own     *http.Transport // closed by close; nil with a given transport
}

func newHTTPClient(timeout time.Duration, rt http.RoundTripper) *httpClient {
	c := &httpClient{timeout: timeout}
	if rt == nil {
		c.own = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
		}
		rt = c.own
	}
	c.plain = &http.Client{Transport: rt, Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		return nil
	}}
	c.authed = &http.Client{Transport: rt, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return c
}

func (c *httpClient) close() {
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
}

// answer is an HTTP response, read.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
	URL    string // the final URL (after redirects)
}

// request describes one call.
type request struct {
	Method  string
	URL     string
	Body    []byte // sent as application/json when not nil
	Header  map[string]string
	Token   secret.Value // Authorization: Bearer, when set
	NoRedir bool
}

func (c *httpClient) do(ctx context.Context, r request) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, err
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "switchboard-doctor")
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	hc := c.plain
	if !r.Token.IsZero() || r.NoRedir || r.Method != http.MethodGet {
		hc = c.authed
	}
	if !r.Token.IsZero() {
		req.Header.Set("Authorization", "Bearer "+r.Token.Reveal())
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, describeErr(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", describeErr(err))
	}
	if len(b) > maxBody {
		return nil, errTooLarge
	}
	return &answer{Status: res.StatusCode, Header: res.Header, Body: b, URL: res.Request.URL.String()}, nil
}

// describeErr keeps the cause of a failed request readable: the URL is
// already in the step, Go's wrapping repeats it.
func describeErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused (nothing listens there)")
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer within the timeout")
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Errorf("DNS: %s does not resolve", dns.Name)
	}
	return err
}

// matrixError is a Matrix error body.
type matrixError struct {
	Errcode string `json:"errcode"`
	Error   string `json:"error"`
}

// matrixErr parses a Matrix error body; ok only for a JSON object with an
// errcode.
func (a *answer) matrixErr() (matrixError, bool) {
	var me matrixError
	if json.Unmarshal(a.Body, &me) != nil || me.Errcode == "" {
		return matrixError{}, false
	}
	return me, true
}

// describe is a short account of an answer for the report: status,
// content type and the first bytes of the body, printable only.
func (a *answer) describe() string {
	s := fmt.Sprintf("HTTP %d", a.Status)
	if ct := a.Header.Get("Content-Type"); ct != "" {
		s += " " + clip(ct, 60)
	}
	if me, ok := a.matrixErr(); ok {
		return s + " " + clip(me.Errcode, 60) + " " + quote(me.Error, 120)
	}
	if len(bytes.TrimSpace(a.Body)) > 0 {
		s += " " + quote(string(a.Body), 80)
	}
	return s
}

// quote clips s and shows it quoted with control characters escaped, so a
// hostile answer cannot write lines of its own into the report.
func quote(s string, n int) string { return fmt.Sprintf("%q", clip(strings.TrimSpace(s), n)) }

func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// isGo404 is the body of Go's http.NotFound: what the service itself (and
// lk-jwt-service) answers for a path it does not know.
func (a *answer) isGo404() bool {
	return a.Status == http.StatusNotFound && string(a.Body) == "404 page not found\n"
}

// checkURL accepts an absolute http(s) URL with a host and no user info.
func checkURL(raw string) (*url.URL, error) {
	if len(raw) > 2048 {
		return nil, errors.New("URL longer than 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: not an http(s) URL", quote(raw, 100))
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: needs a host and no user, query or fragment", quote(raw, 100))
	}
	return u, nil
}

// isLoopback reports whether u's host is a loopback address or localhost.
func isLoopback(u *url.URL) bool {
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// httpNote is what the report says about a plain-http URL.
func httpNote(u *url.URL) string {
	if u.Scheme != "http" {
		return ""
	}
	if isLoopback(u) {
		return " (plain http on loopback: fine for a local stack)"
	}
	return " (plain http: browsers on https pages refuse it)"
}
