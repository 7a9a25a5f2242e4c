package e2ee

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/membership"
)

func TestFamedlyKeyRequestGolden(t *testing.T) {
	t.Parallel()
	ev := loadToDevice(t, "famedly_key_request.json")
	if _, req, err := DialectOfEventType(ev.Type); err != nil || !req {
		t.Fatalf("%s: request %v, %v", ev.Type, req, err)
	}
	got, err := ParseFamedlyKeyRequest(ev.Content)
	if err != nil {
		t.Fatal(err)
	}
	want := KeyRequest{Call: membership.CallKey{Room: "!roomid:example.org", Application: "m.call", Scope: "m.room"}, DeviceID: "BOBPHONE"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	b, err := BuildFamedlyKeyRequest(got)
	checkBuiltBack(t, ev.Content, b, err, "famedly_key_request.build.golden.json")
}

func TestFamedlyKeyRequestRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		want          error
	}{
		{"not json", `x`, ErrMalformed},
		{"conf_id missing", `{"device_id":"D","room_id":"!r:x"}`, ErrMalformed},
		{"conf_id null", `{"conf_id":null,"device_id":"D","room_id":"!r:x"}`, ErrMalformed},
		{"device_id missing", `{"conf_id":"","room_id":"!r:x"}`, ErrMalformed},
		{"device_id empty", `{"conf_id":"","device_id":"","room_id":"!r:x"}`, ErrMalformed},
		{"room_id missing", `{"conf_id":"","device_id":"D"}`, ErrMalformed},
		{"room_id alias", `{"conf_id":"","device_id":"D","room_id":"#a:x"}`, ErrMalformed},
		{"conf_id too long", `{"conf_id":"` + strings.Repeat("c", 300) + `","device_id":"D","room_id":"!r:x"}`, ErrTooLarge},
		{"too large", `{"pad":"` + strings.Repeat(" ", MaxContentBytes) + `"}`, ErrTooLarge},
	}
	for _, tt := range tests {
		if got, err := ParseFamedlyKeyRequest([]byte(tt.content)); !errors.Is(err, tt.want) || got != (KeyRequest{}) {
			t.Errorf("%s: got %+v, err %v, want %v", tt.name, got, err, tt.want)
		}
	}
	if _, err := BuildFamedlyKeyRequest(KeyRequest{Call: membership.CallKey{Room: "!r:x"}}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("build without device: %v", err)
	}
}
