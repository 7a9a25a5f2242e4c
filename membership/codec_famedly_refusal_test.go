package membership

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// validFamedlyEntry is a livekit entry the SDK would accept.
const validFamedlyEntry = `{"call_id":"","device_id":"GOOD","expires_ts":1754560360000,
 "foci_active":[{"type":"livekit","livekit_service_url":"https://lk","livekit_alias":"!r:example.org"}]}`

func TestParseFamedlyRefusesEvent(t *testing.T) {
	t.Parallel()
	ok := `{"memberships":[` + validFamedlyEntry + `]}`
	tests := []struct {
		name, stateKey, content string
		want                    error
	}{
		{"state key of another user", "@bob:example.org", ok, ErrSenderMismatch},
		{"user_device key of another user", "@bob:example.org_DEV", ok, ErrSenderMismatch},
		{"device_user key of another user", "DEV_@bob:example.org", ok, ErrSenderMismatch},
		{"key names no user", "DEVICE", ok, ErrStateKey},
		{"key without server", "@alice", ok, ErrStateKey},
		{"key with empty device", "@alice:example.org_", ok, ErrStateKey},
		{"key with bad server", "_@alice:exa mple.org", ok, ErrStateKey},
		{"not json", "@alice:example.org", `{"memberships":`, ErrMalformed},
		{"not an object", "@alice:example.org", `[1]`, ErrMalformed},
		{"memberships not a list", "@alice:example.org", `{"memberships":{}}`, ErrMalformed},
		{"too large", "@alice:example.org", `{"x":"` + strings.Repeat("a", MaxContentBytes) + `"}`, ErrTooLarge},
		{"too deep", "@alice:example.org", `{"memberships":[` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `]}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, refused := ParseFamedly(codecRoom, codecAlice, tt.stateKey, []byte(tt.content))
			if len(got) != 0 || len(refused) != 1 || !errors.Is(refused[0], tt.want) {
				t.Fatalf("got %v members, refused %v; want one %v", len(got), refused, tt.want)
			}
		})
	}
}

func TestParseFamedlyLeave(t *testing.T) {
	t.Parallel()
	for _, c := range []string{`{}`, `{"memberships":[]}`, `{"memberships":null}`, `{"expires":7200000}`} {
		got, refused := ParseFamedly(codecRoom, codecAlice, "@alice:example.org_DEV", []byte(c))
		if got != nil || refused != nil {
			t.Errorf("%s: got %v, %v; want a leave", c, got, refused)
		}
	}
}

func TestParseFamedlyRefusesEntry(t *testing.T) {
	t.Parallel()
	lk := `"foci_active":[{"type":"livekit","livekit_service_url":"u","livekit_alias":"a"}]`
	base := `"call_id":"","device_id":"D","expires_ts":1,` + lk
	tests := []struct {
		name, entry string
		want        error
	}{
		{"entry not an object", `"x"`, ErrMalformed},
		{"call_id missing", `{"device_id":"D","expires_ts":1,` + lk + `}`, ErrMalformed},
		{"call_id null", `{"call_id":null,"device_id":"D","expires_ts":1,` + lk + `}`, ErrMalformed},
		{"call_id number", `{"call_id":1,"device_id":"D","expires_ts":1,` + lk + `}`, ErrMalformed},
		{"call_id too long", `{"call_id":"` + strings.Repeat("c", MaxIDLen+1) + `","device_id":"D","expires_ts":1,` + lk + `}`, ErrTooLarge},
		{"device_id missing", `{"call_id":"","expires_ts":1,` + lk + `}`, ErrMalformed},
		{"device_id empty", `{"call_id":"","device_id":"","expires_ts":1,` + lk + `}`, ErrMalformed},
		{"device_id number", `{"call_id":"","device_id":7,"expires_ts":1,` + lk + `}`, ErrMalformed},
		{"expires_ts missing", `{"call_id":"","device_id":"D",` + lk + `}`, ErrMalformed},
		{"expires_ts float", `{"call_id":"","device_id":"D","expires_ts":1754560360000.5,` + lk + `}`, ErrMalformed},
		{"expires_ts float .0", `{"call_id":"","device_id":"D","expires_ts":1754560360000.0,` + lk + `}`, ErrMalformed},
		{"expires_ts exponent", `{"call_id":"","device_id":"D","expires_ts":1e12,` + lk + `}`, ErrMalformed},
		{"expires_ts string", `{"call_id":"","device_id":"D","expires_ts":"1754560360000",` + lk + `}`, ErrMalformed},
		{"expires_ts huge", `{"call_id":"","device_id":"D","expires_ts":99999999999999999,` + lk + `}`, ErrMalformed},
		{"foci_active missing", `{"call_id":"","device_id":"D","expires_ts":1}`, ErrMalformed},
		{"foci_active empty", `{"call_id":"","device_id":"D","expires_ts":1,"foci_active":[]}`, ErrMalformed},
		{"foci_active object", `{"call_id":"","device_id":"D","expires_ts":1,"foci_active":{"type":"mesh"}}`, ErrMalformed},
		{"foci_active[0] string", `{"call_id":"","device_id":"D","expires_ts":1,"foci_active":["mesh"]}`, ErrMalformed},
		{"focus type unknown", `{"call_id":"","device_id":"D","expires_ts":1,"foci_active":[{"type":"sfu"}]}`, ErrMalformed},
		{"focus type missing", `{"call_id":"","device_id":"D","expires_ts":1,"foci_active":[{}]}`, ErrMalformed},
		{"livekit without url", `{"call_id":"","device_id":"D","expires_ts":1,"foci_active":[{"type":"livekit","livekit_alias":"a"}]}`, ErrMalformed},
		{"livekit alias number", `{"call_id":"","device_id":"D","expires_ts":1,"foci_active":[{"type":"livekit","livekit_service_url":"u","livekit_alias":1}]}`, ErrMalformed},
		{"application number", `{` + base + `,"application":1}`, ErrMalformed},
		{"scope list", `{` + base + `,"scope":[]}`, ErrMalformed},
		{"membershipID number", `{` + base + `,"membershipID":5}`, ErrMalformed},
		{"feeds object", `{` + base + `,"feeds":{}}`, ErrMalformed},
		{"feeds element string", `{` + base + `,"feeds":["m.usermedia"]}`, ErrMalformed},
		{"feeds purpose missing", `{` + base + `,"feeds":[{}]}`, ErrMalformed},
		{"too many feeds", `{` + base + `,"feeds":[` + strings.Repeat(`{"purpose":"p"},`, MaxFeeds) + `{"purpose":"p"}]}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			content := `{"memberships":[` + validFamedlyEntry + `,` + tt.entry + `]}`
			got, refused := ParseFamedly(codecRoom, codecAlice, "@alice:example.org", []byte(content))
			if len(got) != 1 || got[0].DeviceID != "GOOD" {
				t.Errorf("valid sibling lost: %+v", got)
			}
			if len(refused) != 1 || !errors.Is(refused[0], tt.want) || !strings.Contains(refused[0].Error(), "memberships[1]") {
				t.Fatalf("refused %v, want one %v naming memberships[1]", refused, tt.want)
			}
		})
	}
}

