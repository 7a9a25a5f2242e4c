package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/doctor"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// errDoctorFailed means a doctor step failed; the report said which.
var errDoctorFailed = errors.New("doctor: a check failed (see the report)")

const doctorUsage = `usage: coordinator doctor [--config FILE] [--json] [--base URL] [--timeout D] SERVER_NAME

Checks the deployment of SERVER_NAME as a client walks it and says, per step, what it found and how to fix it.
With --config (or SWITCHBOARD_CONFIG) it also checks LiveKit's key and webhooks, delayed events' maximum, TURN,
the bot's session, sync and keys, and the data dir. Exit status 0 when no step failed (warnings allowed).
`

func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, doctorUsage); fs.PrintDefaults() }
	path := fs.String("config", "", "the coordinator's configuration file (checks the bot, LiveKit and data dir too)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	base := fs.String("base", "", "fetch .well-known from this URL instead of https://SERVER_NAME (e.g. http://127.0.0.1:8008)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each HTTP call")
	// Flags may come before or after the server name.
	var names []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		names, rest = append(names, fs.Arg(0)), fs.Args()[1:]
	}
	dcfg := doctor.Config{Base: *base, Timeout: *timeout}
	if p := configPath(*path, getenv); p != "" {
		cfg, _, err := loadConfig(p, getenv)
		if err != nil {
			return err
		}
		dcfg.ServerName = cfg.Matrix.ServerName
		dcfg.Deployment = doctorDeployment(ctx, cfg)
	}
	switch {
	case len(names) == 1:
		dcfg.ServerName = names[0]
	case len(names) > 1 || dcfg.ServerName == "":
		fmt.Fprint(stderr, doctorUsage)
		return errUsage
	}
	d, err := doctor.New(dcfg)
	if err != nil {
		return err
	}
	r := d.Run(ctx)
	if *asJSON {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if !r.OK {
		return errDoctorFailed
	}
	return nil
}

// doctorDeployment is what the doctor learns from the configuration. The
// bot's token is the session the coordinator stored in data_dir, else the
// configured one: never a password login, which would make a new device.
func doctorDeployment(ctx context.Context, cfg *Config) *doctor.Deployment {
	dep := &doctor.Deployment{
		DataDir: cfg.DataDir, ServiceURL: cfg.LiveKit.ServiceURL,
		Secrets: []secret.Value{cfg.LiveKit.Secret, cfg.Matrix.Bot.Password, cfg.Matrix.Bot.AccessToken,
			cfg.Admin.Token, cfg.Matrix.RegistrationSharedSecret},
	}
	if cfg.LiveKit.URL != "" {
		dep.LiveKit, dep.LiveKitKey = roomService(cfg), cfg.LiveKit.Key
		dep.LiveKitAPI = cfg.LiveKit.APIURL
		if dep.LiveKitAPI == "" {
			dep.LiveKitAPI = cfg.LiveKit.URL
		}
	}
	if !cfg.botEnabled() {
		return dep
	}
	dep.HomeserverURL, dep.BotUserID = cfg.Matrix.HomeserverURL, cfg.Matrix.Bot.UserID
	dep.Delays = map[string]time.Duration{
		"calls.famedly_leave_delay": cfg.Calls.FamedlyLeaveDelay, "calls.matrixrtc_leave_delay": cfg.Calls.RTCLeaveDelay,
	}
	sess, err := matrixbot.ReadSession(ctx, cfg.DataDir)
	switch {
	case err == nil && string(sess.UserID) == cfg.Matrix.Bot.UserID:
		dep.AccessToken, dep.TokenSource = sess.AccessToken, "session stored in data_dir"
		dep.Secrets = append(dep.Secrets, sess.AccessToken)
	case !cfg.Matrix.Bot.AccessToken.IsZero():
		dep.AccessToken, dep.TokenSource = cfg.Matrix.Bot.AccessToken, "configured matrix.bot.access_token"
	case err != nil:
		dep.NoTokenWhy = err.Error()
	default:
		dep.NoTokenWhy = "the stored session is of " + string(sess.UserID)
	}
	return dep
}
