package calls

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sort"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// commandRequest is a room command handed to Run.
type commandRequest struct {
	room  id.RoomID
	cmd   Command
	sound media.Factory // play: made by Config.Sound before Run sees it
	reply chan Result   // 1-buffered: Run never waits on it
}

// Reasons a command could not be done, shown to the room.
const (
	reasonNoCall       = "I am not in a call in this room"
	reasonNoPlay       = "playing is not configured"
	reasonNoFeatures   = "media features are not configured"
	reasonNotAnswering = "the call supervisor did not answer in time; try again"
	reasonStopped      = "the call supervisor has stopped"
)

// Command runs a permitted room command in room and reports the outcome:
// join and leave override the join policy for the room (within the seat
// bounds), echo switches the room's echo, record starts or stops recording
// the room's current calls, play starts an announcement in them, status
// tells what we do there. The overrides live in Run's memory and, with a
// Config.Store, are kept across restarts. Run does the work; Command waits for it until ctx ends.
// play's sound is cmd.Sound when the caller made it, else made here by
// Config.Sound (which may read a file), in the caller's goroutine, never in
// Run's.
func (s *Supervisor) Command(ctx context.Context, room id.RoomID, cmd Command) Result {
	req := commandRequest{room: room, cmd: cmd, reply: make(chan Result, 1)}
	if cmd.Verb == VerbPlay {
		var failed *Result
		if req.sound, failed = s.sound(room, cmd); failed != nil {
			return *failed
		}
	}
	select {
	case s.commands <- req:
	case <-s.stopped:
		return Result{Outcome: OutcomeFailed, Reason: reasonStopped}
	case <-ctx.Done():
		return Result{Outcome: OutcomeFailed, Reason: reasonNotAnswering}
	}
	select {
	case r := <-req.reply:
		return r
	case <-ctx.Done():
		return Result{Outcome: OutcomeFailed, Reason: reasonNotAnswering}
	}
}

// command runs cmd in Run's goroutine. A command that changes what we do
// is decided at once (decided, and whether a call waits for our
// membership), so the reply tells of a change already made.
func (s *Supervisor) command(st *state, room id.RoomID, cmd Command, sound media.Factory) (res Result, decided, waiting bool) {
	res, changed := s.runCommand(st, room, cmd, sound)
	if !changed {
		return res, false, false
	}
	waiting = s.decide(st)
	return s.afterCommand(st, room, cmd, res), true, waiting
}

// runCommand applies cmd in Run's goroutine. changed says the overrides
// changed, so Run decides again before answering.
func (s *Supervisor) runCommand(st *state, room id.RoomID, cmd Command, sound media.Factory) (Result, bool) {
	failed := func(reason string) (Result, bool) { return Result{Outcome: OutcomeFailed, Reason: reason}, false }
	switch cmd.Verb {
	case VerbJoin, VerbLeave:
		st.joins[room] = cmd.Verb == VerbJoin
		return Result{}, true
	case VerbEcho:
		if s.cfg.Features.Build == nil {
			return failed(reasonNoFeatures)
		}
		st.echo[room] = cmd.On
		return Result{}, true
	case VerbRecord:
		if s.cfg.Features.Build == nil {
			return failed(reasonNoFeatures)
		}
		calls := st.joinedCalls(room)
		if len(calls) == 0 {
			return failed(reasonNoCall)
		}
		for _, call := range calls {
			st.record[call] = cmd.On
		}
		return Result{}, true
	case VerbPlay:
		return s.play(st, room, cmd.Name, sound), false
	case VerbStatus:
		return Result{Status: s.status(st, room)}, false
	}
	return Result{}, false
}

// afterCommand checks, once decided, that what cmd asked for is in place.
func (s *Supervisor) afterCommand(st *state, room id.RoomID, cmd Command, res Result) Result {
	if cmd.Verb != VerbRecord || !cmd.On {
		return res
	}
	var errs []error
	for _, call := range st.joinedCalls(room) {
		if err := st.featureError(call, FeatureRecord); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Result{Outcome: OutcomeFailed, Reason: errors.Join(errs...).Error()}
	}
	return res
}

// sound is the announcement play cmd asks for in room: cmd.Sound when the
// caller made it, else Config.Sound's of cmd.Name; or it says why not
// (Config.Sound's error text is shown to the room).
func (s *Supervisor) sound(room id.RoomID, cmd Command) (media.Factory, *Result) {
	if cmd.Sound != nil {
		return cmd.Sound, nil
	}
	if s.cfg.Sound == nil || cmd.Name == "" {
		return nil, &Result{Outcome: OutcomeFailed, Reason: reasonNoPlay}
	}
	f, err := s.cfg.Sound(room, cmd.Name)
	if err != nil {
		return nil, &Result{Outcome: OutcomeFailed, Reason: err.Error()}
	}
	if f == nil {
		return nil, &Result{Outcome: OutcomeFailed, Reason: reasonNoPlay}
	}
	return f, nil
}

