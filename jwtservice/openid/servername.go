package openid

import (
	"net/netip"
	"strconv"
	"strings"
)

const (
	maxServerNameBytes = 255
	maxUserIDBytes     = 255
	federationPort     = 8448
)

// serverName is a parsed Matrix server name: hostname, IPv4 literal or
// [IPv6 literal], with an optional port. raw is the name exactly as given;
// parsing accepts only names that are already in canonical form, so raw is
// also host[:port] reassembled.
type serverName struct {
	raw  string
	host string     // without brackets
	port uint16     // 0: none given
	ip   netip.Addr // valid for IP literals
}

// parseServerName checks s against the server-name grammar of the Matrix
// spec, tightened: DNS labels of 1-63 letters, digits and inner hyphens, a
// last label that is not all digits (so "127.1" is no hostname), no leading
// zeros in the port, 1-65535, at most 255 bytes. It never allocates.
func parseServerName(s string) (serverName, error) {
	if s == "" {
		return serverName{}, fail(ErrInvalidServerName, "empty")
	}
	if len(s) > maxServerNameBytes {
		return serverName{}, fail(ErrInvalidServerName, "longer than 255 bytes")
	}
	sn := serverName{raw: s}
	var portText string
	hasPort := false
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return serverName{}, fail(ErrInvalidServerName, "unterminated IPv6 literal")
		}
		sn.host = s[1:end]
		if rest := s[end+1:]; rest != "" {
			if rest[0] != ':' {
				return serverName{}, fail(ErrInvalidServerName, "junk after IPv6 literal")
			}
			portText, hasPort = rest[1:], true
		}
		if !isIPv6Text(sn.host) {
			return serverName{}, fail(ErrInvalidServerName, "bad IPv6 literal")
		}
		ip, err := netip.ParseAddr(sn.host)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return serverName{}, fail(ErrInvalidServerName, "bad IPv6 literal")
		}
		sn.ip = ip
	} else {
		sn.host = s
		if i := strings.IndexByte(s, ':'); i >= 0 {
			sn.host, portText, hasPort = s[:i], s[i+1:], true
		}
		if ip, ok := parseIPv4(sn.host); ok {
			sn.ip = ip
		} else if detail := checkHostname(sn.host); detail != "" {
			return serverName{}, fail(ErrInvalidServerName, detail)
		}
	}
	if hasPort {
		p, ok := parsePort(portText)
		if !ok {
			return serverName{}, fail(ErrInvalidServerName, "bad port")
		}
		sn.port = p
	}
	return sn, nil
}

// String reassembles the name from its parts (equal to raw by construction).
func (sn serverName) String() string {
	h := sn.host
	if sn.ip.Is6() {
		h = "[" + h + "]"
	}
	if sn.port != 0 {
		h += ":" + strconv.Itoa(int(sn.port))
	}
	return h
}

// checkHostname returns why h is no valid DNS hostname, or "" if it is.
func checkHostname(h string) string {
	if h == "" {
		return "empty host"
	}
	start := 0
	allDigits := true
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			c := h[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				allDigits = false
			default:
				return "bad character in hostname"
			}
			continue
		}
		label := h[start:i]
		switch {
		case label == "":
			return "empty DNS label"
		case len(label) > 63:
			return "DNS label longer than 63 bytes"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "DNS label starts or ends with a hyphen"
		}
		if i == len(h) && allDigits {
			return "numeric last label (not an IPv4 literal)"
		}
		start, allDigits = i+1, true
	}
	return ""
}

// parseIPv4 parses a dotted-quad IPv4 literal (no leading zeros). It calls
// netip.ParseAddr only on digits and dots, so hostnames cost no error
// allocation.
func parseIPv4(s string) (netip.Addr, bool) {
	if s == "" || len(s) > len("255.255.255.255") {
		return netip.Addr{}, false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return netip.Addr{}, false
		}
	}
	ip, err := netip.ParseAddr(s)
	return ip, err == nil && ip.Is4()
}

// isIPv6Text allows only the characters of the spec's IPv6char.
func isIPv6Text(s string) bool {
	if len(s) < 2 || len(s) > 45 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

// parsePort accepts 1-65535 written without leading zeros.
func parsePort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// checkUserID requires sub to be "@localpart:server" with the server part
// equal to sn exactly (port included) and a non-empty localpart of printable
// ASCII, at most 255 bytes in all (the spec's limit for user IDs).
func checkUserID(sub string, sn serverName) error {
	if len(sub) > maxUserIDBytes {
		return fail(ErrBadResponse, "user id longer than 255 bytes")
	}
	if len(sub) < 3 || sub[0] != '@' {
		return fail(ErrBadResponse, "sub is not a user id")
	}
	colon := strings.IndexByte(sub, ':')
	if colon < 0 {
		return fail(ErrBadResponse, "sub is not a user id")
	}
	if colon == 1 {
		return fail(ErrBadResponse, "empty localpart in sub")
	}
	for i := 1; i < colon; i++ {
		if sub[i] < 0x21 || sub[i] > 0x7e {
			return fail(ErrBadResponse, "bad character in localpart of sub")
		}
	}
	if sub[colon+1:] != sn.raw {
		return fail(ErrBadResponse, "sub names a user of another server")
	}
	return nil
}
