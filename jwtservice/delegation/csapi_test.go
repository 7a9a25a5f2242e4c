package delegation

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestActionURL(t *testing.T) {
	const p = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/"
	cases := []struct{ base, id, want string }{
		{"https://hs.example", "abc", "https://hs.example" + p + "abc/restart"},
		{"https://hs.example/", "abc", "https://hs.example" + p + "abc/restart"},
		{"https://hs.example:8448/matrix//", "abc", "https://hs.example:8448/matrix" + p + "abc/restart"},
		{"http://127.0.0.1:8008", "a/../b?c#d", "http://127.0.0.1:8008" + p + "a%2F..%2Fb%3Fc%23d/restart"},
		{"https://hs.example", "100%", "https://hs.example" + p + "100%25/restart"},
		{"https://hs.example", "%2F", "https://hs.example" + p + "%252F/restart"},
		{"https://hs.example", "sp ace\n", "https://hs.example" + p + "sp%20ace%0A/restart"},
		{"https://hs.example/a%2Fb", "x", "https://hs.example/a%2Fb" + p + "x/restart"},
	}
	for _, tc := range cases {
		u, err := actionURL(tc.base, tc.id, actionRestart)
		if err != nil {
			t.Errorf("actionURL(%q, %q): %v", tc.base, tc.id, err)
			continue
		}
		if got := u.String(); got != tc.want {
			t.Errorf("actionURL(%q, %q) = %q, want %q", tc.base, tc.id, got, tc.want)
		}
	}
	if u, _ := actionURL("https://hs.example", "x", actionSend); !strings.HasSuffix(u.String(), "/x/send") {
		t.Errorf("send URL %s", u)
	}
}

func TestClassify(t *testing.T) {
	now := epoch
	cases := []struct {
		status int
		want   outcome
	}{
		{200, outcomeOK}, {204, outcomeOK}, {404, outcomeGone}, {429, outcomeRetry},
		{500, outcomeRetry}, {502, outcomeRetry}, {503, outcomeRetry}, {599, outcomeRetry},
		{400, outcomeRetry}, {401, outcomeRetry}, {403, outcomeRetry}, {408, outcomeRetry},
		{302, outcomeRetry}, {100, outcomeRetry},
	}
	for _, tc := range cases {
		if got := classify(tc.status, http.Header{}, nil, now).outcome; got != tc.want {
			t.Errorf("classify(%d) = %s, want %s", tc.status, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := epoch
	cases := []struct {
		name, header, body string
		want               time.Duration
	}{
		{"seconds", "3", "", 3 * time.Second},
		{"seconds with spaces", " 7 ", "", 7 * time.Second},
		{"zero", "0", "", 0},
		{"negative", "-5", "", 0},
		{"huge", "99999999999999", "", maxRetryAfter},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), "", 90 * time.Second},
		{"http date in the past", now.Add(-time.Hour).Format(http.TimeFormat), "", 0},
		{"http date far ahead", now.Add(48 * time.Hour).Format(http.TimeFormat), "", maxRetryAfter},
		{"body ms", "", `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}`, 1500 * time.Millisecond},
		{"body ms huge", "", `{"retry_after_ms":1e30}`, 0},
		{"body ms float", "", `{"retry_after_ms":12.5}`, 0},
		{"body ms negative", "", `{"retry_after_ms":-1}`, 0},
		{"body ms string", "", `{"retry_after_ms":"100"}`, 0},
		{"garbage header falls back to body", "soon", `{"retry_after_ms":200}`, 200 * time.Millisecond},
		{"header beats body", "2", `{"retry_after_ms":200}`, 2 * time.Second},
		{"nothing", "", "not json", 0},
	}
	for _, tc := range cases {
		if got := retryAfter(tc.header, []byte(tc.body), now); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestDoActionTransportAndRedirects(t *testing.T) {
	var hit atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/x", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	hc := noRedirects(redirect.Client())
	r := doAction(context.Background(), hc, time.Now, redirect.URL, "id", actionSend)
	if r.outcome != outcomeRetry || r.status != http.StatusTemporaryRedirect || hit.Load() != 0 {
		t.Errorf("redirect: %+v, target hit %d times", r, hit.Load())
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	base := dead.URL
	dead.Close()
	r = doAction(context.Background(), hc, time.Now, base, "secret-delay-id", actionRestart)
	if r.outcome != outcomeRetry || r.status != 0 || r.err == nil {
		t.Errorf("closed server: %+v", r)
	}
	if strings.Contains(r.err.Error(), "secret-delay-id") {
		t.Errorf("error names the delay id: %v", r.err)
	}

	r = doAction(context.Background(), hc, time.Now, "ftp://x", "id", actionRestart)
	if r.outcome != outcomeFailed {
		t.Errorf("bad base: %+v", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = doAction(ctx, hc, time.Now, target.URL, "id", actionRestart)
	if r.outcome != outcomeRetry || !errors.Is(r.err, context.Canceled) {
		t.Errorf("cancelled: %+v", r)
	}
}
