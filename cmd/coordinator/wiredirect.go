package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/mesh"
)

// directRouteName is the route of the 1:1 call reader.
const directRouteName = "direct_calls"

// newICESource is the one ICE source of mesh and 1:1 calls: the mesh
// section, plus the homeserver's TURN servers when mesh.turn_from_homeserver
// is set.
func newICESource(cfg *Config, bot *matrixbot.Bot, logger *slog.Logger) *mesh.ICESource {
	m := cfg.Mesh
	base := mesh.ICEConfig{PortMin: uint16(m.UDPPortMin), PortMax: uint16(m.UDPPortMax), NAT1To1IPs: m.NAT1To1IPs,
		LoopbackOnly: m.LoopbackOnly}
	if len(m.ICEServers) > 0 {
		base.Servers = []webrtc.ICEServer{{URLs: m.ICEServers, Username: m.TURNUsername, Credential: m.TURNPassword.Reveal()}}
	}
	var fetch func(context.Context) (mesh.TURN, error)
	if m.TURNFromHomeserver {
		fetch = func(ctx context.Context) (mesh.TURN, error) {
			select {
			case <-bot.LoggedIn():
			case <-ctx.Done():
				return mesh.TURN{}, ctx.Err()
			}
			r, err := bot.Client().TurnServer(ctx)
			if err != nil {
				return mesh.TURN{}, fmt.Errorf("voip/turnServer: %w", err)
			}
			return mesh.TURN{URIs: r.URIs, Username: r.Username, Password: r.Password, TTL: time.Duration(r.TTL) * time.Second}, nil
		}
	}
	return mesh.NewICESource(base, fetch, logger.With("component", "ice"))
}

// newDirectCalls adds the 1:1 call reader's route to the router (before it
// runs) and returns its Run, or nil when calls.direct is ignore (nothing
// is read: invites ring out), and the operators' view of its calls.
func newDirectCalls(cfg *Config, logger *slog.Logger, router *matrixbot.Router, bot *matrixbot.Bot, ice *mesh.ICESource,
	metrics *mesh.Metrics) (func(context.Context) error, *directView, error) {
	mode := mesh.DirectModes[cfg.Calls.Direct]
	view := &directView{mode: mode.String(), maxDuration: cfg.Calls.DirectMaxDuration}
	if mode == mesh.DirectIgnore {
		return nil, view, nil
	}
	// Block: call signalling is lossless (a lost candidate can cost the
	// call); the reader only forwards.
	in, err := router.Add(matrixbot.Route{Name: directRouteName, Overflow: matrixbot.Block,
		Kinds: []matrixbot.Kind{matrixbot.KindTimeline, matrixbot.KindSyncDone, matrixbot.KindSyncFailed}})
	if err != nil {
		return nil, nil, err
	}
	echoCfg := media.DefaultEchoConfig()
	echoCfg.Delay = cfg.Calls.EchoDelay
	log := logger.With("component", "direct_calls")
	return func(ctx context.Context) error {
		select {
		case <-bot.LoggedIn():
		case <-ctx.Done():
			return nil
		}
		user, device := bot.Self()
		d, err := mesh.NewDirect(mesh.DirectConfig{
			UserID: string(user), DeviceID: string(device), Mode: mode,
			Max: cfg.Calls.DirectMax, MaxDuration: cfg.Calls.DirectMaxDuration,
			ICE: ice.Current, Feature: media.NewEcho(echoCfg), Metrics: metrics, Logger: log,
			IsDirect: func(ctx context.Context, room, caller string) (bool, error) {
				resp, err := bot.Client().JoinedMembers(ctx, id.RoomID(room))
				if err != nil {
					return false, err
				}
				joined := make([]string, 0, len(resp.Joined))
				for u := range resp.Joined {
					joined = append(joined, string(u))
				}
				return mesh.IsDirectRoom(joined, string(user), caller), nil
			},
			Send: func(ctx context.Context, room, typ string, content json.RawMessage) error {
				return bot.SendRoomEvent(ctx, id.RoomID(room), event.Type{Type: typ, Class: event.MessageEventType}, content)
			},
		})
		if err != nil {
			return err
		}
		view.d.Store(d)
		batches := make(chan mesh.RoomBatch)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(batches)
			directBatches(ctx, in, batches)
		}()
		err = d.Run(ctx, batches)
		cancel()
		wg.Wait()
		return err
	}, view, nil
}

// isCallEventType says whether t is a 1:1 call event type.
func isCallEventType(t string) bool {
	return strings.HasPrefix(t, mesh.RoomPrefix) || strings.HasPrefix(t, "org.matrix.call.")
}

// directBatches groups the call events of each sync per room, in timeline
// order, and hands each room's batch on at the sync's end (the SDK's batch
// rules need the whole batch). A failed sync's events are dropped: the
// retry delivers them again.
func directBatches(ctx context.Context, in <-chan matrixbot.Event, out chan<- mesh.RoomBatch) {
	var order []string
	pending := map[string][]mesh.RoomEvent{}
	for {
		var ev matrixbot.Event
		var ok bool
		select {
		case <-ctx.Done():
			return
		case ev, ok = <-in:
			if !ok {
				return
			}
		}
		switch ev.Kind {
		case matrixbot.KindTimeline:
			e := ev.Evt
			if ev.Undecryptable || e == nil || e.StateKey != nil || !isCallEventType(e.Type.Type) {
				continue
			}
			room := string(ev.RoomID)
			if _, seen := pending[room]; !seen {
				order = append(order, room)
			}
			pending[room] = append(pending[room], mesh.RoomEvent{RoomID: room, Sender: string(e.Sender),
				EventID: string(e.ID), Type: e.Type.Type, Content: e.Content.VeryRaw,
				Sent: time.UnixMilli(e.Timestamp), Age: time.Duration(e.Unsigned.Age) * time.Millisecond})
		case matrixbot.KindSyncDone:
			for _, room := range order {
				select {
				case out <- mesh.RoomBatch{RoomID: room, Events: pending[room], Initial: ev.Initial}:
				case <-ctx.Done():
					return
				}
			}
			order, pending = nil, map[string][]mesh.RoomEvent{}
		case matrixbot.KindSyncFailed:
			order, pending = nil, map[string][]mesh.RoomEvent{}
		}
	}
}