func TestParseFamedlyDefaultsAndNulls(t *testing.T) {
	t.Parallel()
	c := `{"memberships":[{"call_id":"c","device_id":"D","expires_ts":-5,"application":null,"scope":null,"membershipID":null,"feeds":null,
	"foci_active":[{"type":"mesh","extra":1},{"type":"bogus"}],"expires":7200000,"event_id":"$x"}]}`
	got, refused := ParseFamedly(codecRoom, codecAlice, "D_@alice:example.org", []byte(c))
	if len(refused) != 0 || len(got) != 1 {
		t.Fatalf("got %v, refused %v", got, refused)
	}
	m := got[0]
	if m.Call.Application != "m.call" || m.Call.Scope != "m.room" || m.MembershipID != famedlyMissingMembershipID ||
		m.Feeds != nil || len(m.ActiveFoci) != 1 || m.ActiveFoci[0].Type != "mesh" || m.Call.CallID != "c" {
		t.Errorf("defaults not applied: %+v", m)
	}
}

func TestParseFamedlyCapsEntries(t *testing.T) {
	t.Parallel()
	entries := make([]string, MaxFamedlyEntries+6)
	for i := range entries {
		entries[i] = fmt.Sprintf(`{"call_id":"","device_id":"D%d","expires_ts":1,"foci_active":[{"type":"mesh"}]}`, i)
	}
	got, refused := ParseFamedly(codecRoom, codecAlice, "@alice:example.org", []byte(`{"memberships":[`+strings.Join(entries, ",")+`]}`))
	if len(got) != MaxFamedlyEntries || len(refused) != 1 || !errors.Is(refused[0], ErrTooLarge) {
		t.Fatalf("got %d members, refused %v", len(got), refused)
	}
}

func TestFamedlyStateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key    string
		form   StateKeyForm
		user   string
		device string
	}{
		{"@alice:example.org", FamedlyUser, "@alice:example.org", ""},
		{"@alice:example.org_ABCDEF", FamedlyUserDevice, "@alice:example.org", "ABCDEF"},
		{"ABCDEF_@alice:example.org", FamedlyDeviceUser, "@alice:example.org", "ABCDEF"},
		{"@al_ice:example.org:8448_DEV_2", FamedlyUserDevice, "@al_ice:example.org:8448", "DEV_2"},
		{"DEV_2_@al_ice:example.org", FamedlyDeviceUser, "@al_ice:example.org", "DEV_2"},
	}
	for _, tt := range tests {
		form, user, device, err := ParseFamedlyStateKey(tt.key)
		if err != nil || form != tt.form || string(user) != tt.user || string(device) != tt.device {
			t.Errorf("%q: got %v %q %q %v", tt.key, form, user, device, err)
		}
		if back := FamedlyStateKey(form, user, device); back != tt.key {
			t.Errorf("%q: built back as %q", tt.key, back)
		}
	}
}
