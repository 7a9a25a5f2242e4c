package membership

import (
	"errors"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

var codecSentinelErrs = []error{ErrMalformed, ErrTooLarge, ErrStateKey, ErrSenderMismatch}

func wrapsCodecSentinel(err error) bool {
	for _, s := range codecSentinelErrs {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func checkCodecInvariants(t *testing.T, m Member, sender id.UserID) {
	t.Helper()
	if m.UserID != sender || m.Call.Room != codecRoom || m.DeviceID == "" || len(m.DeviceID) > MaxIDLen ||
		len(m.Call.CallID) > MaxIDLen || len(m.Call.Application) > MaxIDLen || len(m.MembershipID) > MaxIDLen ||
		len(m.Preferred) > MaxFoci || len(m.Feeds) > MaxFeeds {
		t.Fatalf("invariant broken: %+v", m)
	}
}

func FuzzParseFamedly(f *testing.F) {
	for _, name := range []string{"famedly_livekit.json", "famedly_mesh.json"} {
		ev := loadCodecEvent(f, name)
		f.Add(string(ev.Sender), ev.StateKey, []byte(ev.Content))
	}
	f.Add("@alice:example.org", "@alice:example.org_D", []byte(`{"memberships":[`+validFamedlyEntry+`,{"call_id":1}]}`))
	f.Add("@alice:example.org", "D_@alice:example.org", []byte(`{}`))
	f.Fuzz(func(t *testing.T, sender, stateKey string, content []byte) {
		members, refused := ParseFamedly(codecRoom, id.UserID(sender), stateKey, content)
		for _, err := range refused {
			if !wrapsCodecSentinel(err) {
				t.Fatalf("refusal without sentinel: %v", err)
			}
		}
		if len(members) > MaxFamedlyEntries {
			t.Fatalf("%d members", len(members))
		}
		if len(members) == 0 {
			return
		}
		for _, m := range members {
			checkCodecInvariants(t, m, id.UserID(sender))
			if m.Dialect != DialectFamedly || m.StateKey != stateKey || len(m.ActiveFoci) != 1 ||
				(m.ActiveFoci[0].Type != "livekit" && m.ActiveFoci[0].Type != "mesh") {
				t.Fatalf("invariant broken: %+v", m)
			}
		}
		b, err := BuildFamedly(members)
		if err != nil {
			t.Fatalf("build of accepted members: %v", err)
		}
		back, refused := ParseFamedly(codecRoom, id.UserID(sender), stateKey, b)
		if len(refused) != 0 || !sameCodecMembers(back, members) {
			t.Fatalf("round trip:\n got %+v %v\nwant %+v\nvia %s", back, refused, members, b)
		}
	})
}

func FuzzParseMatrixRTC(f *testing.F) {
	ev := loadCodecEvent(f, "matrixrtc_session.json")
	f.Add(string(ev.Sender), ev.StateKey, []byte(ev.Content), ev.OriginTS)
	f.Add("@alice:example.org", "@alice:example.org_D_m.callx",
		[]byte(`{"application":"m.call","call_id":"x","device_id":"D","focus_active":{"type":"t"},"created_ts":-1.5,"expires":-3}`), int64(5))
	f.Add("@alice:example.org", "_@alice:example.org_D_m.call", []byte(`{}`), int64(0))
	f.Fuzz(func(t *testing.T, sender, stateKey string, content []byte, originMs int64) {
		originMs %= maxSafeInteger
		origin := time.UnixMilli(originMs)
		m, err := ParseMatrixRTC(codecRoom, id.UserID(sender), stateKey, content, origin)
		if err != nil {
			if m != nil || !wrapsCodecSentinel(err) {
				t.Fatalf("%v, %v", m, err)
			}
			return
		}
		if m == nil {
			return
		}
		checkCodecInvariants(t, *m, id.UserID(sender))
		if m.Dialect != DialectMatrixRTC || m.StateKey != stateKey || len(m.ActiveFoci) != 1 || m.ActiveFoci[0].Type == "" ||
			m.Call.Application == "" {
			t.Fatalf("invariant broken: %+v", m)
		}
		b, err := BuildMatrixRTC(*m, m.ExpiresAt.Sub(m.CreatedAt))
		if err != nil {
			t.Fatalf("build of accepted member: %v", err)
		}
		back, err := ParseMatrixRTC(codecRoom, id.UserID(sender), stateKey, b, origin)
		if err != nil || back == nil || !sameCodecMember(*back, *m) {
			t.Fatalf("round trip:\n got %+v %v\nwant %+v\nvia %s", back, err, m, b)
		}
	})
}

func FuzzParseRTCSticky(f *testing.F) {
	ev := loadCodecEvent(f, "rtc_sticky.json")
	f.Add(string(ev.Sender), []byte(ev.Content), ev.OriginTS, int64(time.Hour))
	f.Add("@alice:example.org", []byte(`{}`), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, sender string, content []byte, originMs, ttl int64) {
		origin := time.UnixMilli(originMs % maxSafeInteger)
		m, err := ParseRTCSticky(codecRoom, id.UserID(sender), content, origin, time.Duration(ttl))
		if err != nil {
			if m != nil || !wrapsCodecSentinel(err) {
				t.Fatalf("%v, %v", m, err)
			}
			return
		}
		if m == nil {
			return
		}
		checkCodecInvariants(t, *m, id.UserID(sender))
		if m.Dialect != DialectRTCSticky || m.StateKey == "" || m.MembershipID == "" ||
			m.ExpiresAt.Sub(m.CreatedAt) > MaxStickyTTL || m.ExpiresAt.Sub(m.CreatedAt) <= 0 {
			t.Fatalf("invariant broken: %+v", m)
		}
		if m.Identity() == "" {
			t.Fatal("no identity")
		}
	})
}
