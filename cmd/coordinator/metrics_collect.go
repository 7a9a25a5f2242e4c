package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-rtc/switchboard/e2ee"
	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/membership"
	"github.com/switchboard-rtc/switchboard/mesh"
)

// The sources of the gauges of current state, asked when scraped. The
// tracker, supervisor, key store and engines implement them.
type (
	memberSnapshotter interface {
		Snapshot(ctx context.Context) ([]membership.Member, error)
	}
	keyReporter interface {
		Report(f e2ee.ReportFilter) e2ee.Report
	}
	livekitCalls interface{ Calls() []lklive.CallSnapshot }
	meshCalls    interface{ Calls() []mesh.CallSnapshot }
	// directCalls' false is unknown: no series.
	directCalls interface {
		Calls() ([]mesh.DirectCallSnapshot, bool)
	}
)

// stateSources are what the state collector asks; nil ones are skipped.
type stateSources struct {
	members memberSnapshotter
	seats   membership.SeatLister
	keys    keyReporter
	livekit livekitCalls
	mesh    meshCalls
	direct  directCalls
}

// The label values of the state gauges: fixed sets, anything else "other".
var (
	memberDialects = []membership.Dialect{membership.DialectFamedly, membership.DialectMatrixRTC, membership.DialectRTCSticky}
	seatStates     = []string{"starting", "joined", "retrying", "leaving", "refused"}
	livekitStates  = []string{lklive.StateConnecting, lklive.StateConnected, lklive.StateReconnecting, lklive.StateError}
	meshStates     = []string{"waiting", "alone", "connecting", "connected"}
)

// snapshotTimeout bounds the tracker's answer to a scrape.
const snapshotTimeout = 2 * time.Second

// stateCollector reports the calls, members, own seats, keys held and
// engine calls as they are at the scrape. A source that cannot answer
// (the tracker not running) gives no series rather than zeros: unknown is
// not absent.
type stateCollector struct {
	src                                stateSources
	calls, members, seats, engineCalls *prometheus.Desc
	keys, keyParticipants, directCalls *prometheus.Desc
}

func newStateCollector(src stateSources) *stateCollector {
	return &stateCollector{
		src: src,
		calls: prometheus.NewDesc("switchboard_calls",
			"Calls with at least one live membership in a room the bot is in, by dialect.", []string{"dialect"}, nil),
		members: prometheus.NewDesc("switchboard_call_members",
			"Live call memberships (devices) in rooms the bot is in, by dialect.", []string{"dialect"}, nil),
		seats: prometheus.NewDesc("switchboard_seats",
			"Our own call memberships, by dialect and state (starting, joined, retrying, leaving; refused by a bound on seats).",
			[]string{"dialect", "state"}, nil),
		engineCalls: prometheus.NewDesc("switchboard_engine_calls",
			"Calls a media engine carries, by engine (livekit, mesh) and state.", []string{"engine", "state"}, nil),
		keys: prometheus.NewDesc("switchboard_e2ee_keys_held",
			"Media keys of other participants held in the key store.", nil, nil),
		keyParticipants: prometheus.NewDesc("switchboard_e2ee_key_participants",
			"Participants whose media keys the key store holds.", nil, nil),
		directCalls: prometheus.NewDesc("switchboard_direct_calls",
			"1:1 calls to the bot under way, by state (checking the room, rejecting as busy, answering, connected, ended).",
			[]string{"state"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.calls, c.members, c.seats, c.engineCalls, c.keys, c.keyParticipants, c.directCalls} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	if c.src.members != nil {
		c.collectMembers(gauge)
	}
	if c.src.seats != nil {
		counts := map[[2]string]int{}
		for _, st := range c.src.seats.Seats() {
			counts[[2]string{st.Dialect, bounded(st.State, seatStates)}]++
		}
		for _, d := range membership.SeatDialects {
			for _, s := range append(seatStates, "other") {
				if n, ok := counts[[2]string{d.String(), s}]; ok || s != "other" {
					gauge(c.seats, n, d.String(), s)
				}
			}
		}
	}
	if c.src.keys != nil {
		rep := c.src.keys.Report(e2ee.ReportFilter{})
		held := 0
		for _, p := range rep.Participants {
			held += len(p.Keys)
		}
		gauge(c.keys, held)
		gauge(c.keyParticipants, len(rep.Participants))
	}
	if c.src.livekit != nil {
		var states []string
		for _, call := range c.src.livekit.Calls() {
			states = append(states, call.State)
		}
		stateGauges(gauge, c.engineCalls, states, livekitStates, "livekit")
	}
	if c.src.mesh != nil {
		var states []string
		for _, call := range c.src.mesh.Calls() {
			states = append(states, meshState(call.State))
		}
		stateGauges(gauge, c.engineCalls, states, meshStates, "mesh")
	}
	if c.src.direct != nil {
		c.collectDirect(gauge)
	}
}

func (c *stateCollector) collectDirect(gauge func(*prometheus.Desc, int, ...string)) {
	calls, ok := c.src.direct.Calls()
	if !ok {
		return
	}
	states := make([]string, 0, len(calls))
	for _, call := range calls {
		states = append(states, call.State)
	}
	stateGauges(gauge, c.directCalls, states, mesh.DirectStates)
}

func (c *stateCollector) collectMembers(gauge func(*prometheus.Desc, int, ...string)) {
	ctx, cancel := context.WithTimeout(context.Background(), snapshotTimeout)
	defer cancel()
	members, err := c.src.members.Snapshot(ctx)
	if err != nil {
		return
	}
	calls := map[membership.Dialect]map[membership.CallKey]bool{}
	devices := map[membership.Dialect]int{}
	for _, m := range members {
		if calls[m.Dialect] == nil {
			calls[m.Dialect] = map[membership.CallKey]bool{}
		}
		calls[m.Dialect][m.Call] = true
		devices[m.Dialect]++
	}
	for _, d := range memberDialects {
		gauge(c.calls, len(calls[d]), d.String())
		gauge(c.members, devices[d], d.String())
	}
}

// stateGauges reports every known state (zeros included) and "other"
// when some call is in none of them; the state is the last label, after
// labels.
func stateGauges(gauge func(*prometheus.Desc, int, ...string), d *prometheus.Desc, states, known []string, labels ...string) {
	counts := map[string]int{}
	for _, s := range states {
		counts[bounded(s, known)]++
	}
	for _, s := range known {
		gauge(d, counts[s], append(labels, s)...)
	}
	if n := counts["other"]; n > 0 {
		gauge(d, n, append(labels, "other")...)
	}
}

// meshState reduces the mesh engine's descriptive state ("connected 2/2
// peers") to a label value.
func meshState(s string) string {
	switch {
	case strings.HasPrefix(s, "waiting"):
		return "waiting"
	case strings.HasPrefix(s, "connecting"):
		return "connecting"
	case strings.HasPrefix(s, "connected"):
		return "connected"
	}
	return s
}

func bounded(v string, known []string) string {
	if slices.Contains(known, v) {
		return v
	}
	return "other"
}
