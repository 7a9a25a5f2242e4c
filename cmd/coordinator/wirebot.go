package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/jwtservice"
	"github.com/switchboard-rtc/switchboard/membership"
)

// botParts are the Matrix side: the bot's client, the membership tracker and
// the feed between them. Each has a Run loop.
type botParts struct {
	bot     *matrixbot.Bot
	tracker *membership.Tracker
	roster  *membership.Roster
	feed    *membership.Feed
}

func newBotParts(cfg *Config, logger *slog.Logger) (*botParts, error) {
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
	tracker := membership.NewTracker(logger.With("component", "membership"), nil)
	roster := membership.NewRoster()
	return &botParts{bot: bot, tracker: tracker, roster: roster,
		feed: membership.NewFeed(logger.With("component", "membership"), tracker, roster)}, nil
}

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
	return []func(context.Context) error{
		p.bot.Run,
		p.tracker.Run,
		func(ctx context.Context) error { return p.feed.Run(ctx, p.bot.Events()) },
	}
}

func (p *botParts) close() { _ = p.bot.Close() }
