package membership

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRTCStickyGolden(t *testing.T) {
	t.Parallel()
	ev := loadCodecEvent(t, "rtc_sticky.json")
	origin := time.UnixMilli(ev.OriginTS)
	got, err := ParseRTCSticky(ev.RoomID, ev.Sender, ev.Content, origin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := Member{
		Dialect:      DialectRTCSticky,
		Call:         CallKey{Room: codecRoom, Application: "m.call", CallID: ""},
		UserID:       codecAlice,
		DeviceID:     "AAAAAAA",
		MembershipID: "0b6f7d2e-4c1a-4e8a-9b7e-2f1d3c4b5a69",
		StateKey:     "0b6f7d2e-4c1a-4e8a-9b7e-2f1d3c4b5a69",
		Preferred:    []Focus{{Type: "livekit", LiveKitServiceURL: "https://rtc.example.org/livekit/jwt"}},
		CreatedAt:    origin,
		ExpiresAt:    origin.Add(time.Hour),
	}
	if !sameCodecMember(*got, want) {
		t.Fatalf("got %+v\nwant %+v", *got, want)
	}
	// A longer or missing TTL is capped at an hour.
	for _, ttl := range []time.Duration{0, -time.Second, 5 * time.Hour} {
		m, err := ParseRTCSticky(ev.RoomID, ev.Sender, ev.Content, origin, ttl)
		if err != nil || !m.ExpiresAt.Equal(origin.Add(MaxStickyTTL)) {
			t.Errorf("ttl %v: %v, %v", ttl, m, err)
		}
	}
	m, err := ParseRTCSticky(ev.RoomID, ev.Sender, ev.Content, origin, 10*time.Minute)
	if err != nil || !m.ExpiresAt.Equal(origin.Add(10*time.Minute)) {
		t.Errorf("ttl 10m: %v, %v", m, err)
	}
}

func TestParseRTCStickyLeave(t *testing.T) {
	t.Parallel()
	if m, err := ParseRTCSticky(codecRoom, codecAlice, []byte(`{}`), time.Now(), 0); m != nil || err != nil {
		t.Errorf("%v, %v", m, err)
	}
}

func TestParseRTCStickyRefuses(t *testing.T) {
	t.Parallel()
	const (
		app   = `"application":{"type":"m.call"}`
		mem   = `"member":{"user_id":"@alice:example.org","device_id":"D","id":"u1"}`
		tr    = `"rtc_transports":[{"type":"livekit"}]`
		sk    = `"msc4354_sticky_key":"u1"`
		slot  = `"slot_id":"m.call#ROOM"`
		valid = slot + "," + app + "," + mem + "," + tr + "," + sk
	)
	tests := []struct {
		name, content string
		want          error
	}{
		{"not json", `{`, ErrMalformed},
		{"too large", `{"a":"` + strings.Repeat("a", MaxContentBytes) + `"}`, ErrTooLarge},
		{"slot missing", `{` + app + "," + mem + "," + tr + "," + sk + `}`, ErrMalformed},
		{"slot of other app", `{"slot_id":"m.other#ROOM",` + app + "," + mem + "," + tr + "," + sk + `}`, ErrMalformed},
		{"slot with two #", `{"slot_id":"m.call#RO#OM",` + app + "," + mem + "," + tr + "," + sk + `}`, ErrMalformed},
		{"slot without #", `{"slot_id":"m.call",` + app + "," + mem + "," + tr + "," + sk + `}`, ErrMalformed},
		{"application missing", `{` + slot + "," + mem + "," + tr + "," + sk + `}`, ErrMalformed},
		{"application string", `{` + slot + `,"application":"m.call",` + mem + "," + tr + "," + sk + `}`, ErrMalformed},
		{"intent number", `{` + slot + `,"application":{"type":"m.call","m.call.intent":1},` + mem + "," + tr + "," + sk + `}`, ErrMalformed},
		{"member missing", `{` + slot + "," + app + "," + tr + "," + sk + `}`, ErrMalformed},
		{"member of another user", `{` + slot + "," + app + `,"member":{"user_id":"@bob:example.org","device_id":"D","id":"u1"},` + tr + "," + sk + `}`, ErrSenderMismatch},
		{"member user invalid", `{` + slot + "," + app + `,"member":{"user_id":"alice","device_id":"D","id":"u1"},` + tr + "," + sk + `}`, ErrMalformed},
		{"member device missing", `{` + slot + "," + app + `,"member":{"user_id":"@alice:example.org","id":"u1"},` + tr + "," + sk + `}`, ErrMalformed},
		{"member id missing", `{` + slot + "," + app + `,"member":{"user_id":"@alice:example.org","device_id":"D"},` + tr + "," + sk + `}`, ErrMalformed},
		{"member id empty", `{` + slot + "," + app + `,"member":{"user_id":"@alice:example.org","device_id":"D","id":""},` + tr + "," + sk + `}`, ErrMalformed},
		{"sticky key empty", `{` + slot + "," + app + "," + mem + "," + tr + `,"sticky_key":""}`, ErrStateKey},
		{"transports missing", `{` + slot + "," + app + "," + mem + "," + sk + `}`, ErrMalformed},
		{"transport without type", `{` + slot + "," + app + "," + mem + `,"rtc_transports":[{}],` + sk + `}`, ErrMalformed},
		{"versions not strings", `{` + valid + `,"versions":[1]}`, ErrMalformed},
		{"no sticky key", `{` + slot + "," + app + "," + mem + "," + tr + `}`, ErrStateKey},
		{"sticky keys differ", `{` + valid + `,"sticky_key":"u2"}`, ErrStateKey},
		{"sticky key number", `{` + slot + "," + app + "," + mem + "," + tr + `,"sticky_key":1}`, ErrStateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := ParseRTCSticky(codecRoom, codecAlice, []byte(tt.content), time.UnixMilli(1), time.Hour)
			if m != nil || !errors.Is(err, tt.want) {
				t.Fatalf("got %+v, %v; want %v", m, err, tt.want)
			}
		})
	}
	m, err := ParseRTCSticky(codecRoom, codecAlice, []byte(`{`+valid+`,"sticky_key":"u1","versions":["v"]}`), time.UnixMilli(1), time.Hour)
	if err != nil || m.StateKey != "u1" {
		t.Errorf("equal keys: %v, %v", m, err)
	}
	m, err = ParseRTCSticky(codecRoom, codecAlice, []byte(`{"slot_id":"m.call#abc",`+app+","+mem+","+tr+","+sk+`}`), time.UnixMilli(1), time.Hour)
	if err != nil || m.Call.CallID != "abc" {
		t.Errorf("named slot: %v, %v", m, err)
	}
}
