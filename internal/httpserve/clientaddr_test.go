package httpserve

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	c, err := NewClientAddr([]string{"10.0.0.0/8", "2001:db8::1", "::ffff:192.168.0.0/112"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.1:5000", []string{"198.51.100.1"}, "203.0.113.1"},           // untrusted peer: header ignored
		{"10.1.2.3:5000", nil, "10.1.2.3"},                                      // trusted peer, no header
		{"10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},             // one proxy
		{"10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},    // spoofed left part
		{"10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},   // two proxies
		{"10.1.2.3:5000", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1"}, // split over header lines
		{"10.1.2.3:5000", []string{"10.8.8.8, 10.9.9.9"}, "10.8.8.8"},           // all trusted: the farthest
		{"10.1.2.3:5000", []string{"junk, 10.9.9.9"}, "10.9.9.9"},               // garbage stops the walk
		{"10.1.2.3:5000", []string{"198.51.100.1, junk"}, "10.1.2.3"},           // garbage right after the peer
		{"10.1.2.3:5000", []string{" , ,198.51.100.1 , "}, "198.51.100.1"},      // empty items
		{"10.1.2.3:5000", []string{"[2001:db8::5]:443"}, "2001:db8::5"},         // bracketed with port
		{"10.1.2.3:5000", []string{"198.51.100.1:1234"}, "198.51.100.1"},        // with port
		{"10.1.2.3:5000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},      // v4-mapped
		{"[2001:db8::1]:5000", []string{"2001:db8::7"}, "2001:db8::7"},          // v6 proxy
		{"[::ffff:192.168.0.9]:5000", []string{"198.51.100.1"}, "198.51.100.1"}, // mapped peer and prefix
		{"[fe80::1%eth0]:5000", []string{"198.51.100.1"}, "fe80::1"},            // zone dropped
		{"not-an-address", []string{"198.51.100.1"}, "not-an-address"},          // RemoteAddr kept as is
	} {
		r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := c.Of(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
	var none *ClientAddr
	if got := none.Of(&http.Request{RemoteAddr: "10.1.2.3:1", Header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}}); got != "10.1.2.3" {
		t.Errorf("nil ClientAddr: %s", got)
	}
}

func TestParseTrustedProxy(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8": "10.0.0.0/8", "127.0.0.1": "127.0.0.1/32", "::1": "::1/128",
		"::ffff:10.0.0.1": "10.0.0.1/32", "::ffff:10.0.0.0/104": "10.0.0.0/8", "2001:db8::/32": "2001:db8::/32",
	} {
		p, err := ParseTrustedProxy(in)
		if err != nil || p.String() != want {
			t.Errorf("%q: %v %v, want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"", "10.0.0.1/8", "10.0.0.0/33", "example.org", "fe80::1%eth0", "10.0.0.0/8/8"} {
		if _, err := ParseTrustedProxy(in); !errors.Is(err, ErrBadProxy) {
			t.Errorf("%q accepted (%v)", in, err)
		}
	}
	if _, err := NewClientAddr([]string{"10.0.0.0/8", "bad", "worse"}); err == nil {
		t.Error("NewClientAddr accepted bad entries")
	}
}

// FuzzClientAddr: any X-Forwarded-For gives a parsed address (never header
// text), and the header of an untrusted peer changes nothing.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "1.1.1.1, 10.0.0.1", "[::1]:80, junk", ",,,", "::ffff:1.2.3.4%x", "\x00,\xff"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	c, err := NewClientAddr([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, xff string, trustedPeer bool) {
		peer := "203.0.113.1:1"
		if trustedPeer {
			peer = "10.0.0.1:1"
		}
		got := c.Of(&http.Request{RemoteAddr: peer, Header: http.Header{"X-Forwarded-For": {xff}}})
		a, err := netip.ParseAddr(got)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("client %q is not a plain address", got)
		}
		if !trustedPeer && got != "203.0.113.1" {
			t.Fatalf("untrusted peer's header believed: %q", got)
		}
	})
}
