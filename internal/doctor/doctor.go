// Package doctor checks a Matrix call deployment from outside, the way a
// client walks it: the server's .well-known and its rtc_foci, the
// homeserver's versions and MSC4143 rtc/transports, the livekit_service_url
// (health, CORS as a browser asks, the Matrix errors a proxy would mangle),
// LiveKit's API and webhooks, delayed events (MSC4140), TURN, and with the
// coordinator's configuration its bot and data directory. Each check is a
// Step with what was found and, when it is not ok, how to fix it.
package doctor

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// Status is a step's outcome.
type Status string

// Outcomes of a step. Only StatusFail makes the report fail.
const (
	StatusOK      Status = "ok"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
	StatusSkipped Status = "skipped"
)

// Step is one check: Name is a stable identifier (see the README), Found
// what was seen, Fix (warn and fail only) what to change.
type Step struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Found  string `json:"found"`
	Fix    string `json:"fix,omitempty"`
}

// Report is the whole run.
type Report struct {
	ServerName string `json:"server_name"`
	Base       string `json:"base"`
	OK         bool   `json:"ok"` // no step failed
	Steps      []Step `json:"steps"`
}

// LiveKitAPI is the part of LiveKit's server API the doctor uses;
// lksdk's RoomServiceClient satisfies it.
type LiveKitAPI interface {
	ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error)
	CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error)
	DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error)
}

// Config says what to check.
type Config struct {
	ServerName string
	// Base replaces https://ServerName as where .well-known is fetched.
	Base string
	// Timeout bounds every HTTP call (default 10 s).
	Timeout time.Duration
	// Deployment is the coordinator's configuration; nil checks only what
	// anyone can see from outside.
	Deployment *Deployment
	// Transport, if set, carries every request (tests); default: a
	// transport of our own with dial, TLS and header timeouts.
	Transport http.RoundTripper
}

// Deployment is what the coordinator's configuration tells the doctor.
type Deployment struct {
	HomeserverURL string // matrix.homeserver_url; "" without the bot
	BotUserID     string
	// AccessToken is the bot's token: the session stored in the data
	// directory, else the configured one; zero when neither exists (the
	// doctor never logs in with a password: that would make a device).
	AccessToken secret.Value
	TokenSource string // where AccessToken came from, for the report
	// NoTokenWhy says why there is no token ("" when there is one).
	NoTokenWhy string
	DataDir    string
	ServiceURL string // livekit.service_url, if set

	LiveKit    LiveKitAPI // nil: LiveKit is not configured
	LiveKitAPI string     // the URL LiveKit's API is called on
	LiveKitKey string
	// Delays are the delayed-leave delays our configuration uses, by the
	// key that sets them; the homeserver's maximum must allow each.
	Delays map[string]time.Duration
	// Secrets never appear in the report (a last guard: no step prints
	// them on purpose).
	Secrets []secret.Value
}

// ErrConfig means the Config cannot be used.
var ErrConfig = errors.New("doctor: bad configuration")

// Doctor runs the checks once.
type Doctor struct {
	cfg    Config
	hc     *httpClient
	report Report
	// What earlier steps learned, for later ones.
	wk         *WellKnown
	hsURL      string // the homeserver base URL in use ("" unknown)
	versions   *versions
	transports []Focus
	transErr   string
	service    string // the service URL being checked ("" none)
	switchbd   *healthDetail
	serviceOK  bool
	botOK      bool
}

// New checks the configuration; it starts nothing.
func New(cfg Config) (*Doctor, error) {
	if cfg.ServerName == "" || strings.ContainsAny(cfg.ServerName, "/?#@ ") {
		return nil, errors.Join(ErrConfig, errors.New("a server name (example.org) is required"))
	}
	if cfg.Base == "" {
		cfg.Base = "https://" + cfg.ServerName
	}
	cfg.Base = strings.TrimRight(cfg.Base, "/")
	if _, err := checkURL(cfg.Base); err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Doctor{cfg: cfg, hc: newHTTPClient(cfg.Timeout, cfg.Transport)}, nil
}

// Run walks the deployment and returns the report. It returns when every
// request it made has ended.
func (d *Doctor) Run(ctx context.Context) *Report {
	defer d.hc.close()
	d.report = Report{ServerName: d.cfg.ServerName, Base: d.cfg.Base}
	d.checkWellKnown(ctx)
	d.checkHomeserver(ctx)
	d.checkFoci()
	d.checkService(ctx)
	d.checkLiveKit(ctx)
	d.checkDelayedEvents(ctx)
	d.checkTURN(ctx)
	d.checkBot(ctx)
	d.checkDataDir()
	d.report.OK = true
	for i := range d.report.Steps {
		s := &d.report.Steps[i]
		s.Found, s.Fix = d.redact(s.Found), d.redact(s.Fix)
		if s.Status == StatusFail {
			d.report.OK = false
		}
	}
	r := d.report
	return &r
}

func (d *Doctor) add(name string, st Status, found, fix string) {
	if st == StatusOK || st == StatusSkipped {
		fix = ""
	}
	d.report.Steps = append(d.report.Steps, Step{Name: name, Status: st, Found: found, Fix: fix})
}

func (d *Doctor) skip(name, why string) { d.add(name, StatusSkipped, why, "") }

// redact removes every configured secret from s.
func (d *Doctor) redact(s string) string {
	if d.cfg.Deployment == nil {
		return s
	}
	for _, v := range d.cfg.Deployment.Secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v.Reveal(), "[redacted]")
		}
	}
	return s
}

// token is the bot's access token, or "" when there is none.
func (d *Doctor) token() secret.Value {
	if d.cfg.Deployment == nil {
		return ""
	}
	return d.cfg.Deployment.AccessToken
}
