package delegation

import (
	"testing"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func TestEventFromWebhook(t *testing.T) {
	ev := func(name string, reason livekit.DisconnectReason) *livekit.WebhookEvent {
		return &livekit.WebhookEvent{
			Event:       name,
			Room:        &livekit.Room{Name: "r"},
			Participant: &livekit.ParticipantInfo{Identity: "i", DisconnectReason: reason},
		}
	}
	cases := []struct {
		name string
		in   *livekit.WebhookEvent
		want EventKind // EventUnknown: ignored
	}{
		{"joined", ev("participant_joined", livekit.DisconnectReason_UNKNOWN_REASON), EventJoined},
		{"left by client", ev("participant_left", livekit.DisconnectReason_CLIENT_INITIATED), EventLeftIntentionally},
		{"left, other reason", ev("participant_left", livekit.DisconnectReason_SIGNAL_CLOSE), EventConnectionAborted},
		{"left, no reason", ev("participant_left", livekit.DisconnectReason_UNKNOWN_REASON), EventConnectionAborted},
		{"aborted by client", ev("participant_connection_aborted", livekit.DisconnectReason_CLIENT_INITIATED), EventLeftIntentionally},
		{"aborted", ev("participant_connection_aborted", livekit.DisconnectReason_CONNECTION_TIMEOUT), EventConnectionAborted},
		{"room started", ev("room_started", 0), EventUnknown},
		{"room finished", ev("room_finished", 0), EventUnknown},
		{"track published", ev("track_published", 0), EventUnknown},
		{"empty", &livekit.WebhookEvent{}, EventUnknown},
		{"nil", nil, EventUnknown},
		{"joined without participant", &livekit.WebhookEvent{Event: "participant_joined", Room: &livekit.Room{Name: "r"}}, EventUnknown},
		{"joined without room", &livekit.WebhookEvent{Event: "participant_joined", Participant: &livekit.ParticipantInfo{Identity: "i"}}, EventUnknown},
	}
	for _, tc := range cases {
		got, ok := EventFromWebhook(tc.in)
		if ok != (tc.want != EventUnknown) || got.Kind != tc.want {
			t.Errorf("%s: got %+v, %v; want kind %s", tc.name, got, ok, tc.want)
			continue
		}
		if ok && (got.Room != "r" || got.Identity != "i") {
			t.Errorf("%s: routed to %q/%q", tc.name, got.Room, got.Identity)
		}
	}
}

var _ Participants = (*lksdk.RoomServiceClient)(nil)
