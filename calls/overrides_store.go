package calls

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// OverrideStore keeps the room commands' overrides across restarts: Run
// loads them once, before its first decision, and saves the whole list
// after each change (a few rows: one per room and command in force).
type OverrideStore interface {
	LoadOverrides(ctx context.Context) ([]Override, error)
	SaveOverrides(ctx context.Context, overrides []Override) error
}

// storeTimeout bounds each load and save: Run's goroutine waits for them.
const storeTimeout = 5 * time.Second

// ErrBadOverride: a stored override names no command we know.
var ErrBadOverride = errors.New("calls: stored override not understood")

// loadOverrides puts the stored overrides into st. On any error st keeps
// none and nothing is saved for the rest of the run, so a store we could
// not read is never overwritten with less than it held.
func (s *Supervisor) loadOverrides(ctx context.Context, st *state) {
	if s.cfg.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	stored, err := s.cfg.Store.LoadOverrides(ctx)
	if err == nil {
		err = st.restore(stored)
	}
	if err != nil {
		clear(st.joins)
		clear(st.echo)
		clear(st.record)
		st.storeBroken = true
		s.logger.Error("room command overrides not loaded; they are kept in memory only until a restart", "err", err)
		return
	}
	st.saved = st.overrides()
}

// restore sets st's overrides from a stored list.
func (st *state) restore(stored []Override) error {
	for _, o := range stored {
		cmd, err := ParseCommand(o.Command)
		if err != nil {
			return fmt.Errorf("%w: %q: %w", ErrBadOverride, o.Command, err)
		}
		room := id.RoomID(o.Room)
		switch {
		case cmd.Verb == VerbJoin || cmd.Verb == VerbLeave:
			st.joins[room] = cmd.Verb == VerbJoin
		case cmd.Verb == VerbEcho:
			st.echo[room] = cmd.On
		case cmd.Verb == VerbRecord:
			st.record[membership.CallKey{Room: room, Application: o.Application, CallID: o.CallID, Scope: o.Scope}] = cmd.On
		default:
			return fmt.Errorf("%w: %q", ErrBadOverride, o.Command)
		}
	}
	return nil
}

// saveOverrides saves the overrides the last decision published when they
// changed since the last save; a failed save is logged and tried again
// after the next decision.
func (s *Supervisor) saveOverrides(ctx context.Context, st *state) {
	if s.cfg.Store == nil || st.storeBroken {
		return
	}
	now := s.Overrides()
	if slices.Equal(now, st.saved) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := s.cfg.Store.SaveOverrides(ctx, now); err != nil {
		s.logger.Error("room command overrides not saved; a restart would forget the latest", "err", err)
		return
	}
	st.saved = now
}
