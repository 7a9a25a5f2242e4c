package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/mesh"
)

// meshRoute is the router's route of the mesh engine: every to-device
// event (the engine takes com.famedly.call.member.* and ignores the
// rest). Block: signalling is lossless (an invite or answer lost fails
// the call); the engine takes events without waiting on the network.
func meshRoute() matrixbot.Route {
	return matrixbot.Route{Name: "mesh_signals", Kinds: []matrixbot.Kind{matrixbot.KindToDevice},
		Overflow: matrixbot.Block}
}

// meshTransport sends the engine's call events through the bot:
// Olm-encrypted to the one device in encrypted rooms, plain otherwise.
type meshTransport struct{ bot *matrixbot.Bot }

func (t meshTransport) SendCallEvent(ctx context.Context, room id.RoomID, user id.UserID, device id.DeviceID,
	eventType string, content json.RawMessage) error {
	to := map[id.UserID][]id.DeviceID{user: {device}}
	typ := event.Type{Type: eventType, Class: event.ToDeviceEventType}
	if t.bot.RoomEncrypted(room) {
		return t.bot.SendEncryptedToDevice(ctx, typ, to, content)
	}
	return t.bot.SendToDevice(ctx, typ, to, content)
}

func (t meshTransport) RoomEncrypted(room id.RoomID) bool { return t.bot.RoomEncrypted(room) }

// newMeshEngine builds the mesh engine over the bot's parts and adds its
// route to the router (before it runs); the returned run feeds it the
// route's events.
func newMeshEngine(logger *slog.Logger, bp *botParts, ice func() mesh.ICEConfig) (*mesh.Engine, func(context.Context) error, error) {
	in, err := bp.router.Add(meshRoute())
	if err != nil {
		return nil, nil, err
	}
	eng := mesh.NewEngine(mesh.EngineConfig{Self: bp.bot.Self, ICE: ice, Metrics: bp.metrics.mesh}, logger.With("component", "mesh"),
		bp.tracker, meshTransport{bp.bot})
	feed := func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev, ok := <-in:
				if !ok {
					return nil
				}
				if ev.Evt == nil {
					continue
				}
				eng.Receive(mesh.ToDevice{Sender: ev.Sender, SenderDevice: ev.SenderDevice, Encrypted: ev.Encrypted,
					Type: ev.Evt.Type.Type, Content: ev.Evt.Content.VeryRaw})
			}
		}
	}
	return eng, feed, nil
}

// meshAdmin serves GET /admin/v1/mesh: per mesh call our session, its
// peers with their state and tracks (frames received) and the running
// features; and the 1:1 calls to the bot.
func meshAdmin(eng *mesh.Engine, direct *directView) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpserve.WriteJSON(w, http.StatusOK, struct {
			Calls  []mesh.CallSnapshot `json:"calls"`
			Direct directSection       `json:"direct"`
		}{eng.Calls(), direct.section()})
	})
}

// engineCalls lists the calls of both engines for the recordings view,
// which reads only their rooms and feature counters: a mesh call's
// recording is listed with its recorder's state as a LiveKit call's is.
type engineCalls struct {
	livekit *lklive.Engine
	mesh    *mesh.Engine
}

func (e engineCalls) Calls() []lklive.CallSnapshot {
	out := e.livekit.Calls()
	for _, c := range e.mesh.Calls() {
		out = append(out, lklive.CallSnapshot{Room: c.Room, CallID: c.CallID, Features: c.Features,
			FeatureStats: c.FeatureStats})
	}
	return out
}
