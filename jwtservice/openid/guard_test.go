package openid

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"1.1.1.1", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"::ffff:1.1.1.1", true},
		{"64:ff9b::101:101", true}, // NAT64 of 1.1.1.1
		{"2002:101:101::1", true},  // 6to4 of 1.1.1.1
		{"127.0.0.1", false},
		{"127.255.0.9", false},
		{"10.0.0.1", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"198.51.100.7", false},
		{"203.0.113.7", false},
		{"::", false},
		{"::1", false},
		{"::127.0.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"ff0e::1", false},
		{"64:ff9b::7f00:1", false},   // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", false},    // NAT64 of 10.0.0.1
		{"64:ff9b:1::1", false},      // local-use NAT64
		{"2002:7f00:1::1", false},    // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", false}, // 6to4 of 169.254.169.254
		{"2001::1", false},           // Teredo
		{"2001:db8::1", false},
		{"100::1", false},
	} {
		if got := publicAddr(netip.MustParseAddr(tc.addr)); got != tc.ok {
			t.Errorf("publicAddr(%s) = %v; want %v", tc.addr, got, tc.ok)
		}
	}
	if publicAddr(netip.Addr{}) {
		t.Error("publicAddr(invalid) = true")
	}
}

func TestGuardRefusesBeforeDial(t *testing.T) {
	t.Parallel()
	res := &fakeResolver{ips: map[string][]string{
		"mixed.test": {"1.1.1.1", "10.0.0.1"},
		"lo.test":    {"127.0.0.1"},
	}}
	rec := &recordingDial{}
	d := &dialer{resolver: res, dial: rec.Dial, allow: publicAddr, timeout: time.Second, closing: context.Background()}
	for _, host := range []string{"mixed.test", "lo.test", "127.0.0.1", "::1", "169.254.169.254"} {
		_, err := d.dialTargets(t.Context(), []hostPort{{host, 8448}}, true)
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("dial %s: %v; want ErrForbiddenAddress", host, err)
		}
	}
	if got := rec.dials(); len(got) != 0 {
		t.Errorf("dial attempts %v; want none", got)
	}
	// A connection whose context carries no route, or another route than
	// the pool key, is refused too.
	if _, err := d.dialGuardedTLS(t.Context(), "tcp", "1.1.1.1:443"); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("dial without route: %v", err)
	}
	rt := newRoute("a.test", "a.test", "test", hostPort{"a.test", 443})
	if _, err := d.dialGuardedTLS(withRoute(t.Context(), rt), "tcp", net.JoinHostPort("other.invalid", "443")); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("dial with mismatched route: %v", err)
	}
	if got := rec.dials(); len(got) != 0 {
		t.Errorf("dial attempts %v; want none", got)
	}
}
