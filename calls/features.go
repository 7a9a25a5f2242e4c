package calls

import (
	"fmt"
	"slices"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// Feature names a plan and the room commands know.
const (
	FeatureEcho     = "echo"
	FeatureRecord   = "record"
	FeatureAnnounce = "announce" // the configured sound, played once as we join
)

// FeaturePlan says which media features each call has: the names from
// config (Default, or the room's entry in Rooms), changed by the room
// commands, made into factories by Build.
type FeaturePlan struct {
	Default []string
	Rooms   map[id.RoomID][]string // a room's list replaces Default
	// Build makes the named feature for call. It is called once per name
	// while a call has it (a recorder is made per call: its folder names
	// the call). Nil: the supervisor never sets features.
	Build func(call membership.CallKey, name string) (media.Factory, error)
}

// Names are room's features as configured.
func (p FeaturePlan) Names(room id.RoomID) []string {
	if names, ok := p.Rooms[room]; ok {
		return names
	}
	return p.Default
}

// callFeatures is what the supervisor told an engine about one call it
// carries. Run's goroutine owns it.
type callFeatures struct {
	names []string
	built map[string]media.Factory
	errs  map[string]error // names Build refused, and why
	told  bool             // SetFeatures was called since the last Carry
}

// featureNames is call's feature list now: the plan's, with the room's
// echo and the call's record command applied.
func (st *state) featureNames(plan FeaturePlan, call membership.CallKey) []string {
	names := slices.Clone(plan.Names(call.Room))
	if on, ok := st.echo[call.Room]; ok {
		names = withFeature(names, FeatureEcho, on)
	}
	if on, ok := st.record[call]; ok {
		names = withFeature(names, FeatureRecord, on)
	}
	return names
}

func withFeature(names []string, name string, on bool) []string {
	has := slices.Contains(names, name)
	switch {
	case on && !has:
		return append(names, name)
	case !on && has:
		return slices.DeleteFunc(names, func(n string) bool { return n == name })
	}
	return names
}

// setFeatures tells each carried call's engine its features when they
// changed or the call was carried anew. Factories are built once per name
// while the call keeps it.
func (s *Supervisor) setFeatures(st *state) {
	build := s.cfg.Features.Build
	if build == nil {
		return
	}
	for call, c := range st.carried {
		names := st.featureNames(s.cfg.Features, call)
		f := st.features[call]
		if f == nil {
			f = &callFeatures{built: map[string]media.Factory{}, errs: map[string]error{}}
			st.features[call] = f
		}
		if f.told && slices.Equal(f.names, names) {
			continue
		}
		var out []media.Factory
		for _, n := range names {
			fac, ok := f.built[n]
			if !ok {
				var err error
				if fac, err = build(call, n); err != nil {
					// Logged once: the list is not built again until it changes.
					if _, seen := f.errs[n]; !seen {
						s.logger.Error("media feature not available", "room", call.Room, "call_id", call.CallID, "feature", n, "err", err)
					}
					f.errs[n] = err
					continue
				}
				delete(f.errs, n)
				f.built[n] = fac
			}
			out = append(out, fac)
		}
		for n := range f.built {
			if !slices.Contains(names, n) {
				delete(f.built, n)
			}
		}
		f.names, f.told = names, true
		c.engine.SetFeatures(call, out)
	}
}

// featureError is why call lacks feature name although its list names it.
func (st *state) featureError(call membership.CallKey, name string) error {
	if f := st.features[call]; f != nil {
		if err := f.errs[name]; err != nil {
			return fmt.Errorf("%s is not available: %w", name, err)
		}
	}
	return nil
}
