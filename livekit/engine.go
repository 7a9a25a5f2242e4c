package livekit

import (
	"sync"

	"github.com/switchboard-rtc/switchboard/membership"
)

// Engine is the LiveKit engine as the call supervisor (calls.Engine) sees
// it. Until the SFU participant lands it carries a LiveKit-focus call with
// our membership and media keys only: it joins no LiveKit room and sends
// no media. Its health is the SFU's.
type Engine struct {
	health func() (ok bool, reason string)

	mu    sync.Mutex
	calls map[membership.CallKey]membership.Focus
}

// NewEngine returns the engine; health reports whether LiveKit answers
// (nil: always).
func NewEngine(health func() (ok bool, reason string)) *Engine {
	return &Engine{health: health, calls: map[membership.CallKey]membership.Focus{}}
}

func (e *Engine) Name() string { return "livekit" }

// CanCarry reports whether focus is a LiveKit focus.
func (e *Engine) CanCarry(focus membership.Focus) bool { return focus.Type == "livekit" }

// Carry records call on focus (membership and keys only, for now).
func (e *Engine) Carry(call membership.CallKey, focus membership.Focus) {
	e.mu.Lock()
	e.calls[call] = focus
	e.mu.Unlock()
}

// Release forgets call.
func (e *Engine) Release(call membership.CallKey) {
	e.mu.Lock()
	delete(e.calls, call)
	e.mu.Unlock()
}

// Health is the SFU's health.
func (e *Engine) Health() (bool, string) {
	if e.health == nil {
		return true, ""
	}
	return e.health()
}

// CallState describes a carried call for the admin view.
func (e *Engine) CallState(call membership.CallKey) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f, ok := e.calls[call]; ok {
		return "membership and keys, no media yet (focus " + f.LiveKitServiceURL + ")"
	}
	return "not carried"
}
