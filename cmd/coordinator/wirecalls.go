package main

import (
	"log/slog"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/internal/sfuhealth"
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

// newSupervisor builds the call supervisor over the bot's parts; engines
// are asked in order.
func newSupervisor(cfg *Config, logger *slog.Logger, p *botParts, self calls.Self, engines ...calls.Engine) *calls.Supervisor {
	return calls.New(logger.With("component", "calls"), supervisorConfig(cfg), p.tracker, p.presence,
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
