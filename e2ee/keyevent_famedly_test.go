package e2ee

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/membership"
)

const goodFamedlyKey = `{"index":0,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`

func TestParseFamedlyKeysGolden(t *testing.T) {
	t.Parallel()
	ev := loadToDevice(t, "famedly_keys.json")
	got, err := ParseKeyEvent(ev.Type, ev.Content)
	if err != nil {
		t.Fatal(err)
	}
	want := KeyEvent{
		Dialect:  membership.DialectFamedly,
		Call:     membership.CallKey{Room: "!roomid:example.org", Application: "m.call", CallID: "", Scope: "m.room"},
		DeviceID: "ABCDEFGHIJ",
		Keys:     []Key{{Index: 0, Bytes: seq(32, 0)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	b, err := BuildFamedlyKeys(got)
	checkBuiltBack(t, ev.Content, b, err, "famedly_keys.build.golden.json")
	// The README's alias type parses the same.
	if alias, err := ParseKeyEvent(FamedlyKeysEventTypeAlias, ev.Content); err != nil || !reflect.DeepEqual(alias, want) {
		t.Errorf("alias: %+v, %v", alias, err)
	}
}

func TestBuildFamedlyKeysCallAndList(t *testing.T) {
	t.Parallel()
	ev := KeyEvent{
		Call:     membership.CallKey{Room: "!r:example.org", CallID: "group<&>1"},
		DeviceID: "DEV",
		Keys:     []Key{{Index: 3, Bytes: seq(32, 100)}, {Index: 15, Bytes: seq(32, 200)}},
	}
	b, err := BuildFamedlyKeys(ev)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "famedly_keys_two.build.golden.json", b)
	back, err := ParseFamedlyKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Call.CallID != "group<&>1" || len(back.Keys) != 2 || back.Keys[1].Index != 15 {
		t.Errorf("round trip: %+v", back)
	}
}

func TestBuildFamedlyKeysRefuses(t *testing.T) {
	t.Parallel()
	ok := KeyEvent{Call: membership.CallKey{Room: "!r:x"}, DeviceID: "D", Keys: []Key{{Index: 0, Bytes: seq(32, 0)}}}
	mut := func(f func(*KeyEvent)) KeyEvent { e := ok; e.Keys = append([]Key(nil), ok.Keys...); f(&e); return e }
	tests := map[string]KeyEvent{
		"no keys":        mut(func(e *KeyEvent) { e.Keys = nil }),
		"too many":       mut(func(e *KeyEvent) { e.Keys = make([]Key, MaxFamedlyKeys+1) }),
		"index 16":       mut(func(e *KeyEvent) { e.Keys[0].Index = 16 }),
		"index -1":       mut(func(e *KeyEvent) { e.Keys[0].Index = -1 }),
		"16-byte key":    mut(func(e *KeyEvent) { e.Keys[0].Bytes = seq(16, 0) }),
		"no device":      mut(func(e *KeyEvent) { e.DeviceID = "" }),
		"no room":        mut(func(e *KeyEvent) { e.Call.Room = "" }),
		"room without !": mut(func(e *KeyEvent) { e.Call.Room = "r:x" }),
		"long call id":   mut(func(e *KeyEvent) { e.Call.CallID = strings.Repeat("c", MaxIDLen+1) }),
	}
	for name, ev := range tests {
		if _, err := BuildFamedlyKeys(ev); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: err %v, want ErrInvalidEvent", name, err)
		}
	}
}

func TestParseFamedlyKeysRefuses(t *testing.T) {
	t.Parallel()
	rest := `"call_id":"","conf_id":"","device_id":"D","room_id":"!r:example.org"`
	withKeys := func(keys string) string { return `{"keys":` + keys + `,` + rest + `}` }
	withKey := func(key string) string { return withKeys(`[` + key + `]`) }
	tests := []struct {
		name, content string
		want          error
	}{
		{"not json", `{"keys":`, ErrMalformed},
		{"not an object", `[` + goodFamedlyKey + `]`, ErrMalformed},
		{"two objects", withKey(goodFamedlyKey) + `{}`, ErrMalformed},
		{"too large", `{"x":"` + strings.Repeat("a", MaxContentBytes) + `"}`, ErrTooLarge},
		{"keys missing", `{` + rest + `}`, ErrMalformed},
		{"keys object", withKeys(goodFamedlyKey), ErrMalformed},
		{"keys null", withKeys(`null`), ErrMalformed},
		{"keys empty", withKeys(`[]`), ErrMalformed},
		{"keys huge", withKeys(`[` + strings.Repeat(goodFamedlyKey+`,`, MaxFamedlyKeys) + goodFamedlyKey + `]`), ErrTooLarge},
		{"entry string", withKey(`"AAEC"`), ErrMalformed},
		{"index missing", withKey(`{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`), ErrMalformed},
		{"index string", withKey(`{"index":"0","key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`), ErrMalformed},
		{"index float", withKey(`{"index":1.0,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`), ErrMalformed},
		{"index exponent", withKey(`{"index":1e0,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`), ErrMalformed},
		{"index 16", withKey(`{"index":16,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`), ErrMalformed},
		{"index negative", withKey(`{"index":-1,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`), ErrMalformed},
		{"index huge", withKey(`{"index":99999999999999999999,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`), ErrMalformed},
		{"key missing", withKey(`{"index":0}`), ErrMalformed},
		{"key number", withKey(`{"index":0,"key":5}`), ErrMalformed},
		{"key empty", withKey(`{"index":0,"key":""}`), ErrMalformed},
		{"key bad base64", withKey(`{"index":0,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*="}`), ErrMalformed},
		{"key mixed alphabets", withKey(`{"index":0,"key":"AA+CAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh_="}`), ErrMalformed},
		{"key with newline", withKey(`{"index":0,"key":"AAECAwQFBgcICQoLDA0ODxAREhMU\nFRYXGBkaGxwdHh8="}`), ErrMalformed},
		{"key non-canonical bits", withKey(`{"index":0,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="}`), ErrMalformed},
		{"key 16 bytes", withKey(`{"index":0,"key":"AAECAwQFBgcICQoLDA0ODw=="}`), ErrMalformed},
		{"key 33 bytes", withKey(`{"index":0,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"}`), ErrMalformed},
		{"key very long", withKey(`{"index":0,"key":"` + strings.Repeat("A", 400) + `"}`), ErrMalformed},
		{"good then bad entry", withKeys(`[` + goodFamedlyKey + `,{"index":0}]`), ErrMalformed},
		{"call_id missing", `{"keys":[` + goodFamedlyKey + `],"conf_id":"","device_id":"D","room_id":"!r:x"}`, ErrMalformed},
		{"call_id null", `{"keys":[` + goodFamedlyKey + `],"call_id":null,"conf_id":"","device_id":"D","room_id":"!r:x"}`, ErrMalformed},
		{"conf_id missing", `{"keys":[` + goodFamedlyKey + `],"call_id":"","device_id":"D","room_id":"!r:x"}`, ErrMalformed},
		{"conf_id number", `{"keys":[` + goodFamedlyKey + `],"call_id":"","conf_id":0,"device_id":"D","room_id":"!r:x"}`, ErrMalformed},
		{"conf_id too long", `{"keys":[` + goodFamedlyKey + `],"call_id":"","conf_id":"` + strings.Repeat("c", MaxIDLen+1) + `","device_id":"D","room_id":"!r:x"}`, ErrTooLarge},
		{"device_id missing", `{"keys":[` + goodFamedlyKey + `],"call_id":"","conf_id":"","room_id":"!r:x"}`, ErrMalformed},
		{"device_id empty", `{"keys":[` + goodFamedlyKey + `],"call_id":"","conf_id":"","device_id":"","room_id":"!r:x"}`, ErrMalformed},
		{"room_id missing", `{"keys":[` + goodFamedlyKey + `],"call_id":"","conf_id":"","device_id":"D"}`, ErrMalformed},
		{"room_id not a room", `{"keys":[` + goodFamedlyKey + `],"call_id":"","conf_id":"","device_id":"D","room_id":"#alias:x"}`, ErrMalformed},
		{"room_id list", `{"keys":[` + goodFamedlyKey + `],"call_id":"","conf_id":"","device_id":"D","room_id":["!r:x"]}`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFamedlyKeys([]byte(tt.content))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if got.Keys != nil || got.DeviceID != "" {
				t.Errorf("refused event still returned %+v", got)
			}
			if strings.Contains(err.Error(), "AAECAwQF") {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}

func TestParseFamedlyKeysTolerates(t *testing.T) {
	t.Parallel()
	// Unpadded and URL-safe keys (js-sdk style), unknown fields, call_id
	// differing from conf_id (unused, as in the SDK), the SDK's old
	// whole-ring list, and index 15.
	c := `{"keys":[{"index":15,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},{"index":1,"key":"-_79_Pv6-fj39vX08_Lx8O_u7ezr6uno5-bl5OPi4eA="}],
	"call_id":"x","conf_id":"c","device_id":"D","room_id":"!r:x","party_id":"D","sender_epoch":3}`
	ev, err := ParseFamedlyKeys([]byte(c))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Call.CallID != "c" || len(ev.Keys) != 2 || ev.Keys[0].Index != 15 || ev.Keys[1].Bytes[0] != 0xfb {
		t.Errorf("got %+v", ev)
	}
}
