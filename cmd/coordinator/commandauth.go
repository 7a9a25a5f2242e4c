package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/calls"
)

// roomAuth is what a room's state says about who may run commands: its
// m.room.power_levels and its m.room.create (the creators, who outrank
// everyone from room version 12, and hold 100 in a room with no power
// levels).
type roomAuth struct {
	havePower  bool
	power      json.RawMessage // nil: the room has no m.room.power_levels
	haveCreate bool
	creator    id.UserID
	version    id.RoomVersion
	additional []id.UserID
}

// complete reports whether both events are known.
func (a *roomAuth) complete() bool { return a != nil && a.havePower && a.haveCreate }

// note takes a state event of ours into a; it reports false for others.
func (a *roomAuth) note(evt *event.Event) bool {
	if evt == nil || evt.StateKey == nil || *evt.StateKey != "" {
		return false
	}
	switch evt.Type {
	case event.StatePowerLevels:
		a.havePower, a.power = true, json.RawMessage(evt.Content.VeryRaw)
		if a.power == nil {
			a.power = json.RawMessage("{}") // an emptied event: levels all default
		}
	case event.StateCreate:
		var c struct {
			Version    id.RoomVersion `json:"room_version"`
			Additional []id.UserID    `json:"additional_creators"`
		}
		// Unreadable content leaves no creators: fewer permitted, never more.
		_ = json.Unmarshal(evt.Content.VeryRaw, &c)
		if c.Version == "" {
			c.Version = id.RoomV1 // the spec's default
		}
		a.haveCreate, a.creator, a.version, a.additional = true, evt.Sender, c.Version, c.Additional
	default:
		return false
	}
	return true
}

// levels is the room's power levels as Permitted reads them.
func (a *roomAuth) levels() (calls.PowerLevels, error) {
	var pl calls.PowerLevels
	if a.power == nil {
		// No power levels event: by the spec the creator has 100.
		pl.Users = map[id.UserID]int64{a.creator: 100}
	} else {
		var err error
		if pl, err = calls.ParsePowerLevels(a.power); err != nil {
			return calls.PowerLevels{}, err
		}
	}
	if a.version.PrivilegedRoomCreators() {
		pl.Creators = append([]id.UserID{a.creator}, a.additional...)
	}
	return pl, nil
}

// errRoomStateUnknown: the room's power levels could not be learned, so
// only the open commands are answered.
var errRoomStateUnknown = errors.New("the room's power levels are unknown")

// fetchRoomAuth reads room's power levels and create event from the
// homeserver (when the sync did not bring them, or may have lost them).
func fetchRoomAuth(ctx context.Context, cli *mautrix.Client, room id.RoomID) (*roomAuth, error) {
	if cli == nil {
		return nil, fmt.Errorf("%w: the bot has not logged in yet", errRoomStateUnknown)
	}
	a := &roomAuth{}
	create, err := cli.FullStateEvent(ctx, room, event.StateCreate, "")
	if err != nil || create == nil || create.Sender == "" {
		return nil, fmt.Errorf("%w: m.room.create: %v", errRoomStateUnknown, err)
	}
	create.StateKey = new(string)
	create.Type = event.StateCreate
	a.note(create)
	var raw json.RawMessage
	err = cli.StateEvent(ctx, room, event.StatePowerLevels, "", &raw)
	switch {
	case errors.Is(err, mautrix.MNotFound):
		a.havePower = true
	case err != nil:
		return nil, fmt.Errorf("%w: m.room.power_levels: %w", errRoomStateUnknown, err)
	default:
		a.havePower, a.power = true, raw
	}
	return a, nil
}
