package jwtservice

import (
	"net/http"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
)

// maxWebhookBytes caps a LiveKit webhook body; real ones are a few KiB.
const maxWebhookBytes = 1 << 20

// WebhookSink receives LiveKit webhook events whose signature checked out.
// Implementations only forward the event to their owner; they must not block.
type WebhookSink interface {
	HandleLiveKitEvent(ev *livekit.WebhookEvent)
}

// handleWebhook verifies that LiveKit signed the request (a JWT from our API
// key carrying the body's SHA-256), then hands the event to every sink.
// lk-jwt-service answers 200 to anything, signed or not; a forged event here
// is refused and logged.
func (s *Service) handleWebhook(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBytes)
	ev, err := webhook.ReceiveWebhookEvent(r, s.hookKeys)
	if err != nil {
		s.logger.Warn("LiveKit webhook refused", "reason", err.Error(), "remote", r.RemoteAddr)
		s.hooks.refuse(s.cfg.Now())
		writeError(w, ErrUnauthorized)
		return
	}
	s.logger.Debug("LiveKit webhook", "event", ev.GetEvent(), "room", ev.GetRoom().GetName(), "participant", ev.GetParticipant().GetIdentity())
	s.hooks.ok(ev.GetRoom().GetName(), s.cfg.Now())
	if ev.GetEvent() == webhook.EventRoomFinished {
		s.rooms.forget(ev.GetRoom().GetName())
	}
	for _, sink := range s.webhooks {
		sink.HandleLiveKitEvent(ev)
	}
	w.WriteHeader(http.StatusOK)
}
