package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Errors of a RoomWriter.
var (
	// ErrDelayUnsupported: the homeserver does not do MSC4140 delayed events
	// (or ignored the delay and sent the event at once).
	ErrDelayUnsupported = errors.New("membership: delayed events unsupported")
	// ErrDelayGone: the delayed event no longer exists (fired, sent or
	// cancelled); it has to be scheduled again.
	ErrDelayGone = errors.New("membership: delayed event gone")
)

// DelayAction is what to do with a scheduled delayed event.
type DelayAction string

const (
	DelayRestart DelayAction = "restart"
	DelaySend    DelayAction = "send"
	DelayCancel  DelayAction = "cancel"
)

// ScheduledLeave is one delayed state event the homeserver holds for us.
type ScheduledLeave struct {
	DelayID   string
	Room      id.RoomID
	EventType string
	StateKey  string
}

// RoomWriter is what our own membership needs from the homeserver, as the
// bot's user. ClientWriter implements it over mautrix.
type RoomWriter interface {
	PutState(ctx context.Context, room id.RoomID, evtType, stateKey string, content json.RawMessage) error
	// GetState returns the current content, or nil when there is none.
	GetState(ctx context.Context, room id.RoomID, evtType, stateKey string) (json.RawMessage, error)
	// ScheduleState schedules a state event after delay (MSC4140) and
	// returns its delay id.
	ScheduleState(ctx context.Context, room id.RoomID, evtType, stateKey string, content json.RawMessage, delay time.Duration) (string, error)
	UpdateDelayed(ctx context.Context, delayID string, action DelayAction) error
	ListScheduled(ctx context.Context) ([]ScheduledLeave, error)
	DelaySupported(ctx context.Context) (bool, error)
	RoomVersion(ctx context.Context, room id.RoomID) (string, error)
	// Self is the writer's user and device.
	Self() (id.UserID, id.DeviceID)
}

// ClientWriter is a RoomWriter over the bot's mautrix client. The client is
// fetched per call, as the bot may replace it after logging in again.
type ClientWriter struct{ client func() *mautrix.Client }

// NewClientWriter wraps the getter of a logged-in client.
func NewClientWriter(client func() *mautrix.Client) *ClientWriter {
	return &ClientWriter{client: client}
}

func (w *ClientWriter) Self() (id.UserID, id.DeviceID) {
	cli := w.client()
	return cli.UserID, cli.DeviceID
}

var _ RoomWriter = (*ClientWriter)(nil)

func (w *ClientWriter) PutState(ctx context.Context, room id.RoomID, evtType, stateKey string, content json.RawMessage) error {
	_, err := w.client().SendStateEvent(ctx, room, event.Type{Type: evtType, Class: event.StateEventType}, stateKey, content)
	return err
}

func (w *ClientWriter) GetState(ctx context.Context, room id.RoomID, evtType, stateKey string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := w.client().StateEvent(ctx, room, event.Type{Type: evtType, Class: event.StateEventType}, stateKey, &raw)
	if errors.Is(err, mautrix.MNotFound) {
		return nil, nil
	}
	return raw, err
}

func (w *ClientWriter) ScheduleState(ctx context.Context, room id.RoomID, evtType, stateKey string, content json.RawMessage, delay time.Duration) (string, error) {
	resp, err := w.client().SendStateEvent(ctx, room, event.Type{Type: evtType, Class: event.StateEventType}, stateKey, content,
		mautrix.ReqSendEvent{UnstableDelay: delay})
	switch {
	case err != nil:
		return "", err
	case resp.UnstableDelayID == "":
		// A server that ignores the delay has just written the leave: the
		// caller must write its join again (synapse#20254).
		return "", fmt.Errorf("%w: the server answered with event %s, not a delay id", ErrDelayUnsupported, resp.EventID)
	}
	return string(resp.UnstableDelayID), nil
}

func (w *ClientWriter) UpdateDelayed(ctx context.Context, delayID string, action DelayAction) error {
	u := w.client().BuildClientURL("unstable", "org.matrix.msc4140", "delayed_events", delayID, string(action))
	_, err := w.client().MakeRequest(ctx, http.MethodPost, u, struct{}{}, nil)
	if errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("%w: %s", ErrDelayGone, delayID)
	}
	return err
}

func (w *ClientWriter) ListScheduled(ctx context.Context) ([]ScheduledLeave, error) {
	var out []ScheduledLeave
	req := &mautrix.ReqDelayedEvents{}
	for page := 0; page < 100; page++ { // bounded: a server that loops on next_batch cannot hang us
		resp, err := w.client().DelayedEvents(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, e := range resp.Scheduled {
			if e == nil || e.StateKey == nil {
				continue
			}
			out = append(out, ScheduledLeave{DelayID: string(e.DelayID), Room: e.RoomID, EventType: e.Type.Type, StateKey: *e.StateKey})
		}
		if resp.NextBatch == "" || resp.NextBatch == req.NextBatch {
			break
		}
		req.NextBatch = resp.NextBatch
	}
	return out, nil
}

func (w *ClientWriter) DelaySupported(ctx context.Context) (bool, error) {
	v, err := w.client().Versions(ctx)
	if err != nil {
		return false, err
	}
	return v.UnstableFeatures["org.matrix.msc4140"], nil
}

func (w *ClientWriter) RoomVersion(ctx context.Context, room id.RoomID) (string, error) {
	var c struct {
		RoomVersion string `json:"room_version"`
	}
	if err := w.client().StateEvent(ctx, room, event.StateCreate, "", &c); err != nil {
		return "", err
	}
	if c.RoomVersion == "" {
		return "1", nil // absent means version 1
	}
	return c.RoomVersion, nil
}

// ownedStateRoom reports whether a room version protects state keys that
// start with a user id as that user's own (MSC3757/MSC3779): MatrixRTC then
// drops the leading "_" and Famedly uses "{userId}_{deviceId}".
func ownedStateRoom(version string) bool {
	return strings.Contains(version, "msc3757") || strings.Contains(version, "msc3779")
}
