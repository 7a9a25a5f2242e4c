package delegation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// delayedEventsPath is the MSC4140 management endpoint, relative to the
// CS-API base URL. The stable path (/_matrix/client/v1/delayed_events) is
// not used until the MSC is merged, as upstream.
const delayedEventsPath = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events"

// maxResponseBytes bounds what is read of any CS-API or .well-known answer.
const maxResponseBytes = 64 << 10

// maxRetryAfter bounds a server's Retry-After hint; the job deadlines bound
// it further.
const maxRetryAfter = time.Hour

// action is a delayed-event management action.
type action int

const (
	actionRestart action = iota + 1
	actionSend
)

func (a action) String() string {
	switch a {
	case actionRestart:
		return "restart"
	case actionSend:
		return "send"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// outcome classifies one CS-API answer.
type outcome int

const (
	outcomeOK     outcome = iota + 1 // 2xx
	outcomeGone                      // 404: no such delayed event (sent, cancelled or fired)
	outcomeRetry                     // 429, 5xx, other statuses, network errors
	outcomeFailed                    // cannot succeed by retrying (bad URL)
)

func (o outcome) String() string {
	switch o {
	case outcomeOK:
		return "ok"
	case outcomeGone:
		return "gone"
	case outcomeRetry:
		return "retry"
	case outcomeFailed:
		return "failed"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// csResult is the answer to one delayed-event action.
type csResult struct {
	outcome    outcome
	status     int           // 0 when there was no response
	retryAfter time.Duration // the server's hint on 429; 0 when none
	err        error         // detail for the log; never holds the URL
}

// actionURL builds base + delayedEventsPath + "/" + id + "/" + action. The
// delay id is client-chosen, so it is one escaped path segment ("/", "?",
// "#" and "%" included); base keeps its own path prefix.
func actionURL(base, delayID string, a action) (*url.URL, error) {
	u, err := parseBaseURL(base)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	rawPath := prefix + delayedEventsPath + "/" + url.PathEscape(delayID) + "/" + a.String()
	p, err := url.PathUnescape(rawPath)
	if err != nil {
		return nil, fmt.Errorf("base URL path: %w", err)
	}
	u.Path, u.RawPath = p, rawPath
	return u, nil
}

// parseBaseURL accepts an absolute http(s) URL with a host and no user
// info, query or fragment: the delayed-event endpoints take no credentials.
func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("no host")
	case u.User != nil:
		return nil, fmt.Errorf("user info not allowed")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "":
		return nil, fmt.Errorf("query, fragment or opaque part not allowed")
	}
	return u, nil
}

// doAction POSTs {} to the action's endpoint without authentication (the
// delay id is the capability) and classifies the answer. now reads the
// injected clock, for HTTP-date Retry-After values.
func doAction(ctx context.Context, hc *http.Client, now func() time.Time, base, delayID string, a action) csResult {
	u, err := actionURL(base, delayID, a)
	if err != nil {
		return csResult{outcome: outcomeFailed, err: fmt.Errorf("CS-API URL: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader("{}"))
	if err != nil {
		// The error would quote the URL, which holds the delay id.
		return csResult{outcome: outcomeFailed, err: errors.New("CS-API request could not be built")}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		// The error text of net/http names the URL; keep only its cause.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return csResult{outcome: outcomeRetry, err: fmt.Errorf("%s %s: %w", a, u.Host, err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	return classify(resp.StatusCode, resp.Header, body, now())
}

// classify turns a status into an outcome. 404 is reported as gone for both
// actions; the caller decides (already fired on send, permanent on restart).
func classify(status int, h http.Header, body []byte, now time.Time) csResult {
	r := csResult{status: status}
	switch {
	case status >= 200 && status < 300:
		r.outcome = outcomeOK
	case status == http.StatusNotFound:
		r.outcome = outcomeGone
	case status == http.StatusTooManyRequests:
		r.outcome = outcomeRetry
		r.retryAfter = retryAfter(h.Get("Retry-After"), body, now)
		r.err = fmt.Errorf("rate limited (HTTP 429, retry after %s)", r.retryAfter)
	default:
		// 5xx, and any other status: 408, 421, 423, 425 are worth
		// retrying, and we cannot tell which others are not.
		r.outcome = outcomeRetry
		r.err = fmt.Errorf("unexpected HTTP status %d", status)
	}
	return r
}

// retryAfter reads a 429's hint: the Retry-After header in delay-seconds
// or HTTP-date form, else the Matrix body field retry_after_ms. It returns
// 0 when there is none; the result is at most maxRetryAfter.
func retryAfter(header string, body []byte, now time.Time) time.Duration {
	header = strings.TrimSpace(header)
	if secs, err := strconv.ParseInt(header, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(header); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	var m struct {
		RetryAfterMS int64 `json:"retry_after_ms"`
	}
	if json.Unmarshal(body, &m) == nil && m.RetryAfterMS > 0 {
		return time.Duration(min(m.RetryAfterMS, int64(maxRetryAfter/time.Millisecond))) * time.Millisecond
	}
	return 0
}
