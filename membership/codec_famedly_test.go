package membership

import (
	"errors"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

const (
	codecRoom  = id.RoomID("!roomid:example.org")
	codecAlice = id.UserID("@alice:example.org")
)

func TestParseFamedlyGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []Member
	}{
		{"famedly_livekit.json", []Member{{
			Dialect:      DialectFamedly,
			Call:         CallKey{Room: codecRoom, Application: "m.call", CallID: "", Scope: "m.room"},
			UserID:       codecAlice,
			DeviceID:     "ABCDEFGHIJ",
			MembershipID: "gor1Gt5BCIlyrxjyHnaEJQ==",
			StateKey:     "@alice:example.org",
			ActiveFoci:   []Focus{{Type: "livekit", LiveKitServiceURL: "https://lk-jwt.example.org", LiveKitAlias: "!roomid:example.org"}},
			ExpiresAt:    time.UnixMilli(1754560360000).Add(6 * time.Minute),
		}}},
		{"famedly_mesh.json", []Member{{
			Dialect:      DialectFamedly,
			Call:         CallKey{Room: codecRoom, Application: "m.call", CallID: "", Scope: "m.room"},
			UserID:       "@bob:example.org",
			DeviceID:     "BOBPHONE",
			MembershipID: "q5ZbXw2mF0k3CqQ9Yp1x2A==",
			StateKey:     "BOBPHONE_@bob:example.org",
			ActiveFoci:   []Focus{{Type: "mesh"}},
			Feeds:        []string{"m.usermedia", "m.screenshare"},
			ExpiresAt:    time.UnixMilli(1754560360000).Add(6 * time.Minute),
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			ev := loadCodecEvent(t, tt.file)
			got, refused := ParseFamedly(ev.RoomID, ev.Sender, ev.StateKey, ev.Content)
			if len(refused) != 0 {
				t.Fatalf("refused: %v", refused)
			}
			if !sameCodecMembers(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			// The SDK's own content is what BuildFamedly writes, byte for byte.
			b, err := BuildFamedly(got)
			if err != nil {
				t.Fatal(err)
			}
			if want := compactCodecJSON(t, ev.Content); string(b) != string(want) {
				t.Errorf("build:\n got %s\nwant %s", b, want)
			}
			checkCodecGolden(t, strings.TrimSuffix(tt.file, ".json")+".build.golden.json", b)
		})
	}
}

func TestBuildFamedlyRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1754560000000)
	in := []Member{
		{
			Call: CallKey{Application: "m.call", Scope: "m.room"}, UserID: codecAlice, DeviceID: "DEV1",
			MembershipID: "x<&>y", ActiveFoci: []Focus{{Type: "livekit", LiveKitServiceURL: "https://lk", LiveKitAlias: ""}},
			ExpiresAt: FamedlyExpiresAt(now),
		},
		{
			Call: CallKey{Application: "m.call", CallID: "c1", Scope: "m.user"}, UserID: codecAlice, DeviceID: "DEV2",
			MembershipID: "", ActiveFoci: []Focus{{Type: "mesh"}}, Feeds: []string{"m.usermedia"},
			ExpiresAt: FamedlyExpiresAt(now),
		},
	}
	b, err := BuildFamedly(in)
	if err != nil {
		t.Fatal(err)
	}
	checkCodecGolden(t, "famedly_two_entries.build.golden.json", b)
	got, refused := ParseFamedly(codecRoom, codecAlice, "@alice:example.org", b)
	if len(refused) != 0 {
		t.Fatal(refused)
	}
	for i := range in {
		in[i].Dialect, in[i].Call.Room, in[i].StateKey = DialectFamedly, codecRoom, "@alice:example.org"
	}
	if !sameCodecMembers(got, in) {
		t.Fatalf("got %+v\nwant %+v", got, in)
	}
	if !got[0].ExpiresAt.Equal(now.Add(12 * time.Minute)) {
		t.Errorf("expiry %v, want write time + 12 min", got[0].ExpiresAt)
	}
}

func TestBuildFamedlyRefuses(t *testing.T) {
	t.Parallel()
	ok := Member{UserID: codecAlice, DeviceID: "D", ActiveFoci: []Focus{{Type: "mesh"}}, ExpiresAt: time.UnixMilli(1e12)}
	mut := func(f func(*Member)) []Member { m := ok; f(&m); return []Member{m} }
	tests := map[string][]Member{
		"no device":   mut(func(m *Member) { m.DeviceID = "" }),
		"no foci":     mut(func(m *Member) { m.ActiveFoci = nil }),
		"bad focus":   mut(func(m *Member) { m.ActiveFoci = []Focus{{Type: "sfu"}} }),
		"zero expiry": mut(func(m *Member) { m.ExpiresAt = time.Time{} }),
		"long id":     mut(func(m *Member) { m.Call.CallID = strings.Repeat("x", 256) }),
		"two users":   append(mut(func(*Member) {}), mut(func(m *Member) { m.UserID = "@bob:example.org" })...),
		"too many":    make([]Member, MaxFamedlyEntries+1),
	}
	for name, in := range tests {
		if _, err := BuildFamedly(in); !errors.Is(err, ErrInvalidMember) {
			t.Errorf("%s: err %v, want ErrInvalidMember", name, err)
		}
	}
	if b, err := BuildFamedly(nil); err != nil || string(b) != `{"memberships":[]}` {
		t.Errorf("leave: %s, %v", b, err)
	}
}
