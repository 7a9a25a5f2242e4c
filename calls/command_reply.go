package calls

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Notice is the text of an m.notice answering a command: Body is the plain
// body, HTML the formatted_body (org.matrix.custom.html), in which all
// text not ours is escaped. Send it as a reply to the command with an
// empty "m.mentions", so that nothing in it (a call ID is chosen by
// whoever started the call) can ping anyone.
type Notice struct {
	Body string
	HTML string
}

// Outcome is how a command ended.
type Outcome int

const (
	OutcomeDone    Outcome = iota // done, or under way
	OutcomeRefused                // not permitted (Permitted's reason)
	OutcomeFailed                 // permitted, but it could not be done
)

// Result is what the router reports about a command, for its reply.
type Result struct {
	Outcome Outcome
	Reason  string // why refused or failed
	Status  Status // for status
}

// Status is what we do in one room, for status.
type Status struct {
	Calls []CallStatus // the room's calls we take part in
}

// CallStatus is one call we take part in.
type CallStatus struct {
	CallID    string // "" for the room's call
	Engine    string // "livekit", "mesh"
	State     string // the engine's state of the call ("" when unknown)
	Echo      bool
	Recording bool
}

// Bounds on text echoed into a notice that we did not write.
const (
	maxShownReason = 300
	maxShownCallID = 64
)

// Reply renders the notice answering c.
func (c Command) Reply(r Result) Notice {
	switch r.Outcome {
	case OutcomeRefused:
		reason := r.Reason
		if reason == "" {
			reason = "Sorry, you may not use " + c.Verb.usage() + " in this room."
		}
		return noticeOf(shown(reason, maxShownReason))
	case OutcomeFailed:
		n := noticeOf("Could not do ", code(c.String()))
		if r.Reason != "" {
			n = n.add(": ", shown(r.Reason, maxShownReason))
		}
		return n.add(".")
	}
	switch c.Verb {
	case VerbJoin:
		return noticeOf("OK: I am joining this room's call.")
	case VerbLeave:
		return noticeOf("OK: I am leaving this room's call.")
	case VerbEcho:
		return noticeOf(onOff(c.On, "Echo is on: I send each speaker's sound back to them.", "Echo is off."))
	case VerbRecord:
		return noticeOf(onOff(c.On, "Recording started.", "Recording stopped."))
	case VerbPlay:
		if c.Name == "" {
			return noticeOf("Playing the audio message.")
		}
		return noticeOf("Playing ", code(c.Name), ".")
	case VerbStatus:
		return r.Status.notice()
	}
	return HelpNotice()
}

// ParseErrorNotice renders the answer to a ParseCommand error. It reports
// false for ErrNotCommand (and a nil error): the bot stays silent then.
func ParseErrorNotice(err error) (Notice, bool) {
	if err == nil || errors.Is(err, ErrNotCommand) {
		return Notice{}, false
	}
	var ce *CommandError
	if !errors.As(err, &ce) {
		return noticeOf("Sorry, I could not read that command."), true
	}
	return noticeOf(ce.Text), true
}

// HelpNotice lists the commands.
func HelpNotice() Notice {
	n := noticeOf("Commands:")
	n.HTML += "<ul>"
	for _, v := range verbs {
		n.Body += "\n- "
		n.HTML += "<li>"
		n = n.add(code(v.usage()), ": ", v.help())
		n.HTML += "</li>"
	}
	n.HTML += "</ul>"
	return n
}

func (v Verb) help() string {
	switch v {
	case VerbJoin:
		return "take part in this room's call"
	case VerbLeave:
		return "leave it"
	case VerbEcho:
		return "send each speaker's sound back to them"
	case VerbRecord:
		return "record the call"
	case VerbPlay:
		return "play a sound into the call; " + CommandPrefix + " play alone, in reply to an audio message, plays that"
	case VerbStatus:
		return "what I do in this room"
	}
	return "this list"
}

func (s Status) notice() Notice {
	if len(s.Calls) == 0 {
		return noticeOf("I am not in a call in this room.")
	}
	n := noticeOf(fmt.Sprintf("I am in %d call(s) here:", len(s.Calls)))
	n.HTML += "<ul>"
	for _, c := range s.Calls {
		n.Body += "\n- "
		n.HTML += "<li>"
		if c.CallID == "" {
			n = n.add("the room's call")
		} else {
			n = n.add("call ", code(shown(c.CallID, maxShownCallID)))
		}
		switch {
		case c.Engine != "" && c.State != "":
			n = n.add(" (", shown(c.Engine, maxShownCallID), ", ", shown(c.State, maxShownCallID), ")")
		case c.Engine != "" || c.State != "":
			n = n.add(" (", shown(c.Engine+c.State, maxShownCallID), ")")
		}
		n = n.add(": echo ", onOff(c.Echo, "on", "off"), ", recording ", onOff(c.Recording, "on", "off"))
		n.HTML += "</li>"
	}
	n.HTML += "</ul>"
	return n
}

// code marks a span as code in the HTML.
type code string

// add appends parts: a string as text (escaped in the HTML), a code as
// code.
func (n Notice) add(parts ...any) Notice {
	for _, p := range parts {
		switch p := p.(type) {
		case code:
			n.Body += string(p)
			n.HTML += "<code>" + html.EscapeString(string(p)) + "</code>"
		case string:
			n.Body += p
			n.HTML += html.EscapeString(p)
		}
	}
	return n
}

func noticeOf(parts ...any) Notice { return Notice{}.add(parts...) }

// shown bounds text we did not write to max bytes (on a rune boundary)
// and turns control and format characters (newlines, bidi overrides) into
// spaces, so it cannot fake lines or reorder the notice.
func shown(s string, limit int) string {
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
}
