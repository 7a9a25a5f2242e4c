package livekit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/membership"
)

// fakeTokens reports every token request and answers it with answer, which
// may block until the request's context ends.
type fakeTokens struct {
	asked  chan membership.Focus
	answer func(ctx context.Context, focus membership.Focus) (Join, error)
}

func (f *fakeTokens) Token(ctx context.Context, _ membership.CallKey, focus membership.Focus) (Join, error) {
	f.asked <- focus
	return f.answer(ctx, focus)
}

var errRefused = errors.New("refused")

func focusAt(url string) membership.Focus {
	return membership.Focus{Type: "livekit", LiveKitServiceURL: url}
}

// runEngine starts e.Run and returns a function that closes the engine and
// waits for Run, which must return nil.
func runEngine(t *testing.T, e *Engine) func() {
	done := make(chan error, 1)
	go func() { done <- e.Run(context.Background()) }()
	return func() {
		t.Helper()
		_ = e.Close()
		_ = e.Close() // idempotent
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after Close")
		}
	}
}

func nextFocus(t *testing.T, asked <-chan membership.Focus) membership.Focus {
	t.Helper()
	select {
	case f := <-asked:
		return f
	case <-time.After(20 * time.Second):
		t.Fatal("no token request")
	}
	return membership.Focus{}
}

// TestEngineIsolatesCalls: a call whose token never comes and a call whose
// token is refused run side by side; Release returns at once even while a
// request hangs, the refused one shows its error and retries on a new focus
// at once; Close ends Run with no goroutine left; Run cannot run twice.
func TestEngineIsolatesCalls(t *testing.T) {
	leakcheck.Check(t)
	hang := &fakeTokens{asked: make(chan membership.Focus, 8), answer: func(ctx context.Context, _ membership.Focus) (Join, error) {
		<-ctx.Done()
		return Join{}, ctx.Err()
	}}
	refuse := &fakeTokens{asked: make(chan membership.Focus, 8), answer: func(context.Context, membership.Focus) (Join, error) {
		return Join{}, errRefused
	}}
	tokens := routeTokens{"!hang:x": hang, "!refuse:x": refuse}
	e := New(EngineConfig{MaxBackoff: time.Hour}, nil, tokens, e2ee.NewKeyStore(e2ee.KeyStoreOptions{}), nil)
	stop := runEngine(t, e)
	defer stop()

	hanging := membership.CallKey{Room: "!hang:x", Application: "m.call"}
	refused := membership.CallKey{Room: "!refuse:x", Application: "m.call"}
	e.Carry(hanging, focusAt("https://a"))
	e.Carry(refused, focusAt("https://b"))
	nextFocus(t, hang.asked)
	if f := nextFocus(t, refuse.asked); f.LiveKitServiceURL != "https://b" {
		t.Fatalf("asked for %v", f)
	}
	waitState(t, e, refused, StateError+": token: refused")
	if s := e.CallState(hanging); s != StateConnecting {
		t.Errorf("the hanging call is %q, want connecting", s)
	}
	// A new focus ends the (hour-long) backoff at once.
	e.Carry(refused, focusAt("https://c"))
	if f := nextFocus(t, refuse.asked); f.LiveKitServiceURL != "https://c" {
		t.Errorf("after the move asked for %v", f)
	}
	e.Release(hanging) // must not wait for the hanging request
	if s := e.CallState(hanging); s != "not carried" {
		t.Errorf("released call is %q", s)
	}
	if err := e.Run(context.Background()); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second Run: %v", err)
	}
	if calls := e.Calls(); len(calls) != 1 || calls[0].Room != "!refuse:x" || calls[0].Focus != "https://c" {
		t.Errorf("Calls() = %+v", calls)
	}
}

// routeTokens answers per Matrix room.
type routeTokens map[string]*fakeTokens

func (r routeTokens) Token(ctx context.Context, call membership.CallKey, focus membership.Focus) (Join, error) {
	return r[string(call.Room)].Token(ctx, call, focus)
}

func waitState(t *testing.T, e *Engine, call membership.CallKey, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s := e.CallState(call); !strings.HasPrefix(s, want); s = e.CallState(call) {
		if time.Now().After(deadline) {
			t.Fatalf("call state %q, want %q", s, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEngineUnreachableLiveKit: a token for a LiveKit that does not answer
// gives an error state naming the join, and the failed join leaves no
// goroutine behind.
func TestEngineUnreachableLiveKit(t *testing.T) {
	leakcheck.Check(t)
	tokens := &fakeTokens{asked: make(chan membership.Focus, 8), answer: func(context.Context, membership.Focus) (Join, error) {
		return Join{URL: "ws://127.0.0.1:1", Token: "not-a-token", Room: "r", Identity: "@bot:x:D"}, nil
	}}
	e := New(EngineConfig{MaxBackoff: time.Hour}, nil, tokens, e2ee.NewKeyStore(e2ee.KeyStoreOptions{}), nil)
	stop := runEngine(t, e)
	defer stop()
	call := membership.CallKey{Room: "!r:x"}
	e.Carry(call, focusAt("https://a"))
	waitState(t, e, call, StateError+": join r at ws://127.0.0.1:1")
}

// TestEngineWithoutSources: an engine made without a token source or key
// store shows every call as an error and starts nothing.
func TestEngineWithoutSources(t *testing.T) {
	leakcheck.Check(t)
	e := New(EngineConfig{}, nil, nil, nil, nil)
	stop := runEngine(t, e)
	call := membership.CallKey{Room: "!r:x"}
	e.Carry(call, focusAt("https://a"))
	if s := e.CallState(call); s != StateError+": "+errNoSources.Error() {
		t.Errorf("state %q", s)
	}
	e.Release(call)
	stop()
}
