package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/jwtservice"
	"github.com/switchboard-rtc/switchboard/membership"
	"github.com/switchboard-rtc/switchboard/mesh"
)

// botParts are the Matrix side: the bot's client, the membership tracker and
// the feed between them. Each has a Run loop.
type botParts struct {
	// router hands the bot's events to the feed and the exchange; more
	// routes may be added until it runs.
	router  *matrixbot.Router
	feedIn  <-chan matrixbot.Event
	keysIn  <-chan matrixbot.Event
	bot     *matrixbot.Bot
	tracker *membership.Tracker
	roster  *membership.Roster
	invites *membership.InviteLog
	// overrides keeps the room commands' overrides across restarts.
	overrides *calls.SQLOverrides
	feed      *membership.Feed
	presence  *membership.Presence
	keys      *e2ee.KeyStore
	exchange  *e2ee.Exchange
	// ice is the ICE source of mesh and 1:1 calls; direct answers 1:1
	// calls to the bot (nil: calls.direct is ignore).
	ice        *mesh.ICESource
	direct     func(context.Context) error
	directView *directView
	// metrics are the engines' and the enforcer's too.
	metrics *metricsParts
}

// newBotParts builds the Matrix side; nothing runs yet. extra routes are
// added to the event router after the feed's and the exchange's, and nobody
// reads them (tests: a consumer that stalls).
func newBotParts(ctx context.Context, cfg *Config, logger *slog.Logger, mp *metricsParts, extra ...matrixbot.Route) (*botParts, error) {
	// Both Block with the default bound (matrixbot.DefaultQueue, 256
	// events): lossless, since a membership or key event lost would go
	// unseen until the next restart; while one is full the router, and so
	// the bot's sync, waits for it. Their Adds cannot fail (a new router,
	// valid routes).
	router := matrixbot.NewRouter(logger)
	feedIn, _ := router.Add(matrixbot.Route{Name: "membership_feed", Overflow: matrixbot.Block})
	keysIn, _ := router.Add(matrixbot.Route{Name: "key_exchange", Kinds: []matrixbot.Kind{matrixbot.KindToDevice},
		Overflow: matrixbot.Block})
	for _, r := range extra {
		if _, err := router.Add(r); err != nil {
			return nil, err
		}
	}
	b := cfg.Matrix.Bot
	var policy matrixbot.InvitePolicy
	for _, who := range b.AcceptInvites {
		switch {
		case who == "*":
			policy.AcceptAll = true
		case strings.HasPrefix(who, "@"):
			policy.AllowUsers = append(policy.AllowUsers, id.UserID(who))
		default:
			policy.AllowServers = append(policy.AllowServers, who)
		}
	}
	bot, err := matrixbot.New(logger, matrixbot.Config{
		HomeserverURL: cfg.Matrix.HomeserverURL, UserID: id.UserID(b.UserID),
		Password: b.Password, AccessToken: b.AccessToken, DeviceID: id.DeviceID(b.DeviceID),
		DataDir: cfg.DataDir, Invites: policy,
	})
	if err != nil {
		return nil, err
	}
	ice := newICESource(cfg, bot, logger)
	direct, directView, err := newDirectCalls(cfg, logger, router, bot, ice, mp.mesh)
	if err != nil {
		_ = bot.Close()
		return nil, err
	}
	invites, err := membership.OpenInviteLog(ctx, cfg.DataDir)
	if err != nil {
		_ = bot.Close()
		return nil, err
	}
	overrides, err := calls.OpenOverrides(ctx, cfg.DataDir)
	if err != nil {
		_ = invites.Close()
		_ = bot.Close()
		return nil, err
	}
	mlog := logger.With("component", "membership")
	tracker := membership.NewTracker(mlog, nil)
	roster := membership.NewRoster()
	feed := membership.NewFeed(mlog, tracker, roster, invites)
	pcfg := presenceConfig(cfg)
	pcfg.Metrics = mp.seats
	presence := membership.NewPresence(logger.With("component", "presence"), pcfg,
		membership.NewClientWriter(bot.Client), tracker, roomFacts{roster, invites}, feed.Ready(), nil)
	keys := e2ee.NewKeyStore(e2ee.KeyStoreOptions{})
	exchange := newExchange(cfg, logger, bot, tracker, keys, mp.e2ee)
	return &botParts{bot: bot, tracker: tracker, roster: roster, invites: invites, overrides: overrides, feed: feed,
		presence: presence, router: router, feedIn: feedIn, keysIn: keysIn, keys: keys, exchange: exchange, ice: ice,
		direct: direct, directView: directView, metrics: mp}, nil
}

