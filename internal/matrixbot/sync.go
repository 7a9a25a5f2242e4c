package matrixbot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Event types the sync filter lets through.
var (
	TypeFamedlyCallMember = event.Type{Type: "com.famedly.call.member", Class: event.StateEventType}
	TypeMSC3401CallMember = event.Type{Type: "org.matrix.msc3401.call.member", Class: event.StateEventType}
	TypeRTCMember         = event.Type{Type: "org.matrix.msc4143.rtc.member", Class: event.MessageEventType}

	stateTypes = []event.Type{TypeFamedlyCallMember, TypeMSC3401CallMember, event.StateMember,
		event.StatePowerLevels, event.StateCreate, event.StateEncryption}
)

// filterJSON is the inline sync filter: no presence, account data or
// ephemeral events; state and timeline restricted to what the membership
// tracker and the room commands need. Members are not lazy-loaded so the
// tracker sees every membership of a room on the initial sync.
var filterJSON = func() string {
	none := &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}}
	// m.room.encrypted: sticky memberships in encrypted rooms (Synapse does
	// not filter the sticky section, but a sticky event in the timeline
	// appears only there), and messages there. m.room.message: room
	// commands. m.call.* (and the unstable org.matrix.call.*): 1:1 calls
	// to the bot, plain (encrypted ones come as m.room.encrypted).
	timeline := append(append([]event.Type{}, stateTypes...), TypeRTCMember, event.EventRedaction, event.EventEncrypted,
		event.EventMessage, event.Type{Type: "m.call.*"}, event.Type{Type: "org.matrix.call.*"})
	f := mautrix.Filter{
		AccountData: none,
		Presence:    none,
		Room: &mautrix.RoomFilter{
			AccountData: none,
			Ephemeral:   none,
			State:       &mautrix.FilterPart{Types: stateTypes},
			Timeline:    &mautrix.FilterPart{Types: timeline, Limit: 50},
		},
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// syncer is the state of one Run: only Run's goroutine touches it.
type syncer struct {
	bot *Bot
	cli *mautrix.Client
	olm *olmDevice // the bot's current one, fetched per sync
	bo  *backoff

	keysFor    id.DeviceID  // device whose keys were uploaded this run
	decrypted  decryptCache // to-device events decrypted from the unpersisted batch
	roomCrypto *roomCrypto  // encrypted room events waiting for their keys

	versionsChecked bool
	stateAfter      bool // homeserver supports MSC4222 use_state_after

	since string
	// fullState asks for the complete state of every joined room on the
	// first sync of a run that resumes from a saved position: consumers keep
	// their state in memory, so each run starts from a full snapshot while
	// to-device messages and device lists still resume where they stopped.
	fullState bool
	joined    map[id.RoomID]struct{}
	// snapshot holds, until the first batch of a run resuming from a saved
	// position is saved, every joined room's sticky events (sync_sticky.go).
	snapshot     map[id.RoomID][]*event.Event
	snapshotDone bool
	lastOTK      *mautrix.OTKCount
	lastFB       []id.KeyAlgorithm
	actions      []action
}

type actionKind int

const (
	actJoin actionKind = iota + 1
	actReject
	actForget
)

type action struct {
	kind actionKind
	room id.RoomID
}

func (s *syncer) loop(ctx context.Context) error {
	b := s.bot
	var err error
	s.since, s.joined, err = b.db.loadSync(ctx)
	if err != nil {
		return err
	}
	s.fullState = s.since != ""
	s.decrypted = decryptCache{db: b.db.sql}
	s.roomCrypto = newRoomCrypto()
	for ctx.Err() == nil {
		if s.olm, err = b.currentOlm(); err != nil {
			return err
		}
		if s.keysFor != s.olm.device {
			if err := s.olm.shareKeys(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if permanent(err) {
					return err
				}
				if !s.retry(ctx, "key upload", err) {
					return nil
				}
				continue
			}
			s.keysFor = s.olm.device
		}
		if !s.versionsChecked {
			v, err := s.cli.Versions(ctx)
			if err != nil {
				if !s.retry(ctx, "versions", err) {
					return nil
				}
				continue
			}
			s.versionsChecked = true
			s.stateAfter = v.UnstableFeatures["org.matrix.msc4222"] || v.ContainsGreaterOrEqual(mautrix.SpecV116)
			b.logger.Debug("homeserver features", "state_after", s.stateAfter)
		}
		if s.fullState && !s.snapshotDone {
			snap, err := s.stickySnapshot(ctx)
			switch {
			case err == nil:
				s.snapshot, s.snapshotDone = snap, true
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, mautrix.MUnknownToken):
				// The sync request below fails the same way and logs in again.
			default:
				if !s.failed(ctx, "sticky snapshot", err) {
					return nil
				}
				continue
			}
		}
		resp, err := s.request(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, mautrix.MUnknownToken) {
				b.logger.Warn("homeserver rejected the access token")
				if s.emit(ctx, Event{Kind: KindSyncFailed, Err: err}) != nil {
					return nil
				}
				if b.cfg.Password.IsZero() {
					return ErrTokenRejected
				}
				cli, err := b.loginLoop(ctx, s.bo, true)
				if err != nil {
					return err
				}
				s.cli = cli
				continue
			}
			if !s.failed(ctx, "sync", err) {
				return nil
			}
			continue
		}
		s.bo.reset()
		if err := s.handle(ctx, resp); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The batch is not persisted: it is fetched and delivered again.
			if !s.failed(ctx, "handling sync", err) {
				return nil
			}
			continue
		}
		// The batch was handed over: persist it even if ctx just ended.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = b.db.saveSync(sctx, resp.NextBatch, s.joined)
		cancel()
		if err != nil {
			return err
		}
		s.since = resp.NextBatch
		s.fullState = false
		s.snapshot = nil
	}
	return nil
}

