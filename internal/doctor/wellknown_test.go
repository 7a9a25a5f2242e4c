package doctor

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseWellKnown(t *testing.T) {
	for _, c := range []struct {
		name, body string
		err        bool
		hs         string
		foci       []string
		problems   int
	}{
		{"minimal", `{"m.homeserver":{"base_url":"https://matrix.example.org/"}}`, false, "https://matrix.example.org", nil, 0},
		{"foci", `{"m.homeserver":{"base_url":"https://m.example.org"},"org.matrix.msc4143.rtc_foci":[{"type":"nextgen"},{"type":"livekit","livekit_service_url":"https://rtc.example.org/livekit/jwt/"}]}`,
			false, "https://m.example.org", []string{"https://rtc.example.org/livekit/jwt"}, 0},
		{"made-up key", `{"m.homeserver":{"base_url":"https://m.example.org"},"org.matrix.msc4143.rtc_foci":[{"type":"livekit","livekit_jwt_service_url":"https://x"}]}`,
			false, "https://m.example.org", nil, 1},
		{"foci not a list", `{"m.homeserver":{"base_url":"https://m.example.org"},"org.matrix.msc4143.rtc_foci":{"type":"livekit"}}`, false, "https://m.example.org", nil, 1},
		{"bad service url", `{"m.homeserver":{"base_url":"https://m.example.org"},"org.matrix.msc4143.rtc_foci":[{"type":"livekit","livekit_service_url":"javascript:alert(1)"},{"type":"livekit","livekit_service_url":7}]}`,
			false, "https://m.example.org", nil, 2},
		{"not json", `<html>`, true, "", nil, 0},
		{"array", `[]`, true, "", nil, 0},
		{"null", `null`, true, "", nil, 0},
		{"no homeserver", `{}`, true, "", nil, 0},
		{"base_url number", `{"m.homeserver":{"base_url":1}}`, true, "", nil, 0},
		{"base_url relative", `{"m.homeserver":{"base_url":"/matrix"}}`, true, "", nil, 0},
		{"trailing", `{"m.homeserver":{"base_url":"https://m"}} {}`, true, "", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			wk, err := ParseWellKnown([]byte(c.body))
			if c.err {
				if !errors.Is(err, ErrBadDocument) {
					t.Fatalf("err = %v, want ErrBadDocument", err)
				}
				return
			}
			if err != nil || wk.HomeserverURL != c.hs || len(wk.Problems) != c.problems {
				t.Fatalf("= %+v, %v", wk, err)
			}
			var got []string
			for _, f := range wk.Foci {
				got = append(got, f.ServiceURL)
			}
			if strings.Join(got, " ") != strings.Join(c.foci, " ") {
				t.Fatalf("foci %v, want %v", got, c.foci)
			}
		})
	}
}

func TestParseTransports(t *testing.T) {
	foci, _, err := ParseTransports([]byte(`{"rtc_transports":[{"type":"livekit","livekit_service_url":"http://127.0.0.1:8080"}]}`))
	if err != nil || len(foci) != 1 || foci[0].ServiceURL != "http://127.0.0.1:8080" {
		t.Fatalf("= %v, %v", foci, err)
	}
	if foci, _, err := ParseTransports([]byte(`{}`)); err != nil || foci != nil {
		t.Fatalf("empty: %v, %v", foci, err)
	}
}

// FuzzParseDiscovery: hostile .well-known and rtc/transports bodies never
// crash the parsers, every focus they keep is a checked http(s) URL, and
// whatever they report stays bounded.
func FuzzParseDiscovery(f *testing.F) {
	for _, s := range []string{
		`{"m.homeserver":{"base_url":"https://m.example.org"},"org.matrix.msc4143.rtc_foci":[{"type":"livekit","livekit_service_url":"https://rtc.example.org"}]}`,
		`{"rtc_transports":[{"type":"livekit","livekit_service_url":"http://127.0.0.1:1/x"},{"type":1}]}`,
		`{"m.homeserver":{"base_url":"https://\u0000"}}`, `[[[[[[[[]]]]]]]]`, `{"m.homeserver":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		wk, err := ParseWellKnown(b)
		if err == nil {
			if _, err := checkURL(wk.HomeserverURL); err != nil {
				t.Fatalf("kept base_url %q: %v", wk.HomeserverURL, err)
			}
		}
		foci, problems, _ := ParseTransports(b)
		for _, list := range [][]Focus{wk.Foci, foci} {
			if len(list) > maxFoci {
				t.Fatalf("%d foci kept", len(list))
			}
			for _, f := range list {
				if _, err := checkURL(f.ServiceURL); err != nil || f.Type != "livekit" {
					t.Fatalf("kept focus %+v: %v", f, err)
				}
			}
		}
		for _, p := range append(problems, wk.Problems...) {
			if len(p) > 600 || !utf8.ValidString(p) || strings.ContainsAny(p, "\n\r") {
				t.Fatalf("problem text %q", p)
			}
		}
	})
}
