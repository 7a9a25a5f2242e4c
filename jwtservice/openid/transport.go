package openid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

const (
	maxIdleConnsPerHost = 64
	maxIdleConns        = 512
	idleConnTimeout     = 90 * time.Second
	maxHeaderBytes      = 64 << 10
	drainBytes          = 4 << 10 // read of an error body, so its connection can be reused
	userAgent           = "switchboard-openid/1"
)

// newClient returns a client over a pooled HTTP/1.1 transport that never
// follows redirects, never uses a proxy (a proxy would bypass the guard) and
// never decompresses (the size cap applies to what is on the wire). guarded
// selects the discovered-homeserver transport (TLS through the SSRF guard)
// over the configured-homeserver one.
func newClient(d *dialer, cfg Config, guarded bool) (*http.Client, *http.Transport) {
	t := &http.Transport{
		Proxy:                  nil,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		TLSHandshakeTimeout:    cfg.ConnectTimeout,
		ResponseHeaderTimeout:  cfg.RequestTimeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		DisableCompression:     true,
		Protocols:              new(http.Protocols),
	}
	t.Protocols.SetHTTP1(true)
	if guarded {
		t.DialContext = refuse
		t.DialTLSContext = d.dialGuardedTLS
	} else {
		t.DialContext = d.dialDirect
		t.TLSClientConfig = d.tls.Clone()
	}
	c := &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c, t
}

// get performs one GET. For a 200 it returns the body, read up to
// MaxResponseBytes (more is ErrBadResponse, and the rest is never read);
// for other statuses only the status. Errors are *failure values whose text
// never contains u (it carries the access token).
func (v *Verifier) get(ctx context.Context, c *http.Client, u *url.URL, hostHeader string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, fail(ErrUnreachable, "cannot build request")
	}
	if hostHeader != "" {
		req.Host = hostHeader
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, transportFailure(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.CopyN(io.Discard, resp.Body, drainBytes)
		return resp.StatusCode, nil, nil
	}
	limit := v.cfg.MaxResponseBytes
	if resp.ContentLength > limit {
		return resp.StatusCode, nil, fail(ErrBadResponse, fmt.Sprintf("response of %d bytes exceeds the limit of %d", resp.ContentLength, limit))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, nil, transportFailure(ctx, err)
	}
	if int64(len(body)) > limit {
		return resp.StatusCode, nil, fail(ErrBadResponse, fmt.Sprintf("response exceeds the limit of %d bytes", limit))
	}
	return resp.StatusCode, body, nil
}

// transportFailure classifies an error of Client.Do or of reading a body,
// dropping the *url.Error layer whose text holds the URL.
func transportFailure(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return fail(ErrUnreachable, "timed out: "+err.Error())
	case context.Canceled:
		return fail(ErrUnreachable, "cancelled (verifier closing): "+err.Error())
	}
	return fail(ErrUnreachable, err.Error())
}

// statusFailure classifies a non-200 status.
func statusFailure(status int) error {
	detail := fmt.Sprintf("status %d", status)
	switch {
	case status >= 300 && status < 400:
		return fail(ErrBadResponse, detail+" (redirects are not followed)")
	case status == http.StatusTooManyRequests || status >= 500:
		return fail(ErrUnreachable, detail)
	case status >= 400 && status < 500:
		return fail(ErrRejected, detail)
	}
	return fail(ErrBadResponse, detail)
}
