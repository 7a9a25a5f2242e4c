package main

import (
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/mesh"
)

// directView is the 1:1 call answerer as operators see it (admin API,
// status page, metrics). The Direct is made once the bot has logged in
// (it needs the bot's device), so it is published here when made; none
// is ever made when calls.direct is ignore.
type directView struct {
	mode        string
	maxDuration time.Duration
	d           atomic.Pointer[mesh.Direct]
}

// directSection is the "direct" section of GET /admin/v1/mesh.
type directSection struct {
	Mode string `json:"mode"`
	// Running is false before the bot has logged in and with mode ignore
	// (then no call is answered, so there are none).
	Running            bool                      `json:"running"`
	Active             int                       `json:"active"`
	Max                int                       `json:"max,omitempty"`
	MaxDurationSeconds int64                     `json:"max_duration_seconds,omitempty"`
	Calls              []mesh.DirectCallSnapshot `json:"calls"`
}

func (v *directView) section() directSection {
	s := directSection{Mode: v.mode, Calls: []mesh.DirectCallSnapshot{}}
	if d := v.d.Load(); d != nil {
		s.Running, s.Calls = true, d.Calls()
		s.Active, s.Max = d.Counts()
		s.MaxDurationSeconds = int64(v.maxDuration / time.Second)
	}
	return s
}

// Calls are the 1:1 calls for the state gauges; false: unknown (the bot
// has not logged in yet). With mode ignore there are none.
func (v *directView) Calls() ([]mesh.DirectCallSnapshot, bool) {
	if d := v.d.Load(); d != nil {
		return d.Calls(), true
	}
	return nil, v.mode == mesh.DirectIgnore.String()
}
