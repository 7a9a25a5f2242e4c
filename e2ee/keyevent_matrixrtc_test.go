package e2ee

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/membership"
)

func TestParseMatrixRTCKeysGolden(t *testing.T) {
	t.Parallel()
	ev := loadToDevice(t, "matrixrtc_keys.json")
	got, err := ParseKeyEvent(ev.Type, ev.Content)
	if err != nil {
		t.Fatal(err)
	}
	want := KeyEvent{
		Dialect:  membership.DialectMatrixRTC,
		Call:     membership.CallKey{Room: "!room:example.org", Application: "m.call", CallID: "", Scope: "m.room"},
		DeviceID: "AAAAAAA",
		MemberID: "@alice:example.org:AAAAAAA",
		SentAt:   time.UnixMilli(1720000000000).UTC(),
		Keys:     []Key{{Index: 0, Bytes: seq(16, 0)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	b, err := BuildMatrixRTCKeys(got)
	checkBuiltBack(t, ev.Content, b, err, "matrixrtc_keys.build.golden.json")
}

// An older js-sdk sender: no session, no sent_ts, no member.id, the
// "roomId" typo of an early build alongside room_id, index 255.
func TestParseMatrixRTCKeysOldSender(t *testing.T) {
	t.Parallel()
	ev := loadToDevice(t, "matrixrtc_keys_old.json")
	got, err := ParseMatrixRTCKeys(ev.Content)
	if err != nil {
		t.Fatal(err)
	}
	want := KeyEvent{
		Dialect:  membership.DialectMatrixRTC,
		Call:     membership.CallKey{Room: "!room:example.org", Application: "m.call", Scope: "m.room"},
		DeviceID: "CAROLDEV",
		Keys:     []Key{{Index: 255, Bytes: []byte{255, 254, 253, 252, 251, 250, 249, 248, 247, 246, 245, 244, 243, 242, 241, 240}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	b, err := BuildMatrixRTCKeys(got)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "matrixrtc_keys_old.build.golden.json", b)
}

// A newer js-sdk sender: media_key and member_id instead of keys and member.id.
func TestParseMatrixRTCKeysNewFields(t *testing.T) {
	t.Parallel()
	c := `{"room_id":"!r:x","member_id":"uuid-1","media_key":{"index":7,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},"member":{"claimed_device_id":"D"}}`
	got, err := ParseMatrixRTCKeys([]byte(c))
	if err != nil {
		t.Fatal(err)
	}
	if got.MemberID != "uuid-1" || got.Keys[0].Index != 7 || len(got.Keys[0].Bytes) != 32 {
		t.Errorf("got %+v", got)
	}
}

func TestBuildMatrixRTCKeysRefuses(t *testing.T) {
	t.Parallel()
	ok := KeyEvent{Call: membership.CallKey{Room: "!r:x", Application: "m.call", Scope: "m.room"}, DeviceID: "D", Keys: []Key{{Index: 0, Bytes: seq(16, 0)}}}
	mut := func(f func(*KeyEvent)) KeyEvent { e := ok; e.Keys = append([]Key(nil), ok.Keys...); f(&e); return e }
	tests := map[string]KeyEvent{
		"no keys":          mut(func(e *KeyEvent) { e.Keys = nil }),
		"two keys":         mut(func(e *KeyEvent) { e.Keys = append(e.Keys, e.Keys[0]) }),
		"index 256":        mut(func(e *KeyEvent) { e.Keys[0].Index = 256 }),
		"24-byte key":      mut(func(e *KeyEvent) { e.Keys[0].Bytes = seq(24, 0) }),
		"no device":        mut(func(e *KeyEvent) { e.DeviceID = "" }),
		"room without !":   mut(func(e *KeyEvent) { e.Call.Room = "r" }),
		"long member id":   mut(func(e *KeyEvent) { e.MemberID = strings.Repeat("m", MaxIDLen+1) }),
		"sent before 1970": mut(func(e *KeyEvent) { e.SentAt = time.UnixMilli(-5) }),
	}
	for name, ev := range tests {
		if _, err := BuildMatrixRTCKeys(ev); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: err %v, want ErrInvalidEvent", name, err)
		}
	}
}

func TestParseMatrixRTCKeysRefuses(t *testing.T) {
	t.Parallel()
	key := `"keys":{"index":0,"key":"AAECAwQFBgcICQoLDA0ODw=="}`
	member := `"member":{"claimed_device_id":"D"}`
	room := `"room_id":"!r:x"`
	obj := func(parts ...string) string { return "{" + strings.Join(parts, ",") + "}" }
	tests := []struct {
		name, content string
		want          error
	}{
		{"not json", `{`, ErrMalformed},
		{"a list", `[]`, ErrMalformed},
		{"too large", `{"x":"` + strings.Repeat("a", MaxContentBytes) + `"}`, ErrTooLarge},
		{"keys missing", obj(member, room), ErrMalformed},
		{"keys a list (Famedly shape)", obj(`"keys":[{"index":0,"key":"AAECAwQFBgcICQoLDA0ODw=="}]`, member, room), ErrMalformed},
		{"keys null", obj(`"keys":null`, member, room), ErrMalformed},
		{"index missing", obj(`"keys":{"key":"AAECAwQFBgcICQoLDA0ODw=="}`, member, room), ErrMalformed},
		{"index 256", obj(`"keys":{"index":256,"key":"AAECAwQFBgcICQoLDA0ODw=="}`, member, room), ErrMalformed},
		{"index fraction", obj(`"keys":{"index":0.5,"key":"AAECAwQFBgcICQoLDA0ODw=="}`, member, room), ErrMalformed},
		{"key empty", obj(`"keys":{"index":0,"key":""}`, member, room), ErrMalformed},
		{"key bad base64", obj(`"keys":{"index":0,"key":"AAECAwQF%gcICQoLDA0ODw=="}`, member, room), ErrMalformed},
		{"key 15 bytes", obj(`"keys":{"index":0,"key":"AAECAwQFBgcICQoLDA0O"}`, member, room), ErrMalformed},
		{"key 24 bytes", obj(`"keys":{"index":0,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"}`, member, room), ErrMalformed},
		{"room missing", obj(key, member), ErrMalformed},
		{"room empty", obj(key, member, `"room_id":""`), ErrMalformed},
		{"room number", obj(key, member, `"room_id":1`), ErrMalformed},
		{"member missing", obj(key, room), ErrMalformed},
		{"member string", obj(key, room, `"member":"D"`), ErrMalformed},
		{"claimed device missing", obj(key, room, `"member":{"id":"x"}`), ErrMalformed},
		{"claimed device empty", obj(key, room, `"member":{"claimed_device_id":""}`), ErrMalformed},
		{"claimed device too long", obj(key, room, `"member":{"claimed_device_id":"`+strings.Repeat("d", MaxIDLen+1)+`"}`), ErrTooLarge},
		{"member id number", obj(key, room, `"member":{"claimed_device_id":"D","id":7}`), ErrMalformed},
		{"session list", obj(key, room, member, `"session":[]`), ErrMalformed},
		{"session call id number", obj(key, room, member, `"session":{"call_id":0}`), ErrMalformed},
		{"session scope null", obj(key, room, member, `"session":{"scope":null}`), ErrMalformed},
		{"sent_ts string", obj(key, room, member, `"sent_ts":"1720000000000"`), ErrMalformed},
		{"sent_ts negative", obj(key, room, member, `"sent_ts":-1`), ErrMalformed},
		{"sent_ts beyond 2^53", obj(key, room, member, `"sent_ts":9007199254740992`), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMatrixRTCKeys([]byte(tt.content))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if got.Keys != nil {
				t.Errorf("refused event still returned %+v", got)
			}
			if strings.Contains(err.Error(), "AAECAwQF") {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}

func TestParseKeyEventTypes(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{FamedlyKeyRequestEventType, FamedlyKeyRequestEventTypeAlias, "m.room.encrypted", "io.element.call.encryption_keys.request"} {
		if _, err := ParseKeyEvent(typ, []byte(`{}`)); !errors.Is(err, ErrUnknownEventType) {
			t.Errorf("%s: err %v", typ, err)
		}
	}
	tests := []struct {
		typ     string
		dialect membership.Dialect
		request bool
	}{
		{FamedlyKeysEventType, membership.DialectFamedly, false},
		{FamedlyKeysEventTypeAlias, membership.DialectFamedly, false},
		{FamedlyKeyRequestEventType, membership.DialectFamedly, true},
		{FamedlyKeyRequestEventTypeAlias, membership.DialectFamedly, true},
		{MatrixRTCKeysEventType, membership.DialectMatrixRTC, false},
	}
	for _, tt := range tests {
		d, req, err := DialectOfEventType(tt.typ)
		if err != nil || d != tt.dialect || req != tt.request {
			t.Errorf("%s: %v %v %v", tt.typ, d, req, err)
		}
	}
}
