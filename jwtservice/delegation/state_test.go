package delegation

import (
	"fmt"
	"testing"
)

var (
	allStates  = []State{StateUnknown, StateWaitingForInitialConnect, StateConnected, StateDisconnected, StateDeparting, StateDone, StateAborted, StateReplaced}
	allSignals = []signal{sigUnknown, sigJoined, sigFound, sigLeft, sigConnAborted, sigWaitExpired, sigGone,
		sigRestartGone, sigRestartFailed, sigSent, sigSendFailed, sigReplaced, sigObservedGone}
)

// TestTransitionTable pins every (state, input) pair: the listed ones
// change state, all others are ignored.
func TestTransitionTable(t *testing.T) {
	type pair struct {
		s   State
		sig signal
	}
	want := map[pair]State{
		{StateWaitingForInitialConnect, sigJoined}:      StateConnected,
		{StateWaitingForInitialConnect, sigFound}:       StateConnected,
		{StateWaitingForInitialConnect, sigConnAborted}: StateAborted,
		{StateWaitingForInitialConnect, sigWaitExpired}: StateDisconnected,
		{StateWaitingForInitialConnect, sigReplaced}:    StateReplaced,
		{StateConnected, sigLeft}:                       StateDisconnected,
		{StateConnected, sigConnAborted}:                StateDeparting,
		{StateConnected, sigGone}:                       StateDeparting,
		{StateConnected, sigObservedGone}:               StateDeparting,
		{StateDeparting, sigJoined}:                     StateConnected,
		{StateDeparting, sigFound}:                      StateConnected,
		{StateDeparting, sigLeft}:                       StateDisconnected,
		{StateDeparting, sigGone}:                       StateDisconnected,
		{StateDeparting, sigRestartGone}:                StateAborted,
		{StateDeparting, sigRestartFailed}:              StateAborted,
		{StateDeparting, sigReplaced}:                   StateReplaced,
		{StateConnected, sigRestartGone}:                StateAborted,
		{StateConnected, sigRestartFailed}:              StateAborted,
		{StateConnected, sigReplaced}:                   StateReplaced,
		{StateDisconnected, sigSent}:                    StateDone,
		{StateDisconnected, sigSendFailed}:              StateDone,
		{StateDisconnected, sigReplaced}:                StateReplaced,
	}
	for _, s := range allStates {
		for _, sig := range allSignals {
			got, ok := transition(s, sig)
			w, wantOK := want[pair{s, sig}]
			if !wantOK {
				w = s
			}
			if got != w || ok != wantOK {
				t.Errorf("transition(%s, %s) = %s, %v; want %s, %v", s, sig, got, ok, w, wantOK)
			}
		}
	}
}

func TestTerminalStatesHaveNoExit(t *testing.T) {
	for _, s := range allStates {
		if !s.Terminal() {
			continue
		}
		for _, sig := range allSignals {
			if _, ok := transition(s, sig); ok {
				t.Errorf("terminal %s left on %s", s, sig)
			}
		}
	}
}

func TestStrings(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range allStates {
		str := s.String()
		if seen[str] {
			t.Errorf("duplicate state name %q", str)
		}
		seen[str] = true
	}
	seen = map[string]bool{}
	for _, sig := range allSignals {
		str := sig.String()
		if seen[str] {
			t.Errorf("duplicate signal name %q", str)
		}
		seen[str] = true
	}
	for _, tc := range []struct{ got, want string }{
		{State(99).String(), "State(99)"},
		{signal(99).String(), "signal(99)"},
		{EventKind(99).String(), "EventKind(99)"},
		{action(99).String(), "action(99)"},
		{outcome(99).String(), "outcome(99)"},
		{StateWaitingForInitialConnect.String(), "WaitingForInitialConnect"},
		{actionRestart.String(), "restart"},
		{actionSend.String(), "send"},
		{fmt.Sprint(EventLeftIntentionally), "LeftIntentionally"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
