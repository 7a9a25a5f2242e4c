package openid

import (
	"errors"
	"strings"
	"testing"
)

func TestParseServerNameValid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		host string
		port uint16
		ip   bool
	}{
		{"example.org", "example.org", 0, false},
		{"example.org:8448", "example.org", 8448, false},
		{"EXAMPLE.org:1", "EXAMPLE.org", 1, false},
		{"localhost", "localhost", 0, false},
		{"my-server.example.org:65535", "my-server.example.org", 65535, false},
		{"1.2.3.4", "1.2.3.4", 0, true},
		{"1.2.3.4:80", "1.2.3.4", 80, true},
		{"[::1]", "::1", 0, true},
		{"[2001:db8::1]:8448", "2001:db8::1", 8448, true},
		{"[::ffff:127.0.0.1]", "::ffff:127.0.0.1", 0, true},
		{"3com.example", "3com.example", 0, false},
		{"a." + strings.Repeat("b", 63), "a." + strings.Repeat("b", 63), 0, false},
		{strings.Repeat("a.", 126) + "abc", strings.Repeat("a.", 126) + "abc", 0, false}, // 255 bytes
	} {
		sn, err := parseServerName(tc.in)
		if err != nil {
			t.Errorf("parseServerName(%q): %v", tc.in, err)
			continue
		}
		if sn.raw != tc.in || sn.host != tc.host || sn.port != tc.port || sn.ip.IsValid() != tc.ip {
			t.Errorf("parseServerName(%q) = %+v", tc.in, sn)
		}
		if sn.String() != tc.in {
			t.Errorf("parseServerName(%q).String() = %q", tc.in, sn.String())
		}
	}
}

func TestParseServerNameInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"",
		"evil.com/x",
		"evil.com/",
		"a@b",
		"x#y",
		"x?y",
		`a\b`,
		"a%b",
		"a%2fb",
		"a b",
		" example.org",
		"example.org\n",
		"exa\x00mple.org",
		"exa\x7fmple.org",
		"[::1",
		"::1",
		"[::1]x",
		"[::1]:",
		"[]",
		"[1.2.3.4]",
		"[fe80::1%eth0]",
		"[::1]:8448:1",
		":8448",
		"example.org:",
		"example.org:0",
		"example.org:99999",
		"example.org:65536",
		"example.org:08448",
		"example.org:+80",
		"example.org:80:90",
		"example.org:8448/x",
		"exämple.org",
		"例え.jp",
		strings.Repeat("a", 300),
		strings.Repeat("a.", 127) + "ab", // 256 bytes
		strings.Repeat("a", 64) + ".org",
		"a..b",
		".a",
		"a.",
		"-a.b",
		"a-.b",
		"a_b.org",
		"1.2.3",
		"127.1",
		"1.2.3.999",
		"127.000.000.001",
		"0x7f.0.0.1",
		"user:pass@host",
		"https://example.org",
	} {
		sn, err := parseServerName(in)
		if !errors.Is(err, ErrInvalidServerName) {
			t.Errorf("parseServerName(%q) = %+v, %v; want ErrInvalidServerName", in, sn, err)
		}
	}
}

func TestCheckUserID(t *testing.T) {
	t.Parallel()
	sn := func(s string) serverName {
		n, err := parseServerName(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		sub, server string
		ok          bool
	}{
		{"@alice:example.org", "example.org", true},
		{"@alice:example.org:8448", "example.org:8448", true},
		{"@a.b_c=d/e:localhost", "localhost", true},
		{"@alice:[::1]:8448", "[::1]:8448", true},
		{"@alice:evil.org", "localhost", false},
		{"@alice:example.org", "example.org:8448", false},
		{"@alice:example.org:8448", "example.org", false},
		{"@alice:EXAMPLE.org", "example.org", false},
		{"@:example.org", "example.org", false},
		{"alice:example.org", "example.org", false},
		{"@alice", "example.org", false},
		{"", "example.org", false},
		{"@al ice:example.org", "example.org", false},
		{"@al\nice:example.org", "example.org", false},
		{"@alicé:example.org", "example.org", false},
		{"@" + strings.Repeat("a", 250) + ":example.org", "example.org", false},
	} {
		err := checkUserID(tc.sub, sn(tc.server))
		if tc.ok && err != nil {
			t.Errorf("checkUserID(%q, %q) = %v; want ok", tc.sub, tc.server, err)
		}
		if !tc.ok && !errors.Is(err, ErrBadResponse) {
			t.Errorf("checkUserID(%q, %q) = %v; want ErrBadResponse", tc.sub, tc.server, err)
		}
	}
}

func FuzzParseServerName(f *testing.F) {
	for _, s := range []string{
		"example.org", "example.org:8448", "1.2.3.4", "[::1]:80", "evil.com/x", "a@b",
		"[::ffff:1.2.3.4]", "127.1", "a..b", "x:0", "[", "]:", "::", "a:b:c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sn, err := parseServerName(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidServerName) {
				t.Fatalf("parseServerName(%q): error %v is not ErrInvalidServerName", s, err)
			}
			return
		}
		if sn.raw != s || sn.String() != s {
			t.Fatalf("parseServerName(%q) does not round-trip: raw %q, String %q", s, sn.raw, sn.String())
		}
		if len(s) > maxServerNameBytes || strings.ContainsAny(s, "/?#@\\% \t\r\n") {
			t.Fatalf("parseServerName accepted %q", s)
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x21 || s[i] > 0x7e {
				t.Fatalf("parseServerName accepted non-printable or non-ASCII %q", s)
			}
		}
		again, err := parseServerName(sn.String())
		if err != nil || again != sn {
			t.Fatalf("re-parse of %q = %+v, %v; want %+v", s, again, err, sn)
		}
		if !sn.ip.IsValid() && checkHostname(sn.host) != "" {
			t.Fatalf("accepted bad hostname %q", sn.host)
		}
	})
}
