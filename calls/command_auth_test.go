package calls

import (
	"encoding/json"
	"errors"
	"maps"
	"math"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

func TestParsePowerLevels(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want PowerLevels // when ok
		ok   bool
	}{
		{"typical", `{"users":{"@a:x":100,"@b:x":50},"users_default":0,"events":{"m.room.name":50},"ban":50}`,
			PowerLevels{Users: map[id.UserID]int64{"@a:x": 100, "@b:x": 50}}, true},
		{"empty", `{}`, PowerLevels{}, true},
		{"users null", `{"users":null,"users_default":10}`, PowerLevels{UsersDefault: 10}, true},
		{"negative", `{"users":{"@a:x":-5},"users_default":-1}`, PowerLevels{Users: map[id.UserID]int64{"@a:x": -5}, UsersDefault: -1}, true},
		{"old room strings", `{"users":{"@a:x":"100","@b:x":"+7","@c:x":"-3"},"users_default":"0"}`,
			PowerLevels{Users: map[id.UserID]int64{"@a:x": 100, "@b:x": 7, "@c:x": -3}}, true},
		{"range edges", `{"users":{"@a:x":9007199254740991,"@b:x":-9007199254740991}}`,
			PowerLevels{Users: map[id.UserID]int64{"@a:x": MaxPowerLevel, "@b:x": MinPowerLevel}}, true},

		{"not json", `{"users":`, PowerLevels{}, false},
		{"not object", `[1,2]`, PowerLevels{}, false},
		{"users array", `{"users":[]}`, PowerLevels{}, false},
		{"fraction", `{"users":{"@a:x":50.5}}`, PowerLevels{}, false},
		{"integral float", `{"users":{"@a:x":50.0}}`, PowerLevels{}, false},
		{"exponent", `{"users_default":1e2}`, PowerLevels{}, false},
		{"too big", `{"users":{"@a:x":9007199254740992}}`, PowerLevels{}, false},
		{"too small", `{"users":{"@a:x":-9007199254740992}}`, PowerLevels{}, false},
		{"huge digits", `{"users":{"@a:x":` + strings.Repeat("9", 400) + `}}`, PowerLevels{}, false},
		{"null level", `{"users":{"@a:x":null}}`, PowerLevels{}, false},
		{"null default", `{"users_default":null}`, PowerLevels{}, false},
		{"bool level", `{"users_default":true}`, PowerLevels{}, false},
		{"object level", `{"users":{"@a:x":{}}}`, PowerLevels{}, false},
		{"string spaces", `{"users":{"@a:x":" 50"}}`, PowerLevels{}, false},
		{"string fraction", `{"users":{"@a:x":"50.0"}}`, PowerLevels{}, false},
		{"string other digits", `{"users":{"@a:x":"\u0665\u0660"}}`, PowerLevels{}, false},
		{"string underscore", `{"users":{"@a:x":"5_0"}}`, PowerLevels{}, false},
		{"string empty", `{"users":{"@a:x":""}}`, PowerLevels{}, false},
		{"key not user", `{"users":{"a:x":100}}`, PowerLevels{}, false},
		{"key no server", `{"users":{"@a":100}}`, PowerLevels{}, false},
		{"key too long", `{"users":{"@` + strings.Repeat("a", 255) + `:x":100}}`, PowerLevels{}, false},
		{"over size", `{"users":{},"pad":"` + strings.Repeat("a", MaxPowerLevelsBytes) + `"}`, PowerLevels{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePowerLevels(json.RawMessage(tt.raw))
			if !tt.ok {
				if !errors.Is(err, ErrBadPowerLevels) {
					t.Fatalf("error = %v, want ErrBadPowerLevels", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if got.UsersDefault != tt.want.UsersDefault || !maps.Equal(got.Users, tt.want.Users) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPermitted(t *testing.T) {
	levels := PowerLevels{
		Users:        map[id.UserID]int64{"@mod:x": 50, "@admin:x": 100, "@low:x": 10, "@muted:x": -1},
		UsersDefault: 0,
		Creators:     []id.UserID{"@creator:x"},
	}
	join, status, play := Command{Verb: VerbJoin}, Command{Verb: VerbStatus}, Command{Verb: VerbPlay, Name: "a"}
	tests := []struct {
		name     string
		cmd      Command
		sender   id.UserID
		required map[Verb]int
		want     bool
	}{
		{"mod joins at default", join, "@mod:x", nil, true},
		{"nobody refused join", join, "@nobody:x", nil, false},
		{"low refused join", join, "@low:x", RequiredLevels(DefaultCommandLevel), false},
		{"low joins at 10", join, "@low:x", RequiredLevels(10), true},
		{"mod refused at 100", play, "@mod:x", RequiredLevels(100), false},
		{"admin plays at 100", play, "@admin:x", RequiredLevels(100), true},
		{"creator unlimited", play, "@creator:x", RequiredLevels(MaxPowerLevel), true},
		{"status open", status, "@muted:x", RequiredLevels(100), true},
		{"help open", Command{Verb: VerbHelp}, "@nobody:x", nil, true},
		{"status can be closed", status, "@nobody:x", map[Verb]int{VerbStatus: 1}, false},
		{"missing verb in map is default", Command{Verb: VerbEcho, On: true}, "@low:x", map[Verb]int{}, false},
		{"unknown verb refused", Command{Verb: "dance"}, "@admin:x", nil, false},
		{"zero command refused", Command{}, "@admin:x", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := Permitted(tt.cmd, tt.sender, levels, tt.required)
			if ok != tt.want {
				t.Fatalf("Permitted = %v (%q), want %v", ok, reason, tt.want)
			}
			if ok != (reason == "") {
				t.Fatalf("permitted %v with reason %q", ok, reason)
			}
			if !ok && !strings.HasPrefix(reason, "Sorry, ") {
				t.Fatalf("refusal %q is not polite", reason)
			}
		})
	}
	_, reason := Permitted(Command{Verb: VerbRecord, On: true}, "@low:x", levels, nil)
	if want := "Sorry, !call record start needs power level 50 or more in this room, and yours is 10."; reason != want {
		t.Errorf("reason %q, want %q", reason, want)
	}
}

func TestRequiredLevels(t *testing.T) {
	req := RequiredLevels(42)
	for _, v := range verbs {
		l, ok := req[v]
		if open := v == VerbStatus || v == VerbHelp; ok == open || (ok && l != 42) {
			t.Errorf("%s: level %d, present %v", v, l, ok)
		}
	}
}

func TestPowerLevelsLevel(t *testing.T) {
	pl := PowerLevels{Users: map[id.UserID]int64{"@a:x": 7}, UsersDefault: 3, Creators: []id.UserID{"@c:x"}}
	for user, want := range map[id.UserID]int64{"@a:x": 7, "@b:x": 3, "@c:x": math.MaxInt64} {
		if got := pl.Level(user); got != want {
			t.Errorf("Level(%s) = %d, want %d", user, got, want)
		}
	}
}
