package main

import (
	"log/slog"

	"maunium.net/go/mautrix/id"

	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/membership"
)

// matrixView is the bot's view of Matrix as enforcement needs it: the
// rooms and their unreadable events from the roster, whether the sync is
// current from the feed.
type matrixView struct {
	roster *membership.Roster
	feed   *membership.Feed
}

func (v matrixView) Rooms() []id.RoomID            { return v.roster.Rooms() }
func (v matrixView) Unreadable(room id.RoomID) int { return v.roster.Unreadable(room) }
func (v matrixView) Current() bool                 { return v.feed.Current() }

// newEnforcer builds enforcement on LiveKit from the bot's parts; names is
// shared with the JWT service, which records every room it issues tokens
// for. forgetRoom is called with each room it deletes; observe is told who
// was in each room it listed.
func newEnforcer(cfg *Config, logger *slog.Logger, rs lklive.RoomService, bp *botParts, names *lklive.RoomNames,
	forgetRoom func(string), observe lklive.RoomObserver) *lklive.Enforcer {
	return lklive.NewEnforcer(logger.With("component", "enforcement"), lklive.EnforcerConfig{
		Grace: cfg.LiveKit.EnforceGrace, Interval: cfg.LiveKit.EnforceInterval,
		RequestTimeout: cfg.Matrix.RequestTimeout, OnRoomDeleted: forgetRoom,
		Names: names, NameRetention: cfg.LiveKit.TokenTTL, Observer: observe, Metrics: bp.metrics.livekit,
	}, rs, bp.tracker, matrixView{bp.roster, bp.feed})
}