// play starts sound (named name) in each of room's carried calls.
func (s *Supervisor) play(st *state, room id.RoomID, name string, sound media.Factory) Result {
	if sound == nil {
		return Result{Outcome: OutcomeFailed, Reason: reasonNoPlay}
	}
	var calls []membership.CallKey
	for call := range st.carried {
		if call.Room == room {
			calls = append(calls, call)
		}
	}
	if len(calls) == 0 {
		return Result{Outcome: OutcomeFailed, Reason: reasonNoCall}
	}
	var errs []string
	for _, call := range calls {
		if err := st.carried[call].engine.StartFeature(call, sound); err != nil {
			s.logger.Warn("announcement not started", "room", room, "call_id", call.CallID, "sound", name, "err", err)
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return Result{Outcome: OutcomeFailed, Reason: strings.Join(errs, "; ")}
	}
	return Result{}
}

// allows is the join policy with the room's join or leave command.
func (s *Supervisor) allows(st *state, room id.RoomID) bool {
	if join, ok := st.joins[room]; ok {
		return join && s.facts.InRoom(room)
	}
	return s.cfg.Policy.Allows(room, s.facts)
}

// joinedCalls are room's calls we hold a seat in (carried, or waiting for
// our membership to be written), in a stable order.
func (st *state) joinedCalls(room id.RoomID) []membership.CallKey {
	var out []membership.CallKey
	for k, d := range st.decisions {
		if k.Call.Room == room && d.State == StateJoined && !slices.Contains(out, k.Call) {
			out = append(out, k.Call)
		}
	}
	sort.Slice(out, func(i, j int) bool { return callLess(out[i], out[j]) })
	return out
}

func callLess(a, b membership.CallKey) bool {
	if a.CallID != b.CallID {
		return a.CallID < b.CallID
	}
	if a.Application != b.Application {
		return a.Application < b.Application
	}
	return a.Scope < b.Scope
}

// status is what we do in room: each call we hold a seat in, its engine
// and state, and whether it echoes and records.
func (s *Supervisor) status(st *state, room id.RoomID) Status {
	var out Status
	for _, call := range st.joinedCalls(room) {
		cs := CallStatus{CallID: call.CallID, State: "waiting for our membership to be written"}
		if c, ok := st.carried[call]; ok {
			cs.Engine, cs.State = c.engine.Name(), c.engine.CallState(call)
		}
		names := st.featureNames(s.cfg.Features, call)
		cs.Echo = slices.Contains(names, FeatureEcho) && st.featureError(call, FeatureEcho) == nil
		cs.Recording = slices.Contains(names, FeatureRecord) && st.featureError(call, FeatureRecord) == nil
		out.Calls = append(out.Calls, cs)
	}
	return out
}

// Override is a room command in force, for the admin view.
type Override struct {
	Room    string `json:"room_id"`
	CallID  string `json:"call_id,omitempty"` // record: the call it is for ("" the room's call)
	Command string `json:"command"`           // e.g. "!call echo on"
	// record: the rest of the call's key.
	Application string `json:"application,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

// overrides lists the commands in force, sorted.
func (st *state) overrides() []Override {
	var out []Override
	for room, join := range st.joins {
		v := VerbLeave
		if join {
			v = VerbJoin
		}
		out = append(out, Override{Room: string(room), Command: Command{Verb: v}.String()})
	}
	for room, on := range st.echo {
		out = append(out, Override{Room: string(room), Command: Command{Verb: VerbEcho, On: on}.String()})
	}
	for call, on := range st.record {
		out = append(out, Override{Room: string(call.Room), CallID: call.CallID, Application: call.Application,
			Scope: call.Scope, Command: Command{Verb: VerbRecord, On: on}.String()})
	}
	slices.SortFunc(out, func(a, b Override) int {
		return cmp.Or(strings.Compare(a.Room, b.Room), strings.Compare(a.CallID, b.CallID),
			strings.Compare(a.Application, b.Application), strings.Compare(a.Scope, b.Scope),
			strings.Compare(a.Command, b.Command))
	})
	return out
}

// Overrides lists the room commands in force.
func (s *Supervisor) Overrides() []Override {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.overrides)
}
