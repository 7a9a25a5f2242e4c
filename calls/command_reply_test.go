package calls

import (
	"errors"
	"strings"
	"testing"
)

func TestCommandReply(t *testing.T) {
	tests := []struct {
		name      string
		cmd       Command
		result    Result
		body      string
		htmlParts []string // each must be in the HTML
	}{
		{"join", Command{Verb: VerbJoin}, Result{}, "OK: I am joining this room's call.", nil},
		{"leave", Command{Verb: VerbLeave}, Result{}, "OK: I am leaving this room's call.", nil},
		{"echo off", Command{Verb: VerbEcho}, Result{}, "Echo is off.", nil},
		{"record start", Command{Verb: VerbRecord, On: true}, Result{}, "Recording started.", nil},
		{"play", Command{Verb: VerbPlay, Name: "hi.ogg"}, Result{}, "Playing hi.ogg.", []string{"Playing <code>hi.ogg</code>."}},
		{"refused", Command{Verb: VerbJoin}, Result{Outcome: OutcomeRefused, Reason: "Sorry, no."}, "Sorry, no.", []string{"Sorry, no."}},
		{"refused no reason", Command{Verb: VerbPlay, Name: "a"}, Result{Outcome: OutcomeRefused},
			"Sorry, you may not use !call play NAME in this room.", nil},
		{"failed escapes", Command{Verb: VerbRecord, On: true},
			Result{Outcome: OutcomeFailed, Reason: "folder <b>full</b> & \"gone\"\nsecond line"},
			"Could not do !call record start: folder <b>full</b> & \"gone\" second line.",
			[]string{"<code>!call record start</code>", "folder &lt;b&gt;full&lt;/b&gt; &amp; &#34;gone&#34; second line."}},
		{"failed no reason", Command{Verb: VerbLeave}, Result{Outcome: OutcomeFailed}, "Could not do !call leave.", nil},
		{"status none", Command{Verb: VerbStatus}, Result{}, "I am not in a call in this room.", nil},
		{"status calls", Command{Verb: VerbStatus}, Result{Status: Status{Calls: []CallStatus{
			{Engine: "livekit", Echo: true},
			{CallID: "<script>\u202e", Engine: "mesh", Recording: true},
		}}}, "I am in 2 call(s) here:\n- the room's call (livekit): echo on, recording off\n- call <script>  (mesh): echo off, recording on",
			[]string{"<ul><li>the room&#39;s call (livekit): echo on, recording off</li>", "<li>call <code>&lt;script&gt; </code> (mesh)"}},
		{"help", Command{Verb: VerbHelp}, Result{}, "", []string{"<li><code>!call play NAME</code>: play a sound into the call; " +
			"!call play alone, in reply to an audio message, plays that</li>"}},
		{"play an upload", Command{Verb: VerbPlay}, Result{}, "Playing the audio message.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.cmd.Reply(tt.result)
			if tt.body != "" && n.Body != tt.body {
				t.Errorf("body %q, want %q", n.Body, tt.body)
			}
			for _, p := range tt.htmlParts {
				if !strings.Contains(n.HTML, p) {
					t.Errorf("HTML %q lacks %q", n.HTML, p)
				}
			}
			if strings.Contains(n.HTML, "<script") || strings.Contains(n.HTML, "<b>") {
				t.Errorf("HTML %q holds unescaped input", n.HTML)
			}
		})
	}
}

func TestHelpNoticeListsEveryCommand(t *testing.T) {
	n := HelpNotice()
	for _, v := range verbs {
		if !strings.Contains(n.Body, "\n- "+v.usage()+": ") {
			t.Errorf("help body lacks %s:\n%s", v, n.Body)
		}
	}
}

func TestParseErrorNotice(t *testing.T) {
	if _, ok := ParseErrorNotice(nil); ok {
		t.Error("a nil error is answered")
	}
	_, err := ParseCommand("hello")
	if _, ok := ParseErrorNotice(err); ok {
		t.Error("a non-command is answered")
	}
	_, err = ParseCommand("!call echo <i>x</i>")
	n, ok := ParseErrorNotice(err)
	if !ok || n.Body != "Use !call echo on or !call echo off." {
		t.Errorf("notice %+v, %v", n, ok)
	}
	if n, ok := ParseErrorNotice(errors.New("other")); !ok || n.Body != "Sorry, I could not read that command." {
		t.Errorf("foreign error: %+v, %v", n, ok)
	}
}

func TestShownBounds(t *testing.T) {
	s := shown(strings.Repeat("é", 100), 7)
	if s != "ééé…" {
		t.Errorf("shown cut to %q", s)
	}
	if s := shown("a\x00b\u200fc\xff", 50); s != "a b c " {
		t.Errorf("shown kept %q", s)
	}
}
