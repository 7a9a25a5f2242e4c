package delegation

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzResolverWellKnown feeds arbitrary .well-known/matrix/client bodies to
// the parser: it never panics, and what it accepts is an absolute http(s)
// URL with a host, no credentials, query or fragment, and no trailing slash.
func FuzzResolverWellKnown(f *testing.F) {
	for _, seed := range []string{
		`{"m.homeserver":{"base_url":"https://matrix.example.org"}}`,
		`{"m.homeserver":{"base_url":"https://matrix.example.org/"},"m.identity_server":{"base_url":"https://id"}}`,
		`{"m.homeserver":{"base_url":"http://[::1]:8008/prefix//"}}`,
		`{"m.homeserver":{"base_url":""}}`,
		`{"m.homeserver":{"base_url":null}}`,
		`{"m.homeserver":null}`,
		`{"m.homeserver":{"base_url":"https://u:p@h"}}`,
		`{"m.homeserver":{"base_url":"https://h/?q#f"}}`,
		`{"m.homeserver":{"base_url":"\u0000"}}`,
		`{"m.homeserver":{"base_url":"https://%zz"}}`,
		`[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		base, err := parseWellKnown(body)
		if err != nil {
			return
		}
		u, perr := url.Parse(base)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(base, "/") {
			t.Fatalf("accepted %q from %q", base, body)
		}
		if _, err := actionURL(base, "id", actionRestart); err != nil {
			t.Fatalf("accepted %q but cannot build action URLs: %v", base, err)
		}
	})
}
