package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/internal/sfuhealth"
	"github.com/switchboard-rtc/switchboard/internal/statuspage"
	"github.com/switchboard-rtc/switchboard/jwtservice/delegation"
	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/mesh"
)

// Status page bounds: the whole gathering, the homeserver lookups of room
// and display names within it, and how many recordings are listed.
const (
	statusGatherTimeout = 3 * time.Second
	statusNamesTimeout  = time.Second
	statusRecordings    = 20
)

// statusPage builds the status page (GET /admin/) from the components that
// own the data, the same ones the JSON admin views read. serve fills the
// parts as it makes them; any may be nil (no bot, no enforcement), and the
// page then says so. Its only state of its own is the names cache.
type statusPage struct {
	started  time.Time
	cfg      *Config
	sfu      *sfuhealth.Monitor
	bp       *botParts
	sup      *calls.Supervisor
	lk       *lklive.Engine
	mesh     *mesh.Engine
	enforcer *lklive.Enforcer
	delayed  *delegation.Manager
	names    *nameCache
	render   *statuspage.Renderer
}

func newStatusPage(cfg *Config, sfu *sfuhealth.Monitor) *statusPage {
	return &statusPage{started: time.Now(), cfg: cfg, sfu: sfu, names: newNameCache()}
}

// handler is the admin listener's whole handler: the page at GET /admin/
// and every JSON view of admin behind guard (bearer token or login
// cookie), and the login form and logout, which need no credentials.
func (p *statusPage) handler(guard *httpserve.BearerAuth, admin *http.ServeMux) (http.Handler, error) {
	r, err := statuspage.New()
	if err != nil {
		return nil, err
	}
	p.render = r
	guard.WithSessions("/admin/login", "/admin/")
	admin.Handle("GET /admin/{$}", p.render.Handler(p.view))
	mux := http.NewServeMux()
	mux.Handle("/", guard.Wrap(admin))
	mux.Handle("GET /admin/login", p.render.LoginForm())
	mux.Handle("POST /admin/login", guard.Login("/admin/", p.render.LoginFailed))
	mux.Handle("POST /admin/logout", guard.Logout())
	return mux, nil
}

// view gathers one rendering's data, within statusGatherTimeout: what does
// not answer in time is shown as unavailable.
func (p *statusPage) view(ctx context.Context) statuspage.View {
	ctx, cancel := context.WithTimeout(ctx, statusGatherTimeout)
	defer cancel()
	v := statuspage.View{Now: time.Now(), Version: versionString(), Started: p.started}
	v.Health = p.health()
	p.gatherCalls(ctx, &v)
	p.gatherDirect(&v)
	p.gatherRecordings(ctx, &v)
	p.gatherEnforcement(&v)
	p.gatherDelegations(ctx, &v)
	return v
}

func (p *statusPage) health() []statuspage.Health {
	st := p.sfu.Status()
	sfu := statuspage.Health{Name: "LiveKit", OK: st.State == sfuhealth.StateHealthy, State: string(st.State), Detail: st.LastError}
	if sfu.Detail == "" && !st.LastCheck.IsZero() {
		sfu.Detail = "checked " + time.Since(st.LastCheck).Round(time.Second).String() + " ago"
	}
	out := []statuspage.Health{sfu}
	if p.bp == nil {
		return append(out, statuspage.Health{Name: "Matrix bot", OK: true, State: "not configured"})
	}
	user, device := p.bp.bot.Self()
	hs := statuspage.Health{Name: "homeserver sync", OK: p.bp.feed.Current(), State: "current",
		Detail: fmt.Sprintf("%s, bot %s (device %s)", p.cfg.Matrix.HomeserverURL, user, device)}
	if !hs.OK {
		hs.State = "behind or failing"
	}
	out = append(out, hs)
	var engines []calls.Engine
	if p.lk != nil && p.mesh != nil {
		engines = []calls.Engine{p.lk, p.mesh}
	}
	for _, e := range engines {
		ok, reason := e.Health()
		h := statuspage.Health{Name: e.Name() + " engine", OK: ok, State: "ok", Detail: reason}
		if !ok {
			h.State = "unavailable"
		}
		out = append(out, h)
	}
	enf := statuspage.Health{Name: "enforcement", OK: true, State: "on"}
	if p.enforcer == nil {
		enf.State = "off"
	}
	return append(out, enf)
}

