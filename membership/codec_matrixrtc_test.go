package membership

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMatrixRTCGolden(t *testing.T) {
	t.Parallel()
	ev := loadCodecEvent(t, "matrixrtc_session.json")
	got, err := ParseMatrixRTC(ev.RoomID, ev.Sender, ev.StateKey, ev.Content, time.UnixMilli(ev.OriginTS))
	if err != nil {
		t.Fatal(err)
	}
	want := Member{
		Dialect:      DialectMatrixRTC,
		Call:         CallKey{Room: codecRoom, Application: "m.call", CallID: "", Scope: "m.room"},
		UserID:       codecAlice,
		DeviceID:     "AAAAAAA",
		MembershipID: "@alice:example.org:AAAAAAA",
		StateKey:     "_@alice:example.org_AAAAAAA_m.call",
		ActiveFoci:   []Focus{{Type: "livekit", FocusSelection: "multi_sfu"}},
		Preferred:    []Focus{{Type: "livekit", LiveKitServiceURL: "https://rtc.example.org/livekit/jwt", LiveKitAlias: "!roomid:example.org"}},
		CreatedAt:    time.UnixMilli(1720000000000),
		ExpiresAt:    time.UnixMilli(1720000000000).Add(4 * time.Hour),
	}
	if !sameCodecMember(*got, want) {
		t.Fatalf("got %+v\nwant %+v", *got, want)
	}
	if got.Identity() != "@alice:example.org:AAAAAAA" {
		t.Errorf("identity %q", got.Identity())
	}
	b, err := BuildMatrixRTC(*got, DefaultMatrixRTCExpiry)
	if err != nil {
		t.Fatal(err)
	}
	checkCodecGolden(t, "matrixrtc_session.build.golden.json", b)
	back, err := ParseMatrixRTC(ev.RoomID, ev.Sender, ev.StateKey, b, time.UnixMilli(ev.OriginTS))
	if err != nil || !sameCodecMember(*back, want) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

func TestParseMatrixRTCDefaults(t *testing.T) {
	t.Parallel()
	origin := time.UnixMilli(1720000005123)
	c := `{"application":"m.call","call_id":"custom","device_id":"DEV","focus_active":{"type":"livekit","focus_selection":7}}`
	got, err := ParseMatrixRTC(codecRoom, codecAlice, "@alice:example.org_DEV_m.callcustom", []byte(c), origin.Add(456*time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	if got.MembershipID != "@alice:example.org:DEV" || got.Call.Scope != "m.room" || got.Call.CallID != "custom" ||
		!got.CreatedAt.Equal(origin) || !got.ExpiresAt.Equal(origin.Add(DefaultMatrixRTCExpiry)) ||
		got.ActiveFoci[0].FocusSelection != "" {
		t.Errorf("got %+v", got)
	}
}

func TestParseMatrixRTCLeave(t *testing.T) {
	t.Parallel()
	for _, c := range []string{`{}`, `{"memberships":[{"call_id":""}]}`} {
		m, err := ParseMatrixRTC(codecRoom, codecAlice, "_@alice:example.org_DEV_m.call", []byte(c), time.Now())
		if m != nil || err != nil {
			t.Errorf("%s: %v, %v; want a leave", c, m, err)
		}
	}
}

func TestParseMatrixRTCRefuses(t *testing.T) {
	t.Parallel()
	const key = "_@alice:example.org_DEV_m.call"
	fa := `"focus_active":{"type":"livekit"}`
	base := `"application":"m.call","call_id":"","device_id":"DEV",` + fa
	tests := []struct {
		name, key, content string
		want               error
	}{
		{"not json", key, `{`, ErrMalformed},
		{"not an object", key, `"x"`, ErrMalformed},
		{"too large", key, `{"a":"` + strings.Repeat("a", MaxContentBytes) + `"}`, ErrTooLarge},
		{"too deep", key, `{"a":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `}`, ErrTooLarge},
		{"device_id missing", key, `{"application":"m.call","call_id":"",` + fa + `}`, ErrMalformed},
		{"device_id empty", "_@alice:example.org__m.call", `{"application":"m.call","call_id":"","device_id":"",` + fa + `}`, ErrMalformed},
		{"call_id missing", key, `{"application":"m.call","device_id":"DEV",` + fa + `}`, ErrMalformed},
		{"application missing", key, `{"call_id":"","device_id":"DEV",` + fa + `}`, ErrMalformed},
		{"application number", key, `{"application":1,"call_id":"","device_id":"DEV",` + fa + `}`, ErrMalformed},
		{"legacy plus fields", key, `{"memberships":[],"call_id":""}`, ErrMalformed},
		{"focus_active missing", key, `{"application":"m.call","call_id":"","device_id":"DEV"}`, ErrMalformed},
		{"focus_active list", key, `{"application":"m.call","call_id":"","device_id":"DEV","focus_active":[{"type":"livekit"}]}`, ErrMalformed},
		{"focus_active type missing", key, `{"application":"m.call","call_id":"","device_id":"DEV","focus_active":{}}`, ErrMalformed},
		{"focus_active type empty", key, `{"application":"m.call","call_id":"","device_id":"DEV","focus_active":{"type":""}}`, ErrMalformed},
		{"foci_preferred object", key, `{` + base + `,"foci_preferred":{}}`, ErrMalformed},
		{"foci_preferred element string", key, `{` + base + `,"foci_preferred":["livekit"]}`, ErrMalformed},
		{"foci_preferred type number", key, `{` + base + `,"foci_preferred":[{"type":1}]}`, ErrMalformed},
		{"foci_preferred too many", key, `{` + base + `,"foci_preferred":[` + strings.Repeat(`{"type":"x"},`, MaxFoci) + `{"type":"x"}]}`, ErrTooLarge},
		{"created_ts string", key, `{` + base + `,"created_ts":"1"}`, ErrMalformed},
		{"created_ts huge", key, `{` + base + `,"created_ts":1e300}`, ErrMalformed},
		{"expires string", key, `{` + base + `,"expires":"4h"}`, ErrMalformed},
		{"expires huge", key, `{` + base + `,"expires":1e15}`, ErrMalformed},
		{"scope number", key, `{` + base + `,"scope":1}`, ErrMalformed},
		{"scope null", key, `{` + base + `,"scope":null}`, ErrMalformed},
		{"intent object", key, `{` + base + `,"m.call.intent":{}}`, ErrMalformed},
		{"membershipID number", key, `{` + base + `,"membershipID":1}`, ErrMalformed},
		{"key of another user", "_@bob:example.org_DEV_m.call", `{` + base + `}`, ErrStateKey},
		{"key of another device", "_@alice:example.org_OTHER_m.call", `{` + base + `}`, ErrStateKey},
		{"key of another call", "_@alice:example.org_DEV_m.callx", `{` + base + `}`, ErrStateKey},
		{"key of the legacy format", "@alice:example.org", `{` + base + `}`, ErrStateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := ParseMatrixRTC(codecRoom, codecAlice, tt.key, []byte(tt.content), time.UnixMilli(1))
			if m != nil || !errors.Is(err, tt.want) {
				t.Fatalf("got %+v, %v; want %v", m, err, tt.want)
			}
		})
	}
}

func TestMatrixRTCStateKey(t *testing.T) {
	t.Parallel()
	if k := MatrixRTCStateKey("@alice:example.org", "AAAAAAA", "m.call", "", false); k != "_@alice:example.org_AAAAAAA_m.call" {
		t.Error(k)
	}
	if k := MatrixRTCStateKey("@alice:example.org", "AAAAAAA", "m.call", "custom", true); k != "@alice:example.org_AAAAAAA_m.callcustom" {
		t.Error(k)
	}
}

func TestBuildMatrixRTC(t *testing.T) {
	t.Parallel()
	m := Member{
		Call: CallKey{Room: codecRoom, Application: "m.call", Scope: "m.room"}, UserID: "@bot:example.org", DeviceID: "BOT",
		MembershipID: "@bot:example.org:BOT",
		ActiveFoci:   []Focus{{Type: "livekit", FocusSelection: "multi_sfu"}},
		Preferred:    []Focus{{Type: "livekit", LiveKitServiceURL: "https://lk.example.org", LiveKitAlias: "!roomid:example.org"}},
	}
	b, err := BuildMatrixRTC(m, DefaultMatrixRTCExpiry)
	if err != nil {
		t.Fatal(err)
	}
	checkCodecGolden(t, "matrixrtc_first_join.build.golden.json", b)
	origin := time.UnixMilli(1720000000000)
	key := MatrixRTCStateKey("@bot:example.org", "BOT", "m.call", "", false)
	got, err := ParseMatrixRTC(codecRoom, "@bot:example.org", key, b, origin)
	if err != nil {
		t.Fatal(err)
	}
	m.Dialect, m.StateKey, m.CreatedAt, m.ExpiresAt = DialectMatrixRTC, key, origin, origin.Add(4*time.Hour)
	if !sameCodecMember(*got, m) {
		t.Fatalf("got %+v\nwant %+v", *got, m)
	}
	bad := map[string]Member{
		"no device":      {Call: CallKey{Application: "m.call"}, ActiveFoci: []Focus{{Type: "livekit"}}},
		"no application": {DeviceID: "D", ActiveFoci: []Focus{{Type: "livekit"}}},
		"no focus":       {DeviceID: "D", Call: CallKey{Application: "m.call"}},
		"sub-ms created": {DeviceID: "D", Call: CallKey{Application: "m.call"}, ActiveFoci: []Focus{{Type: "livekit"}}, CreatedAt: time.Unix(1, 5)},
	}
	for name, m := range bad {
		if _, err := BuildMatrixRTC(m, time.Hour); !errors.Is(err, ErrInvalidMember) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := BuildMatrixRTC(m, time.Microsecond); !errors.Is(err, ErrInvalidMember) {
		t.Errorf("sub-ms expires: %v", err)
	}
}