// failed reports a failed sync to the consumer, then retries like retry.
func (s *syncer) failed(ctx context.Context, what string, err error) bool {
	if s.emit(ctx, Event{Kind: KindSyncFailed, Err: err}) != nil {
		return false
	}
	return s.retry(ctx, what, err)
}

// retry logs err and waits the next backoff delay; false if ctx ended.
func (s *syncer) retry(ctx context.Context, what string, err error) bool {
	d := s.bo.next()
	s.bot.logger.Warn(what+" failed, retrying", "err", err, "retry_in", d)
	return s.bot.wait(ctx, d, err)
}

func (s *syncer) request(ctx context.Context) (*mautrix.RespSync, error) {
	timeout := s.bot.cfg.SyncTimeout
	if s.since == "" || s.fullState {
		timeout = 0 // a full snapshot is wanted at once, not after a long poll
	}
	q := map[string]string{
		"timeout": strconv.FormatInt(timeout.Milliseconds(), 10),
		"filter":  filterJSON,
	}
	if s.since != "" {
		q["since"] = s.since
	}
	if s.fullState {
		q["full_state"] = "true"
	}
	if s.stateAfter {
		q["use_state_after"] = "true"
		q["org.matrix.msc4222.use_state_after"] = "true"
	}
	// A request deadline beyond the long-poll timeout catches dead
	// connections (e.g. a homeserver that vanished without closing them).
	rctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	var resp *mautrix.RespSync
	body, err := s.cli.MakeFullRequest(rctx, mautrix.FullRequest{
		Method:       http.MethodGet,
		URL:          s.cli.BuildURLWithQuery(mautrix.ClientURLPath{"v3", "sync"}, q),
		ResponseJSON: &resp,
		MaxAttempts:  1,
	})
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, errors.New("matrixbot: empty sync response")
	}
	if s.stateAfter {
		unstableStateAfter(body, resp)
	}
	return resp, nil
}