// presenceConfig turns the calls section into the presence's typed config
// (validated already).
func presenceConfig(cfg *Config) membership.PresenceConfig {
	c := cfg.Calls
	form := map[string]membership.StateKeyForm{
		"user": membership.FamedlyUser, "user_device": membership.FamedlyUserDevice, "device_user": membership.FamedlyDeviceUser,
	}[c.FamedlyStateKey] // auto: FamedlyFormUnknown
	return membership.PresenceConfig{
		FamedlyStateKey: form, FamedlyExpiry: c.FamedlyExpiry, FamedlyRefresh: c.FamedlyRefresh,
		FamedlyLeaveDelay: c.FamedlyLeaveDelay, FamedlyLeaveRestart: c.FamedlyLeaveRestart,
		MatrixRTCExpiry: c.RTCExpiry, MatrixRTCRefresh: c.RTCRefresh,
		MatrixRTCLeaveDelay: c.RTCLeaveDelay, MatrixRTCLeaveRestart: c.RTCLeaveRestart,
		RequestTimeout: cfg.Matrix.RequestTimeout,
	}
}

// roomFacts tells the join policy (and the seat writer) where the bot is
// and was invited.
type roomFacts struct {
	roster  *membership.Roster
	invites *membership.InviteLog
}

func (f roomFacts) InRoom(room id.RoomID) bool  { return f.roster.Knows(room) }
func (f roomFacts) Invited(room id.RoomID) bool { return f.invites.Invited(room) }

// roomAuthorizer gives tokens only to users joined to the call's Matrix
// room, as the bot sees it (matrix.require_room_membership).
type roomAuthorizer struct{ roster *membership.Roster }

var _ jwtservice.Authorizer = roomAuthorizer{}

func (a roomAuthorizer) Authorize(_ context.Context, userID, roomID string) error {
	room := id.RoomID(roomID)
	if !a.roster.Knows(room) {
		return fmt.Errorf("%w: %s", jwtservice.ErrRoomNotServed, roomID)
	}
	if !a.roster.Joined(room, id.UserID(userID)) {
		return fmt.Errorf("%w: %s in %s", jwtservice.ErrNotRoomMember, userID, roomID)
	}
	return nil
}

// runs lists the loops to start.
func (p *botParts) runs() []func(context.Context) error {
	runs := []func(context.Context) error{p.ice.Run}
	if p.direct != nil {
		runs = append(runs, p.direct)
	}
	return append(runs,
		p.bot.Run,
		p.tracker.Run,
		func(ctx context.Context) error { return p.router.Run(ctx, p.bot.Events()) },
		func(ctx context.Context) error { return p.feed.Run(ctx, p.feedIn) },
		func(ctx context.Context) error { return p.exchange.Run(ctx, p.keysIn) },
		p.presence.Run,
	)
}

func (p *botParts) close() {
	_ = p.presence.Close()
	_ = p.exchange.Close()
	_ = p.invites.Close()
	_ = p.overrides.Close()
	_ = p.bot.Close()
}

// newCommands adds the room command reader's route to the bot's router
// (before it runs) and returns the reader's Run; run is the supervisor.
func newCommands(cfg *Config, logger *slog.Logger, p *botParts, run commandRunner) (func(context.Context) error, error) {
	route := commandRoute()
	in, err := p.router.Add(route)
	if err != nil {
		return nil, err
	}
	dropped := func() uint64 {
		for _, s := range p.router.Stats() {
			if s.Name == route.Name {
				return s.Dropped
			}
		}
		return 0
	}
	fetch := func(ctx context.Context, room id.RoomID) (*roomAuth, error) {
		return fetchRoomAuth(ctx, p.bot.Client(), room)
	}
	cr := newCommandReader(logger.With("component", "commands"), cfg.Calls.CommandLevel, p.bot.Self, run, p.bot, fetch, dropped)
	cr.uploads = p.bot // "!call play" in reply to an audio message
	return func(ctx context.Context) error { return cr.Run(ctx, in) }, nil
}
