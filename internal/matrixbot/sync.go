package matrixbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
// tracker needs. Members are not lazy-loaded so the tracker sees every
// membership of a room on the initial sync.
var filterJSON = func() string {
	none := &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}}
	timeline := append(append([]event.Type{}, stateTypes...), TypeRTCMember, event.EventRedaction)
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

	keysFor   id.DeviceID  // device whose keys were uploaded this run
	decrypted decryptCache // to-device events decrypted from the unpersisted batch

	versionsChecked bool
	stateAfter      bool // homeserver supports MSC4222 use_state_after

	since string
	// fullState asks for the complete state of every joined room on the
	// first sync of a run that resumes from a saved position: consumers keep
	// their state in memory, so each run starts from a full snapshot while
	// to-device messages and device lists still resume where they stopped.
	fullState bool
	joined    map[id.RoomID]struct{}
	lastOTK   *mautrix.OTKCount
	lastFB    []id.KeyAlgorithm
	actions   []action
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
	s.decrypted = decryptCache{}
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
		resp, err := s.request(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, mautrix.MUnknownToken) {
				b.logger.Warn("homeserver rejected the access token")
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
			if !s.retry(ctx, "sync", err) {
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
			if !s.retry(ctx, "handling sync", err) {
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
		clear(s.decrypted)
	}
	return nil
}

// retry logs err and waits the next backoff delay; false if ctx ended.
func (s *syncer) retry(ctx context.Context, what string, err error) bool {
	d := s.bo.next()
	s.bot.logger.Warn(what+" failed, retrying", "err", err, "retry_in", d)
	return sleep(ctx, d)
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

// roomEvents emits the events of one section of a room.
func (s *syncer) roomEvents(ctx context.Context, room id.RoomID, src Source, evts []*event.Event) error {
	for _, evt := range evts {
		if evt == nil {
			continue
		}
		class := event.MessageEventType
		if src == SourceState || src == SourceStateAfter || src == SourceInvite {
			class = event.StateEventType
		}
		prepare(evt, room, class)
		kind := KindTimeline
		if evt.StateKey != nil {
			kind = KindState
		}
		if kind == KindState && src != SourceInvite && evt.Type == event.StateEncryption {
			if err := s.bot.rooms.note(ctx, evt); err != nil {
				return err
			}
		}
		if err := s.emit(ctx, Event{Kind: kind, RoomID: room, Source: src, Evt: evt}); err != nil {
			return err
		}
	}
	return nil
}

// ownMember returns the last m.room.member event about the bot among lists.
func (s *syncer) ownMember(lists ...[]*event.Event) *event.Event {
	var found *event.Event
	me := string(s.cli.UserID)
	for _, l := range lists {
		for _, evt := range l {
			if evt != nil && evt.Type.Type == event.StateMember.Type && evt.StateKey != nil && *evt.StateKey == me {
				found = evt
			}
		}
	}
	if found != nil {
		prepare(found, found.RoomID, event.StateEventType)
	}
	return found
}

func memberInfo(evt *event.Event) (event.Membership, id.UserID, string) {
	if evt == nil {
		return "", "", ""
	}
	if evt.Content.Parsed == nil {
		_ = evt.Content.ParseRaw(event.StateMember)
	}
	m := evt.Content.AsMember()
	return m.Membership, evt.Sender, m.Reason
}

// handle hands one sync response to the consumer, then performs the joins,
// rejections and forgets it calls for. An error leaves the batch
// unpersisted, so it is delivered again.
func (s *syncer) handle(ctx context.Context, resp *mautrix.RespSync) error {
	initial := s.since == "" || s.fullState
	s.actions = s.actions[:0]
	// Keys first: a sender's new device must be known to name it.
	s.olm.syncKeys(ctx, resp, s.since)
	for _, evt := range resp.ToDevice.Events {
		if evt == nil {
			continue
		}
		prepare(evt, "", event.ToDeviceEventType)
		e, ok := s.olm.toDevice(ctx, evt, s.decrypted)
		if !ok {
			continue
		}
		if err := s.emit(ctx, e); err != nil {
			return err
		}
	}
	s.olm.mach.MarkOlmHashSavePoint(ctx)
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

func (s *syncer) handleInvites(ctx context.Context, rooms map[id.RoomID]*mautrix.SyncInvitedRoom) error {
	for room, data := range rooms {
		if data == nil {
			continue
		}
		for _, evt := range data.State.Events {
			if evt != nil {
				evt.RoomID = room
			}
		}
		own := s.ownMember(data.State.Events)
		_, inviter, reason := memberInfo(own)
		if err := s.emit(ctx, Event{Kind: KindMembership, RoomID: room, Evt: own, Membership: event.MembershipInvite, Sender: inviter, Reason: reason}); err != nil {
			return err
		}
		if s.bot.cfg.Invites.Allows(inviter) {
			s.bot.logger.Info("accepting invite", "room", room, "inviter", inviter)
			s.actions = append(s.actions, action{actJoin, room})
		} else {
			s.bot.logger.Info("rejecting invite not allowed by policy", "room", room, "inviter", inviter)
			s.actions = append(s.actions, action{actReject, room})
		}
	}
	return nil
}

func (s *syncer) handleJoined(ctx context.Context, rooms map[id.RoomID]*mautrix.SyncJoinedRoom) error {
	for room, data := range rooms {
		if data == nil {
			continue
		}
		if _, ok := s.joined[room]; !ok {
			s.joined[room] = struct{}{}
			for _, l := range [][]*event.Event{data.State.Events, data.Timeline.Events} {
				for _, evt := range l {
					if evt != nil {
						evt.RoomID = room
					}
				}
			}
			own := s.ownMember(data.State.Events, data.Timeline.Events)
			_, sender, reason := memberInfo(own)
			s.bot.logger.Info("joined room", "room", room)
			if err := s.emit(ctx, Event{Kind: KindMembership, RoomID: room, Evt: own, Membership: event.MembershipJoin, Sender: sender, Reason: reason}); err != nil {
				return err
			}
		}
		if err := s.roomEvents(ctx, room, SourceState, data.State.Events); err != nil {
			return err
		}
		if err := s.roomEvents(ctx, room, SourceTimeline, data.Timeline.Events); err != nil {
			return err
		}
		if data.StateAfter != nil {
			if err := s.roomEvents(ctx, room, SourceStateAfter, data.StateAfter.Events); err != nil {
				return err
			}
		}
		if err := s.roomEvents(ctx, room, SourceSticky, data.Sticky.Events); err != nil {
			return err
		}
	}
	return nil
}

func (s *syncer) handleLeft(ctx context.Context, rooms map[id.RoomID]*mautrix.SyncLeftRoom) error {
	for room, data := range rooms {
		if data == nil {
			continue
		}
		if err := s.roomEvents(ctx, room, SourceState, data.State.Events); err != nil {
			return err
		}
		if err := s.roomEvents(ctx, room, SourceTimeline, data.Timeline.Events); err != nil {
			return err
		}
		if data.StateAfter != nil {
			if err := s.roomEvents(ctx, room, SourceStateAfter, data.StateAfter.Events); err != nil {
				return err
			}
		}
		var lists [][]*event.Event
		lists = append(lists, data.State.Events, data.Timeline.Events)
		if data.StateAfter != nil {
			lists = append(lists, data.StateAfter.Events)
		}
		own := s.ownMember(lists...)
		membership, sender, reason := memberInfo(own)
		if membership != event.MembershipBan {
			membership = event.MembershipLeave
		}
		delete(s.joined, room)
		if err := s.bot.rooms.forget(ctx, room); err != nil {
			return err
		}
		s.bot.logger.Info("left room", "room", room, "membership", membership, "by", sender, "reason", reason)
		if err := s.emit(ctx, Event{Kind: KindMembership, RoomID: room, Evt: own, Membership: membership, Sender: sender, Reason: reason}); err != nil {
			return err
		}
		s.actions = append(s.actions, action{actForget, room})
	}
	return nil
}

// act performs the batch's joins, rejections and forgets. Transient failures
// fail the batch (it is synced and handled again); permanent ones (the
// invite was withdrawn, the room is gone…) are logged and skipped.
func (s *syncer) act(ctx context.Context) error {
	for _, a := range s.actions {
		var err error
		var what string
		switch a.kind {
		case actJoin:
			what = "join"
			_, err = s.cli.JoinRoomByID(ctx, a.room)
		case actReject:
			what = "reject invite"
			_, err = s.cli.LeaveRoom(ctx, a.room)
		case actForget:
			what = "forget"
			_, err = s.cli.ForgetRoom(ctx, a.room)
		}
		if err == nil {
			continue
		}
		if permanent(err) {
			s.bot.logger.Warn(what+" failed", "room", a.room, "err", err)
			continue
		}
		return fmt.Errorf("matrixbot: %s %s: %w", what, a.room, err)
	}
	s.actions = s.actions[:0]
	return nil
}
