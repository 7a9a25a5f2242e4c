package calls

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Command
		err  error
	}{
		{"join", "!call join", Command{Verb: VerbJoin}, nil},
		{"leave upper verb", "!call LEAVE", Command{Verb: VerbLeave}, nil},
		{"status padded", "  \t!call   status \n", Command{Verb: VerbStatus}, nil},
		{"help", "!call help", Command{Verb: VerbHelp}, nil},
		{"bare prefix is help", "!call", Command{Verb: VerbHelp}, nil},
		{"echo on", "!call echo on", Command{Verb: VerbEcho, On: true}, nil},
		{"echo off mixed case", "!call Echo OFF", Command{Verb: VerbEcho}, nil},
		{"record start", "!call record start", Command{Verb: VerbRecord, On: true}, nil},
		{"record stop", "!call record Stop", Command{Verb: VerbRecord}, nil},
		{"play keeps case", "!call play Welcome_2.ogg", Command{Verb: VerbPlay, Name: "Welcome_2.ogg"}, nil},
		{"play 64", "!call play " + strings.Repeat("a", 64), Command{Verb: VerbPlay, Name: strings.Repeat("a", 64)}, nil},
		{"nbsp separates", "!call\u00a0join", Command{Verb: VerbJoin}, nil},
		{"reply fallback", "> <@alice:example.org> can you join?\n> second line\n\n!call join", Command{Verb: VerbJoin}, nil},
		{"reply fallback no blank", "> <@alice:example.org> hi\n!call status", Command{Verb: VerbStatus}, nil},

		{"plain chat", "hello there", Command{}, ErrNotCommand},
		{"empty", "", Command{}, ErrNotCommand},
		{"prefix glued", "!calljoin", Command{}, ErrNotCommand},
		{"prefix case", "!CALL join", Command{}, ErrNotCommand},
		{"not first", "please !call join", Command{}, ErrNotCommand},
		{"quoted only", "> !call join", Command{}, ErrNotCommand},
		{"fallback quoting a command", "> <@a:x> !call join\n\nthanks", Command{}, ErrNotCommand},
		{"long chat not scanned", strings.Repeat("x", 5000), Command{}, ErrNotCommand},

		{"unknown", "!call dance", Command{}, ErrUnknownCommand},
		{"unknown kelvin", "!call bac\u212a", Command{}, ErrUnknownCommand},
		{"long s is no s", "!call \u017ftatus", Command{}, ErrUnknownCommand},
		{"join with arg", "!call join now", Command{}, ErrBadArgument},
		{"help with arg", "!call help me", Command{}, ErrBadArgument},
		{"echo no arg", "!call echo", Command{}, ErrBadArgument},
		{"echo bad arg", "!call echo maybe", Command{}, ErrBadArgument},
		{"echo two args", "!call echo on off", Command{}, ErrBadArgument},
		{"record on", "!call record on", Command{}, ErrBadArgument},
		{"play alone: the upload replied to", "!call play", Command{Verb: VerbPlay}, nil},
		{"play alone, spaced", "  !call  PLAY \n", Command{Verb: VerbPlay}, nil},
		{"play path", "!call play ../etc/passwd", Command{}, ErrBadArgument},
		{"play slash", "!call play a/b", Command{}, ErrBadArgument},
		{"play hidden", "!call play .secret", Command{}, ErrBadArgument},
		{"play dotdot", "!call play ..", Command{}, ErrBadArgument},
		{"play 65", "!call play " + strings.Repeat("a", 65), Command{}, ErrBadArgument},
		{"play unicode", "!call play caf\u00e9", Command{}, ErrBadArgument},
		{"play two", "!call play a b", Command{}, ErrBadArgument},
		{"too long", "!call play " + strings.Repeat("a", MaxCommandBytes), Command{}, ErrTooLong},
		{"too long body", "!call join" + strings.Repeat(" ", MaxBodyBytes), Command{}, ErrTooLong},
		{"trailing space within bound", "!call join" + strings.Repeat(" ", 2*MaxCommandBytes), Command{Verb: VerbJoin}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommand(tt.body)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("ParseCommand(%.80q) error = %v, want %v", tt.body, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("ParseCommand(%.80q) = %+v, want %+v", tt.body, got, tt.want)
			}
			if err != nil {
				var ce *CommandError
				if !errors.As(err, &ce) || ce.Text == "" {
					t.Fatalf("error %v is not a *CommandError with a text", err)
				}
			}
		})
	}
}

func TestParseCommandErrorTexts(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{"!call dance", `"dance" is not a command I know; try !call help.`},
		{"!call <b>x</b>", "That command is not a command I know; try !call help."},
		{"!call @room", "That command is not a command I know; try !call help."},
		{"!call echo loud", "Use !call echo on or !call echo off."},
		{"!call record", "Use !call record start or !call record stop."},
		{"!call leave now", "!call leave takes no argument."},
	}
	for _, tt := range tests {
		_, err := ParseCommand(tt.body)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseCommand(%q) error %q, want %q", tt.body, err, tt.want)
		}
	}
}

func TestCommandStringRoundTrip(t *testing.T) {
	for _, c := range []Command{
		{Verb: VerbJoin}, {Verb: VerbLeave}, {Verb: VerbEcho, On: true}, {Verb: VerbEcho}, {Verb: VerbRecord, On: true},
		{Verb: VerbRecord}, {Verb: VerbPlay, Name: "x-1.ogg"}, {Verb: VerbPlay}, {Verb: VerbStatus}, {Verb: VerbHelp},
	} {
		got, err := ParseCommand(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
}

func TestValidSoundName(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "A.b-c_d9": true, "x..y": true, strings.Repeat("z", 64): true,
		"": false, ".": false, "..": false, ".x": false, "a/b": false, `a\b`: false, "a b": false, "a\x00": false,
		strings.Repeat("z", 65): false, "~": false, "a:b": false,
	} {
		if got := ValidSoundName(name); got != want {
			t.Errorf("ValidSoundName(%q) = %v, want %v", name, got, want)
		}
	}
}
