package mesh

import "testing"

func TestPlaces(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{PeerKey("@alice:hs", "A"), PeerKey("@bob:hs", "B"), true},
		{PeerKey("@bob:hs", "B"), PeerKey("@alice:hs", "A"), false},
		{PeerKey("@alice:hs", "A"), PeerKey("@alice:hs", "B"), true},
		// Byte order, not case-folded: 'Z' (0x5a) sorts before 'a' (0x61).
		{PeerKey("@Zed:hs", "D"), PeerKey("@ann:hs", "D"), true},
		// The separator takes part: "@a:b:D" vs "@a:bc:D" compares ':' (0x3a) with 'c'.
		{PeerKey("@a:b", "D"), PeerKey("@a:bc", "D"), true},
		{PeerKey("@a:hs", "X"), PeerKey("@a:hs", "X"), false},
	}
	for _, tt := range tests {
		if got := Places(tt.a, tt.b); got != tt.want {
			t.Errorf("Places(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// Exactly one side places each call, whatever the pair.
func TestPlacesExactlyOne(t *testing.T) {
	keys := []string{PeerKey("@a:hs", "1"), PeerKey("@a:hs", "2"), PeerKey("@b:hs", "1"), PeerKey("@B:hs", "1"), PeerKey("@ä:hs", "1")}
	for _, a := range keys {
		for _, b := range keys {
			if a != b && Places(a, b) == Places(b, a) {
				t.Errorf("%q and %q: both or neither place the call", a, b)
			}
		}
	}
}

func TestRoomGlare(t *testing.T) {
	tests := []struct {
		name         string
		ours         string
		sent         bool
		theirs, want string
	}{
		{"ours smaller survives", "100a", true, "100b", "keep_ours"},
		{"theirs smaller survives", "100b", true, "100a", "keep_theirs"},
		{"ours not sent yet yields", "100a", false, "100b", "keep_theirs"},
		{"same id is the same call", "100a", true, "100a", "keep_ours"},
	}
	for _, tt := range tests {
		if got := RoomGlare(tt.ours, tt.sent, tt.theirs).String(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

// Both sides of a crossing mesh invite decide alike: one call survives,
// the one placed by the smaller key.
func TestMeshGlare(t *testing.T) {
	alice, bob := PeerKey("@alice:hs", "A"), PeerKey("@bob:hs", "B")
	if got := MeshGlare(alice, bob); got != KeepOurs {
		t.Errorf("alice: %s, want keep_ours (her invite wins)", got)
	}
	if got := MeshGlare(bob, alice); got != KeepTheirs {
		t.Errorf("bob: %s, want keep_theirs (alice's invite wins)", got)
	}
	if Glare(0).String() != "invalid" {
		t.Error("zero Glare must be invalid")
	}
}