// unstableStateAfter fills StateAfter from the MSC4222 unstable field name.
func unstableStateAfter(body []byte, resp *mautrix.RespSync) {
	var u struct {
		Rooms struct {
			Join map[id.RoomID]struct {
				StateAfter *mautrix.SyncEventsList `json:"org.matrix.msc4222.state_after"`
			} `json:"join"`
		} `json:"rooms"`
	}
	if json.Unmarshal(body, &u) != nil {
		return
	}
	for rid, r := range u.Rooms.Join {
		if jr := resp.Rooms.Join[rid]; jr != nil && jr.StateAfter == nil && r.StateAfter != nil {
			jr.StateAfter = r.StateAfter
		}
	}
}

func (s *syncer) emit(ctx context.Context, e Event) error {
	select {
	case s.bot.events <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func prepare(evt *event.Event, room id.RoomID, class event.TypeClass) {
	evt.RoomID = room
	if evt.StateKey != nil && class != event.ToDeviceEventType {
		class = event.StateEventType
	}
	evt.Type.Class = class
	if _, ok := event.TypeMap[evt.Type]; ok && evt.Content.Parsed == nil {
		_ = evt.Content.ParseRaw(evt.Type)
	}
}

// handle hands one sync response to the consumer, then performs the joins,
// rejections and forgets it calls for. An error leaves the batch
// unpersisted, so it is delivered again.
func (s *syncer) handle(ctx context.Context, resp *mautrix.RespSync) error {
	initial := s.since == "" || s.fullState
	s.actions = s.actions[:0]
	// Keys first: a sender's new device must be known to name it.
	s.olm.syncKeys(ctx, resp, s.since)
	olmArrived := false
	for _, evt := range resp.ToDevice.Events {
		if evt == nil {
			continue
		}
		prepare(evt, "", event.ToDeviceEventType)
		olmArrived = olmArrived || evt.Type == event.ToDeviceEncrypted
		e, ok := s.olm.toDevice(ctx, evt, s.decrypted)
		if !ok {
			continue
		}
		if err := s.emit(ctx, e); err != nil {
			return err
		}
	}
	s.olm.mach.MarkOlmHashSavePoint(ctx)
	// Room keys are among what the Olm machine consumed: events waiting
	// for one may decrypt now.
	if olmArrived && len(s.roomCrypto.pending) > 0 {
		if err := s.retryUndecryptable(ctx); err != nil {
			return err
		}
	}
	if !resp.DeviceLists.IsZero() {
		dl := resp.DeviceLists
		if err := s.emit(ctx, Event{Kind: KindDeviceLists, DeviceLists: &dl}); err != nil {
			return err
		}
	}
	if s.lastOTK == nil || *s.lastOTK != resp.DeviceOTKCount || !slices.Equal(s.lastFB, resp.FallbackKeys) {
		otk := resp.DeviceOTKCount
		if err := s.emit(ctx, Event{Kind: KindOTKCounts, OTKCounts: &otk, FallbackKeys: resp.FallbackKeys}); err != nil {
			return err
		}
		s.lastOTK, s.lastFB = &otk, resp.FallbackKeys
	}
	if err := s.handleInvites(ctx, resp.Rooms.Invite); err != nil {
		return err
	}
	if err := s.handleJoined(ctx, resp.Rooms.Join); err != nil {
		return err
	}
	if err := s.handleLeft(ctx, resp.Rooms.Leave); err != nil {
		return err
	}
	if initial {
		// Without a since token the response lists every joined room; any
		// other room remembered as joined was left while we were away.
		for room := range s.joined {
			if _, ok := resp.Rooms.Join[room]; !ok {
				delete(s.joined, room)
				s.roomCrypto.forget(room)
				if err := s.bot.rooms.forget(ctx, room); err != nil {
					return err
				}
				s.bot.logger.Info("no longer in room", "room", room)
				if err := s.emit(ctx, Event{Kind: KindMembership, RoomID: room, Membership: event.MembershipLeave}); err != nil {
					return err
				}
			}
		}
	}
	if err := s.emit(ctx, Event{Kind: KindSyncDone, Batch: resp.NextBatch, Initial: initial}); err != nil {
		return err
	}
	return s.act(ctx)
}
