package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/internal/lktoken"
	"github.com/switchboard-rtc/switchboard/internal/sfuhealth"
	"github.com/switchboard-rtc/switchboard/jwtservice/openid"
	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// supervisorConfig turns the calls section into the supervisor's typed
// config (validated already).
func supervisorConfig(cfg *Config) calls.Config {
	c := cfg.Calls
	policy := calls.JoinPolicy{Rooms: map[id.RoomID]calls.JoinMode{}}
	policy.Default, _ = calls.ParseJoinMode(c.Join)
	for room, mode := range c.Rooms {
		policy.Rooms[id.RoomID(room)], _ = calls.ParseJoinMode(mode)
	}
	return calls.Config{Policy: policy, MaxSeatsPerRoom: c.MaxSeatsPerRoom, MaxSeats: c.MaxSeats}
}

// newSupervisor builds the call supervisor over the bot's parts, owning
// each call's media features (their recordings told to the room through
// notes); engines are asked in order.
func newSupervisor(cfg *Config, logger *slog.Logger, p *botParts, self calls.Self, notes *roomNotifier,
	engines ...calls.Engine) *calls.Supervisor {
	sc := supervisorConfig(cfg)
	sc.Features = featurePlan(cfg, recordNotices{logger.With("component", "record"), notes.Notify})
	sounds := cfg.sounds()
	sounds.logger = logger.With("component", "sounds")
	sc.Sound = sounds.playSound
	sc.Store = p.overrides
	return calls.New(logger.With("component", "calls"), sc, p.tracker, p.presence,
		roomFacts{p.roster, p.invites}, self, p.feed.Ready(), engines...)
}

// engineHealth is the LiveKit engine's health: the SFU's. Unknown (no
// answer yet) is not unhealthy.
func engineHealth(m *sfuhealth.Monitor) func() (bool, string) {
	return func() (bool, string) {
		if st := m.Status(); st.State == sfuhealth.StateUnreachable {
			return false, "LiveKit is unreachable: " + st.LastError
		}
		return true, ""
	}
}

var _ membership.BotRooms = roomFacts{}

// newLiveKitEngine builds the LiveKit engine: our E2EE media participant in
// every LiveKit-focus call the supervisor hands it, with the media features
// the supervisor sets. Its tokens are minted here for calls on our own service URL and
// fetched from any other focus as a client does, through the same SSRF
// rules as the OpenID checks (a focus any room member may name).
// ensureRoom makes a LiveKit room exist (the JWT service's, bound late).
func newLiveKitEngine(cfg *Config, logger *slog.Logger, bp *botParts, sfu *sfuhealth.Monitor,
	ensureRoom func(ctx context.Context, room string) error) (*lklive.Engine, error) {
	self := bp.bot.Self
	mint, err := lktoken.New(cfg.LiveKit.Key, cfg.LiveKit.Secret, cfg.LiveKit.TokenTTL)
	if err != nil {
		return nil, fmt.Errorf("livekit engine: %w", err)
	}
	ocfg, err := openIDConfig(cfg)
	if err != nil {
		return nil, err
	}
	tokens := &lklive.FocusTokens{
		Self: self, Mint: mint, LiveKitURL: cfg.LiveKit.URL, HTTP: openid.GuardedClient(ocfg), EnsureRoom: ensureRoom,
		OpenID: func(ctx context.Context) (lklive.OpenIDToken, error) {
			cli := bp.bot.Client()
			if cli == nil {
				return lklive.OpenIDToken{}, errors.New("the bot has not logged in yet")
			}
			t, err := cli.RequestOpenIDToken(ctx)
			if err != nil {
				return lklive.OpenIDToken{}, err
			}
			return lklive.OpenIDToken{AccessToken: t.AccessToken, TokenType: t.TokenType,
				MatrixServerName: t.MatrixServerName, ExpiresIn: t.ExpiresIn}, nil
		},
	}
	if cfg.LiveKit.ServiceURL != "" {
		tokens.Own = []string{cfg.LiveKit.ServiceURL}
	}
	if cfg.recordingUsed() {
		// Recordings' folders are made in it, so it must exist first.
		if err := os.MkdirAll(cfg.Calls.RecordDir, 0o750); err != nil {
			return nil, fmt.Errorf("calls.record_dir: %w", err)
		}
	}
	// The supervisor sets each call's features.
	return lklive.New(lklive.EngineConfig{Self: self, Metrics: bp.metrics.livekit}, logger.With("component", "livekit"), tokens, bp.keys,
		engineHealth(sfu)), nil
}

// featurePlan turns calls.features and calls.room_features (validated
// already) into the supervisor's feature plan. record is made per call
// (its folder and manifest name the call); its start and stop are told to
// the room (notes), its early stop logged, and the call goes on
// unrecorded. announce is made per call too: it plays calls.announce once
// as we join (the engine does not start a finished feature again).
func featurePlan(cfg *Config, notes recordNotices) calls.FeaturePlan {
	echoCfg := media.DefaultEchoConfig()
	echoCfg.Delay = cfg.Calls.EchoDelay
	echo := media.NewEcho(echoCfg)
	byRoom := map[id.RoomID][]string{}
	for room, list := range cfg.Calls.RoomFeatures {
		byRoom[id.RoomID(room)] = splitList(list)
	}
	return calls.FeaturePlan{Default: cfg.Calls.Features, Rooms: byRoom,
		Build: func(call membership.CallKey, name string) (media.Factory, error) {
			switch name {
			case calls.FeatureEcho:
				return echo, nil
			case calls.FeatureRecord:
				return media.NewRecorder(notes.recordConfig(cfg, call)), nil
			case calls.FeatureAnnounce:
				// Read when it starts: a file changed since check-config
				// fails that call's announcement (logged), not the call.
				return announceFactory(media.AnnounceConfig{Name: calls.FeatureAnnounce,
					Load: cfg.sounds().dir.Loader(cfg.Calls.Announce), MaxBytes: media.DefaultMaxSoundBytes})
			}
			return nil, fmt.Errorf("%q is not a feature", name)
		}}
}

// announceFactory is media.NewAnnounce as a Factory (never a typed nil).
func announceFactory(cfg media.AnnounceConfig) (media.Factory, error) {
	a, err := media.NewAnnounce(cfg)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// mediaAdmin serves GET /admin/v1/media: per call our participant's state,
// the remote participants with their tracks, frames in and out, decrypt
// failures, our key index and each feature's counters.
func mediaAdmin(eng *lklive.Engine) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpserve.WriteJSON(w, http.StatusOK, struct {
			Calls []lklive.CallSnapshot `json:"calls"`
		}{eng.Calls()})
	})
}