func (p *statusPage) gatherDirect(v *statuspage.View) {
	if p.bp == nil {
		v.DirectUnavailable = "needs the Matrix bot"
		return
	}
	s := p.bp.directView.section()
	switch {
	case s.Mode == mesh.DirectIgnore.String():
		v.DirectUnavailable = "calls.direct is ignore: 1:1 calls to the bot ring out"
		return
	case !s.Running:
		v.DirectUnavailable = "not running yet: the bot has not logged in"
		return
	}
	v.DirectMode, v.DirectActive, v.DirectMax = s.Mode, s.Active, s.Max
	for _, c := range s.Calls {
		v.Direct = append(v.Direct, statuspage.DirectCall{Caller: c.Caller, Room: c.Room, Device: c.CallerDevice,
			Since: c.Invited, State: c.State, EndsBy: c.EndsBy})
	}
}

func (p *statusPage) gatherRecordings(ctx context.Context, v *statuspage.View) {
	if p.bp == nil {
		v.RecordingsUnavailable = "needs the Matrix bot"
		return
	}
	dir := p.cfg.Calls.RecordDir
	var ours callLister
	if p.lk != nil && p.mesh != nil {
		ours = engineCalls{p.lk, p.mesh}
	}
	// A folder on a failing disk must not hold the page: the listing runs
	// on its own and is waited for only as long as ctx allows.
	done := make(chan recordingsView, 1)
	go func() { done <- listRecordings(dir, statusRecordings, ourRecordings(dir, ours)) }()
	var list recordingsView
	select {
	case list = <-done:
	case <-ctx.Done():
		v.RecordingsUnavailable = "the recordings folder did not answer in time"
		return
	}
	if list.Error != "" {
		v.RecordingsUnavailable = list.Error
		return
	}
	v.RecordingsTruncated = list.Truncated
	for _, e := range list.Recordings {
		v.Recordings = append(v.Recordings, statusRecording(filepath.Join(dir, e.Dir), e, v.Now))
	}
}

// statusRecording is one recording's line: its length so far or in all,
// and its files' size.
func statusRecording(path string, e recordingEntry, now time.Time) statuspage.Recording {
	r := statuspage.Recording{Dir: e.Dir, State: e.State, Note: e.StopReason}
	if e.Error != "" {
		r.Note = e.Error
	}
	m := e.Manifest
	if m == nil {
		return r
	}
	r.Room, r.Started = m.Room, m.Started
	switch end := m.Ended; {
	case end != nil:
		r.Duration = end.Sub(m.Started)
	case e.Ended != nil:
		r.Duration = e.Ended.Sub(m.Started)
	case e.State == recActive:
		r.Duration = now.Sub(m.Started)
	}
	for _, s := range m.Segments {
		if fi, err := os.Stat(filepath.Join(path, filepath.Base(s.File))); err == nil {
			r.Bytes += fi.Size()
		}
	}
	return r
}

func (p *statusPage) gatherEnforcement(v *statuspage.View) {
	if p.enforcer == nil {
		v.EnforcementUnavailable = "enforcement is off (livekit.enforce_membership, or no Matrix bot)"
		return
	}
	for _, a := range p.enforcer.Recent() {
		v.Enforcement = append(v.Enforcement, statuspage.Action{At: a.At, Kind: a.Kind, LiveKitRoom: a.LiveKitRoom,
			Identity: a.Identity, Reason: a.Reason})
	}
}

func (p *statusPage) gatherDelegations(ctx context.Context, v *statuspage.View) {
	if p.delayed == nil {
		v.DelegationsUnavailable = "not running"
		return
	}
	rep, err := p.delayed.Report(ctx)
	if err != nil {
		v.DelegationsUnavailable = "did not answer: " + err.Error()
		return
	}
	for _, j := range rep.Jobs {
		v.Delegations = append(v.Delegations, statuspage.Delegation{UserID: j.UserID, DeviceID: j.DeviceID,
			LiveKitRoom: j.Room, State: j.State, Delay: time.Duration(j.DelayMS) * time.Millisecond,
			AddedAt: j.AddedAt, LastRestart: j.LastRestart})
	}
	for _, s := range rep.Sent {
		v.DelegationsSent = append(v.DelegationsSent, statuspage.DelegationSent{At: s.At, UserID: s.UserID,
			DeviceID: s.DeviceID, LiveKitRoom: s.Room, Reason: s.Reason, Result: s.Result})
	}
	slices.SortStableFunc(v.DelegationsSent, func(a, b statuspage.DelegationSent) int { return b.At.Compare(a.At) })
}
