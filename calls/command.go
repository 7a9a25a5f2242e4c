package calls

// Room commands: the pure part. The bot's message handler (plain or
// Megolm-decrypted m.room.message, m.text, addressed to the room) calls
// ParseCommand on the body; ErrNotCommand means stay silent. For a command
// it reads the room's m.room.power_levels (ParsePowerLevels) and asks
// Permitted; a refusal is answered with RefusalNotice, a parse error with
// ParseErrorNotice. A permitted command is routed by the supervisor to the
// feature it names (join/leave to the seats, echo/record/play to media),
// and the outcome is answered with Command.Reply, as an m.notice reply.

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-rtc/switchboard/media"
)

// Verb names a room command.
type Verb string

// The room commands.
const (
	VerbJoin   Verb = "join"   // take part in the room's call
	VerbLeave  Verb = "leave"  // leave it
	VerbEcho   Verb = "echo"   // echo on|off
	VerbRecord Verb = "record" // record start|stop
	VerbPlay   Verb = "play"   // play NAME: an announcement from the configured folder; alone, in reply to an audio message: that upload
	VerbStatus Verb = "status" // what we do in this room
	VerbHelp   Verb = "help"   // the command list
)

// verbs lists every command in help order.
var verbs = [...]Verb{VerbJoin, VerbLeave, VerbEcho, VerbRecord, VerbPlay, VerbStatus, VerbHelp}

// CommandPrefix is the first token of every command, matched exactly.
const CommandPrefix = "!call"

// Bounds on what ParseCommand reads.
const (
	// MaxCommandBytes bounds the command text (after a reply fallback); a
	// longer command is refused with ErrTooLong, not parsed.
	MaxCommandBytes = 1000
	// MaxBodyBytes bounds the whole body scanned, reply fallback included:
	// Matrix events are at most 64 KiB, so nothing real is longer.
	MaxBodyBytes = 64 << 10
	// MaxNameLen bounds a play NAME.
	MaxNameLen = media.MaxSoundNameLen
)

// Parse errors. Each wraps one of these; its text is written for the user
// who sent the command.
var (
	ErrNotCommand     = errors.New("not a room command")
	ErrUnknownCommand = errors.New("unknown room command")
	ErrBadArgument    = errors.New("bad room command argument")
	ErrTooLong        = errors.New("room command too long")
)

// CommandError is a parse error with a text fit to show the user.
type CommandError struct {
	Kind error  // one of the sentinels above
	Text string // for the user
}

func (e *CommandError) Error() string { return e.Text }
func (e *CommandError) Unwrap() error { return e.Kind }

func commandErr(kind error, text string) error { return &CommandError{Kind: kind, Text: text} }

// Command is one parsed room command.
type Command struct {
	Verb Verb
	On   bool // echo on, record start
	// Name is play's sound: a safe file name (see ValidSoundName), or
	// empty for "!call play" alone, which plays the audio message the
	// command replies to.
	Name string
	// Sound is play's announcement made by the caller already (an upload
	// it downloaded and parsed); never set by ParseCommand. When set,
	// Supervisor.Command plays it instead of asking Config.Sound.
	Sound media.Factory
}

// String is the command as a user types it; it parses back to c (Sound
// aside).
func (c Command) String() string {
	switch c.Verb {
	case VerbEcho:
		return CommandPrefix + " echo " + onOff(c.On, "on", "off")
	case VerbRecord:
		return CommandPrefix + " record " + onOff(c.On, "start", "stop")
	case VerbPlay:
		if c.Name == "" {
			return CommandPrefix + " play"
		}
		return CommandPrefix + " play " + c.Name
	}
	return CommandPrefix + " " + string(c.Verb)
}

func onOff(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}

// changesState reports whether the verb changes what we do in the room
// (and so needs the configured power level), as against status and help.
func (v Verb) changesState() bool {
	switch v {
	case VerbJoin, VerbLeave, VerbEcho, VerbRecord, VerbPlay:
		return true
	}
	return false
}

// usage is the verb's syntax for help and error texts.
func (v Verb) usage() string {
	switch v {
	case VerbEcho:
		return CommandPrefix + " echo on|off"
	case VerbRecord:
		return CommandPrefix + " record start|stop"
	case VerbPlay:
		return CommandPrefix + " play NAME"
	}
	return CommandPrefix + " " + string(v)
}

