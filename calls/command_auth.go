package calls

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/id"
)

// DefaultCommandLevel is the power level the state-changing commands
// (join, leave, echo, record, play) need unless configured otherwise: a
// moderator's in the default power levels.
const DefaultCommandLevel = 50

// Bounds on ParsePowerLevels' input.
const (
	// MaxPowerLevelsBytes is a Matrix event's size limit: the content of a
	// real m.room.power_levels event is never larger.
	MaxPowerLevelsBytes = 64 << 10
	// MaxPowerLevel and MinPowerLevel bound a level: the canonical JSON
	// integer range the spec gives power levels.
	MaxPowerLevel = 1<<53 - 1
	MinPowerLevel = -MaxPowerLevel
	// maxUserIDLen is the spec's bound on a user ID.
	maxUserIDLen = 255
)

// ErrBadPowerLevels is wrapped by every ParsePowerLevels error.
var ErrBadPowerLevels = errors.New("calls: unreadable m.room.power_levels")

// PowerLevels is what Permitted needs of a room's power levels.
type PowerLevels struct {
	Users        map[id.UserID]int64 // the "users" map
	UsersDefault int64               // "users_default" (0 when absent)
	// Creators have unlimited power in room versions 12 and later (the
	// m.room.create sender and its additional_creators). The power levels
	// content does not say who they are, so the caller fills this from the
	// create event for those room versions, and leaves it empty otherwise.
	Creators []id.UserID
}

// Level is user's power level in the room.
func (pl PowerLevels) Level(user id.UserID) int64 {
	for _, c := range pl.Creators {
		if c == user {
			return math.MaxInt64
		}
	}
	if l, ok := pl.Users[user]; ok {
		return l
	}
	return pl.UsersDefault
}

// ParsePowerLevels reads the users and users_default of an
// m.room.power_levels content (other keys are ignored, but must be valid
// JSON). A room with no power levels event at all has none to read: by the
// spec its creator then has 100 and everyone else 0, which the caller
// expresses as PowerLevels{Users: {creator: 100}}.
//
// A level is a JSON integer in [MinPowerLevel, MaxPowerLevel]. Room
// versions before 10 let a level be a string, which servers read as a
// number; such rooms still exist, so a string of an optional sign and at
// most 16 ASCII digits is read as that integer. Anything else (a fraction,
// an exponent, null, a string with spaces or other digits, a user key that
// is not a user ID) makes the whole content unreadable: a level we cannot
// read is not the default, so the caller must treat the room as one where
// only the open commands are permitted.
func ParsePowerLevels(raw json.RawMessage) (PowerLevels, error) {
	if len(raw) > MaxPowerLevelsBytes {
		return PowerLevels{}, fmt.Errorf("%w: content is %d bytes, more than %d", ErrBadPowerLevels, len(raw), MaxPowerLevelsBytes)
	}
	var c struct {
		Users        map[string]json.RawMessage `json:"users"`
		UsersDefault json.RawMessage            `json:"users_default"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return PowerLevels{}, fmt.Errorf("%w: %w", ErrBadPowerLevels, err)
	}
	var pl PowerLevels
	if c.UsersDefault != nil {
		l, err := parseLevel(c.UsersDefault)
		if err != nil {
			return PowerLevels{}, fmt.Errorf("%w: users_default: %w", ErrBadPowerLevels, err)
		}
		pl.UsersDefault = l
	}
	if len(c.Users) > 0 {
		pl.Users = make(map[id.UserID]int64, len(c.Users))
	}
	for user, v := range c.Users {
		if len(user) > maxUserIDLen || !strings.HasPrefix(user, "@") || !strings.Contains(user, ":") {
			return PowerLevels{}, fmt.Errorf("%w: users key %.64q is not a user ID", ErrBadPowerLevels, user)
		}
		l, err := parseLevel(v)
		if err != nil {
			return PowerLevels{}, fmt.Errorf("%w: users[%q]: %w", ErrBadPowerLevels, user, err)
		}
		pl.Users[id.UserID(user)] = l
	}
	return pl, nil
}

// parseLevel reads one level: a JSON integer, or (old rooms) a string of
// one.
func parseLevel(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	digits := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &digits); err != nil {
			return 0, err
		}
	}
	if !integerText(digits) {
		return 0, fmt.Errorf("level %.32s is not an integer in range", raw)
	}
	l, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || l < MinPowerLevel || l > MaxPowerLevel {
		return 0, fmt.Errorf("level %.32s is out of range", digits)
	}
	return l, nil
}

// integerText reports whether s is an optional sign and 1 to 16 ASCII
// digits (16 digits hold every level in range).
func integerText(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// RequiredLevels is the per-command requirement Permitted reads: level for
// the state-changing commands; status and help stay open to everyone.
func RequiredLevels(level int) map[Verb]int {
	req := map[Verb]int{}
	for _, v := range verbs {
		if v.changesState() {
			req[v] = level
		}
	}
	return req
}

// Permitted reports whether sender may run cmd in a room with levels.
// required gives the level each verb needs; a state-changing verb missing
// from it needs DefaultCommandLevel, status and help missing from it are
// open. A refusal comes with a polite reason fit to send to the room.
func Permitted(cmd Command, sender id.UserID, levels PowerLevels, required map[Verb]int) (bool, string) {
	need, ok := required[cmd.Verb]
	if !ok {
		switch {
		case cmd.Verb.changesState():
			need = DefaultCommandLevel
		case cmd.Verb == VerbStatus || cmd.Verb == VerbHelp:
			return true, ""
		default:
			return false, "Sorry, that is not a command I know; try " + CommandPrefix + " help."
		}
	}
	have := levels.Level(sender)
	if have >= int64(need) {
		return true, ""
	}
	return false, fmt.Sprintf("Sorry, %s needs power level %d or more in this room, and yours is %d.",
		cmd.String(), need, have)
}
