package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/doctor"
	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// TestDoctorDelayedEventsOff: on a real Synapse started without
// max_event_delay_duration (an instance of its own), doctor fails the
// delayed-events step and names the setting. The .well-known is Synapse's
// own (public_baseurl and extra_well_known_client_content, as scripts/testenv
// writes it, and as the make run stack serves it).
func TestDoctorDelayedEventsOff(t *testing.T) {
	env := testenv.StartInstance(t, "doctor-nodelay", "SWB_HS_DELAYED_EVENTS=off")
	bot, pass := env.RegisterAccount(t, "switchboard")
	cli := env.Login(t, bot.Localpart(), pass)
	token := secret.Value(cli.AccessToken)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	y := fmt.Sprintf("livekit: {url: %s, key: %s, secret: %q, full_access_homeservers: [%s]}\n"+
		"matrix: {homeserver_url: %s, server_name: %s, bot: {user_id: %q, access_token: %q}}\ndata_dir: %s\n",
		env.LKURL, env.LKKey, env.LKSecret.Reveal(), env.ServerName, env.HSURL, env.ServerName, bot, token.Reveal(), t.TempDir())
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &doctorStack{env: env, secrets: []secret.Value{pass, token, env.LKSecret, env.SharedSecret}}

	r, _, err := s.runDoctorCmd(t, "--config", cfg, "--base", env.HSURL, env.ServerName)
	if err == nil || r.OK {
		t.Error("doctor passed")
	}
	wantStep(t, r, "well_known", doctor.StatusOK)
	wantStep(t, r, "rtc_foci", doctor.StatusOK, env.Var("SWB_SERVICE_URL"))
	wantStep(t, r, "delayed_events", doctor.StatusFail, "max_event_delay_duration")
	wantStep(t, r, "bot_login", doctor.StatusOK, "configured matrix.bot.access_token")

	// Without the configuration, /versions alone must tell.
	r, _, _ = s.runDoctorCmd(t, "--base", env.HSURL, env.ServerName)
	wantStep(t, r, "delayed_events", doctor.StatusFail, "max_event_delay_duration")
}