// ParseCommand reads a message body addressed to the room. Only a body
// whose first token is exactly "!call" is a command (else ErrNotCommand);
// a Matrix reply fallback ("> " lines and the blank line after them) and
// surrounding whitespace are stripped first. The verb and its on/off,
// start/stop argument are case-insensitive (ASCII); a play NAME keeps its
// case; "!call play" alone plays the audio message it replies to (the
// caller finds it). "!call" alone is help. Errors wrap ErrNotCommand,
// ErrUnknownCommand, ErrBadArgument or ErrTooLong, as *CommandError.
func ParseCommand(body string) (Command, error) {
	truncated := len(body) > MaxBodyBytes
	if truncated {
		body = body[:MaxBodyBytes]
	}
	text, ok := stripReplyFallback(body)
	if !ok {
		return Command{}, commandErr(ErrNotCommand, "not a command")
	}
	text = strings.TrimLeftFunc(text, unicode.IsSpace)
	if !hasCommandPrefix(text) {
		return Command{}, commandErr(ErrNotCommand, "not a command")
	}
	if truncated || len(text) > MaxCommandBytes {
		if text = strings.TrimRightFunc(text, unicode.IsSpace); truncated || len(text) > MaxCommandBytes {
			return Command{}, commandErr(ErrTooLong, "That command is too long; commands are at most 1000 characters.")
		}
	}
	tokens := strings.Fields(text)
	if len(tokens) == 1 {
		return Command{Verb: VerbHelp}, nil
	}
	verb, args := Verb(asciiLower(tokens[1])), tokens[2:]
	switch verb {
	case VerbJoin, VerbLeave, VerbStatus, VerbHelp:
		if len(args) != 0 {
			return Command{}, commandErr(ErrBadArgument, verb.usage()+" takes no argument.")
		}
		return Command{Verb: verb}, nil
	case VerbEcho, VerbRecord:
		yes, no := "on", "off"
		if verb == VerbRecord {
			yes, no = "start", "stop"
		}
		if len(args) == 1 {
			switch asciiLower(args[0]) {
			case yes:
				return Command{Verb: verb, On: true}, nil
			case no:
				return Command{Verb: verb}, nil
			}
		}
		return Command{}, commandErr(ErrBadArgument, "Use "+CommandPrefix+" "+string(verb)+" "+yes+" or "+
			CommandPrefix+" "+string(verb)+" "+no+".")
	case VerbPlay:
		if len(args) == 0 {
			return Command{Verb: VerbPlay}, nil
		}
		if len(args) != 1 || !ValidSoundName(args[0]) {
			return Command{}, commandErr(ErrBadArgument, "Use "+VerbPlay.usage()+": a NAME is 1 to 64 letters, digits, "+
				"dots, dashes or underscores, and does not start with a dot.")
		}
		return Command{Verb: VerbPlay, Name: args[0]}, nil
	}
	what := "That command"
	if len(verb) <= 16 && ValidSoundName(string(verb)) {
		// Echo the word back only when it is plainly harmless.
		what = `"` + string(verb) + `"`
	}
	return Command{}, commandErr(ErrUnknownCommand, what+" is not a command I know; try "+CommandPrefix+" help.")
}

// hasCommandPrefix reports whether text's first token is CommandPrefix.
func hasCommandPrefix(text string) bool {
	rest, ok := strings.CutPrefix(text, CommandPrefix)
	if !ok {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest) // one rune: never scan on
	return rest == "" || unicode.IsSpace(r)
}

// stripReplyFallback drops a reply fallback from the start of body: the
// lines starting with ">" and the blank line after them. It reports false
// when the body is only quote, so there is nothing to read.
func stripReplyFallback(body string) (string, bool) {
	if !strings.HasPrefix(body, "> ") {
		return body, true
	}
	for strings.HasPrefix(body, ">") {
		i := strings.IndexByte(body, '\n')
		if i < 0 {
			return "", false
		}
		body = body[i+1:]
	}
	if line, rest, ok := strings.Cut(body, "\n"); ok && strings.TrimSpace(line) == "" {
		body = rest
	}
	return body, true
}

// asciiLower lowercases ASCII letters only, so no Unicode folding (the
// Kelvin sign, the long s) can make a foreign word into a verb.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ValidSoundName reports whether name is a safe file name for play; the
// rule is media.ValidSoundName's, the one the sound folder reads by.
func ValidSoundName(name string) bool { return media.ValidSoundName(name) }
