package matrixbot

import (
	"context"
	"net/http"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// The homeserver sends a sticky event (MSC4354) once, in the timeline or
// the sticky section of the sync after it; a sync resuming from a saved
// position, even with full_state, does not send it again. The consumers
// keep memberships in memory and start every run from a full snapshot, so
// a run resuming from a saved position first fetches every joined room's
// current sticky events with a sync without since token, which
// acknowledges nothing (to-device messages are deleted only by a later
// since token) and is filtered down to the sticky sections, and hands them
// over in its first batch.

// stickySnapshotFilter leaves every section out but the sticky one, which
// Synapse does not filter (an empty types list matches nothing; mautrix's
// Filter would omit it).
const stickySnapshotFilter = `{"account_data":{"not_types":["*"]},"presence":{"not_types":["*"]},` +
	`"room":{"account_data":{"not_types":["*"]},"ephemeral":{"not_types":["*"]},"state":{"types":[]},"timeline":{"types":[],"limit":1}}}`

// stickySnapshot fetches the current sticky events of every joined room.
func (s *syncer) stickySnapshot(ctx context.Context) (map[id.RoomID][]*event.Event, error) {
	var resp struct {
		Rooms struct {
			Join map[id.RoomID]struct {
				Sticky mautrix.SyncEventsList `json:"msc4354_sticky"`
			} `json:"join"`
		} `json:"rooms"`
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, err := s.cli.MakeFullRequest(rctx, mautrix.FullRequest{
		Method:       http.MethodGet,
		URL:          s.cli.BuildURLWithQuery(mautrix.ClientURLPath{"v3", "sync"}, map[string]string{"timeout": "0", "filter": stickySnapshotFilter}),
		ResponseJSON: &resp,
		MaxAttempts:  1,
	})
	if err != nil {
		return nil, err
	}
	out := make(map[id.RoomID][]*event.Event, len(resp.Rooms.Join))
	for room, r := range resp.Rooms.Join {
		if len(r.Sticky.Events) > 0 {
			out[room] = r.Sticky.Events
		}
	}
	return out, nil
}

// stickyEvents emits the snapshot's sticky events of room, copies so that
// a batch handed over again shares nothing with the first delivery.
func (s *syncer) stickyEvents(ctx context.Context, room id.RoomID) error {
	evts := s.snapshot[room]
	if len(evts) == 0 {
		return nil
	}
	cp := make([]*event.Event, 0, len(evts))
	for _, evt := range evts {
		if evt != nil {
			c := *evt
			cp = append(cp, &c)
		}
	}
	return s.roomEvents(ctx, room, SourceSticky, cp)
}
