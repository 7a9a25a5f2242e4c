package openid

import (
	"errors"
	"strings"
)

// Sentinel errors. Verify wraps exactly one of them (see the package doc);
// the HTTP edge answers 401 M_UNAUTHORIZED for all and logs which one.
var (
	// ErrInvalidServerName means matrix_server_name is not a valid server
	// name; nothing was contacted.
	ErrInvalidServerName = errors.New("invalid server name")
	// ErrForbiddenAddress means the SSRF guard refused the address the
	// server name (or its delegation) resolves to; nothing was dialled there.
	ErrForbiddenAddress = errors.New("forbidden address")
	// ErrRejected means the homeserver answered with a 4xx status (other
	// than 429): the token is not valid. An empty or oversized token is
	// rejected the same way without asking anyone.
	ErrRejected = errors.New("token rejected")
	// ErrBadResponse means the homeserver answered 200 with something
	// unusable (not JSON, too large, no sub, sub on another server) or
	// answered with a redirect or another unexpected status.
	ErrBadResponse = errors.New("bad homeserver response")
	// ErrUnreachable means no answer: DNS failure, connect or TLS failure,
	// timeout, 429 or 5xx.
	ErrUnreachable = errors.New("homeserver unreachable")
)

// failure is an error of one sentinel kind with a detail text that names
// servers and addresses, never URLs or tokens.
type failure struct {
	kind   error
	detail string
}

func (f *failure) Error() string {
	if f.detail == "" {
		return f.kind.Error()
	}
	return f.kind.Error() + ": " + f.detail
}

func (f *failure) Unwrap() error { return f.kind }

func fail(kind error, detail string) *failure { return &failure{kind: kind, detail: detail} }

// redact removes token from err's text. Details are built to exclude it
// already; this is the second line of defence.
func redact(err error, token string) error {
	var f *failure
	if token == "" || !errors.As(err, &f) || !strings.Contains(f.detail, token) {
		return err
	}
	return fail(f.kind, strings.ReplaceAll(f.detail, token, "[redacted]"))
}

// reason is a short label for logs: which sentinel err wraps.
func reason(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{
		{ErrInvalidServerName, "invalid_server_name"},
		{ErrForbiddenAddress, "forbidden_address"},
		{ErrRejected, "rejected"},
		{ErrBadResponse, "bad_response"},
		{ErrUnreachable, "unreachable"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}
