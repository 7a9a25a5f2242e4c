package jwtservice

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

// The vectors lk-jwt-service and matrix-js-sdk pin (lk-jwt-service.md §3).
func TestIdentityDerivations(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"get_token identity", LiveKitIdentityFor("@alice:example.com", "DEVICE123", "memberABC"), "J+T45tGruxc+HrUOqJJlyQSV33m728Cme4+vt8/SWrU"},
		{"room name", LiveKitRoomFor("!roomid:example.com", "slot1234"), "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc"},
		{"sfu/get identity", LegacyIdentityFor("@alice:example.com", "DEVICE123"), "@alice:example.com:DEVICE123"},
		{"sfu/get room uses the m.call#ROOM slot", LiveKitRoomFor("!roomid:example.com", legacySlot), LiveKitRoomFor("!roomid:example.com", "m.call#ROOM")},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	// Go's JSON escapes <, > and & as \u003c...; the hash must follow, or old
	// deployments' rooms would move.
	if LiveKitRoomFor("!a<b>&c:x", "s") == hashRaw(`["!a<b>&c:x","s"]`) {
		t.Error("identity hash does not use Go's HTML-safe JSON escaping")
	}
}

func hashRaw(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawStdEncoding.EncodeToString(sum[:])
}
