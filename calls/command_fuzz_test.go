package calls

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

var commandSentinels = []error{ErrNotCommand, ErrUnknownCommand, ErrBadArgument, ErrTooLong}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"!call join", "!call LEAVE", "!call echo on", "!call echo Off", "!call record start", "!call record stop",
		"!call play hello.ogg", "!call play ../x", "!call status", "!call help", "!call", "  !call\tjoin\n",
		"> <@a:x> hi\n> there\n\n!call join", "> <@a:x> !call join\n\nok", "!calljoin", "hello", "",
		"!call dance", "!call echo", "!call play " + strings.Repeat("a", 65), "!call\u00a0status", "!call st\u212a",
		"!call join" + strings.Repeat(" ", MaxCommandBytes),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c, err := ParseCommand(body)
		if err != nil {
			var ce *CommandError
			if !errors.As(err, &ce) || ce.Text == "" || !wrapsOneOf(err, commandSentinels) {
				t.Fatalf("error %#v is not a *CommandError with a text wrapping a sentinel", err)
			}
			if c != (Command{}) {
				t.Fatalf("command %+v returned with error %v", c, err)
			}
			if n, ok := ParseErrorNotice(err); ok && (n.Body == "" || len(n.Body) > 300) {
				t.Fatalf("error notice %q", n.Body)
			}
			return
		}
		if !strings.Contains(body, CommandPrefix) {
			t.Fatalf("%q parsed to %+v without %s", body, c, CommandPrefix)
		}
		known := false
		for _, v := range verbs {
			known = known || v == c.Verb
		}
		if !known || (c.Verb != VerbPlay && c.Name != "") || (c.Name != "" && !ValidSoundName(c.Name)) || c.Sound != nil || (c.On && c.Verb != VerbEcho && c.Verb != VerbRecord) {
			t.Fatalf("%q parsed to a malformed %+v", body, c)
		}
		if back, err := ParseCommand(c.String()); err != nil || back != c {
			t.Fatalf("%+v printed as %q parses back to %+v, %v", c, c.String(), back, err)
		}
		if !strings.HasPrefix(body, ">") && len(body) < MaxBodyBytes-100 {
			if quoted, err := ParseCommand("> <@a:x> earlier\n> text\n\n" + body); err != nil || quoted != c {
				t.Fatalf("%q under a reply fallback parses to %+v, %v; want %+v", body, quoted, err, c)
			}
		}
		if ok, reason := Permitted(c, "@u:x", PowerLevels{}, nil); ok == c.Verb.changesState() || ok != (reason == "") {
			t.Fatalf("permission for %+v at level 0: %v %q", c, ok, reason)
		}
		for _, r := range []Result{{}, {Outcome: OutcomeRefused, Reason: body}, {Outcome: OutcomeFailed, Reason: body}} {
			if n := c.Reply(r); n.Body == "" || strings.Contains(n.HTML, "<script") {
				t.Fatalf("reply %+v to %+v: %+v", r, c, n)
			}
		}
	})
}

func wrapsOneOf(err error, sentinels []error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzParsePowerLevels(f *testing.F) {
	for _, s := range []string{
		`{"users":{"@a:x":100,"@b:x":50},"users_default":0,"events":{"m.room.name":50}}`,
		`{"users":{"@a:x":"100"},"users_default":"-1"}`, `{}`, `{"users":null}`, `{"users":[]}`,
		`{"users":{"@a:x":50.0}}`, `{"users_default":1e2}`, `{"users":{"@a:x":9007199254740992}}`,
		`{"users":{"a":1}}`, `{"users_default":null}`, `{"users":{"@a:x":" 5"}}`, `[`, `"x"`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		pl, err := ParsePowerLevels(raw)
		if err != nil {
			if !errors.Is(err, ErrBadPowerLevels) || len(err.Error()) > 1000 {
				t.Fatalf("error %v", err)
			}
			return
		}
		levels := append(make([]int64, 0, len(pl.Users)+1), pl.UsersDefault)
		for u, l := range pl.Users {
			if !strings.HasPrefix(string(u), "@") || len(u) > maxUserIDLen {
				t.Fatalf("user key %q kept", u)
			}
			levels = append(levels, l)
		}
		for _, l := range levels {
			if l < MinPowerLevel || l > MaxPowerLevel {
				t.Fatalf("level %d out of range", l)
			}
		}
		again, err := json.Marshal(struct {
			Users        map[id.UserID]int64 `json:"users"`
			UsersDefault int64               `json:"users_default"`
		}{pl.Users, pl.UsersDefault})
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePowerLevels(again)
		if err != nil || back.UsersDefault != pl.UsersDefault || !maps.Equal(back.Users, pl.Users) {
			t.Fatalf("%+v printed as %s parses back to %+v, %v", pl, again, back, err)
		}
		// Where mautrix reads the content too, it must read the same levels.
		var theirs event.PowerLevelsEventContent
		if json.Unmarshal(raw, &theirs) != nil {
			return
		}
		if int64(theirs.UsersDefault) != pl.UsersDefault || len(theirs.Users) != len(pl.Users) {
			t.Fatalf("mautrix reads %+v, we read %+v", &theirs, pl)
		}
		for u, l := range theirs.Users {
			if int64(l) != pl.Users[u] {
				t.Fatalf("mautrix reads %s at %d, we at %d", u, l, pl.Users[u])
			}
		}
	})
}
