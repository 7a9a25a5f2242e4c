package matrixbot

import (
	"context"
	"errors"
	"time"

	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Megolm-encrypted room events. Sticky ones (MSC4354) may be call
// memberships and are decrypted while sticky. Non-sticky ones of the
// timeline (chat messages, room commands) are decrypted only while recent
// (MessageWindow): an older command is stale, and the initial sync's
// backlog must not cost Olm work and key requests. Room keys arrive over
// to-device and the Olm machine keeps them (Bot.toDevice).

// MessageWindow is how recent (by origin_server_ts, on the bot's clock) a
// room message must be to be emitted: plain m.room.message and encrypted
// non-sticky events of the timeline older than this are dropped, and an
// encrypted one whose key is missing waits for it until its send time plus
// the window. Ten minutes tolerates clock skew between homeservers and a
// slow key, and is still too short for a command to be answered long after
// the sender gave up.
const MessageWindow = 10 * time.Minute

// Bounds on what undecryptable events may cost.
const (
	// maxUndecryptable bounds the events kept for a retry when keys arrive;
	// beyond it the one whose stickiness ends first is dropped (the
	// consumer was told of it once; it simply never decrypts).
	maxUndecryptable = 256
	// maxPendingMessages bounds, separately, the non-sticky events (room
	// messages) kept for a retry: a flood of chat never evicts a waiting
	// membership. Beyond it the message whose window ends first is dropped.
	maxPendingMessages = 64
	// maxKeyRequests bounds the sessions remembered as asked for.
	maxKeyRequests = 256
	// maxSticky is MSC4354's cap on stickiness: an undecryptable event
	// older than this can no longer be a membership.
	maxSticky = time.Hour
	// keyRequestTimeout bounds one room key request.
	keyRequestTimeout = 5 * time.Second
)

// undecryptable is one encrypted event whose key is missing: sticky, or a
// recent message (message set) of the timeline.
type undecryptable struct {
	room    id.RoomID
	src     Source
	evt     *event.Event
	until   time.Time
	message bool
}

// roomCrypto is the Run goroutine's state for encrypted room events.
type roomCrypto struct {
	pending   []*undecryptable
	requested map[id.SessionID]time.Time // sessions whose key was asked for, when
	now       func() time.Time
}

func newRoomCrypto() *roomCrypto {
	return &roomCrypto{requested: map[id.SessionID]time.Time{}, now: time.Now}
}

// stickyEnd is when evt stops being sticky (src says where it arrived: an
// event of the sticky section without stickiness lasts the maximum), or
// false when it is not sticky.
func stickyEnd(evt *event.Event, src Source, now time.Time) (time.Time, bool) {
	d := evt.Sticky.GetDuration()
	if left := evt.Unsigned.StickyDurationTTL.Duration; left > 0 {
		return now.Add(min(left, maxSticky)), true
	}
	if d <= 0 {
		if src != SourceSticky {
			return time.Time{}, false
		}
		d = maxSticky
	}
	return time.UnixMilli(evt.Timestamp).Add(d), true
}

// messageEnd is when the window of evt, a non-sticky room event, ends, or
// false when it already has. A timestamp in the future (the sending
// server's clock, or a lie) counts as now.
func messageEnd(evt *event.Event, now time.Time) (time.Time, bool) {
	sent := time.UnixMilli(evt.Timestamp)
	if sent.After(now) {
		sent = now
	}
	until := sent.Add(MessageWindow)
	return until, until.After(now)
}

// missingKey reports whether a Megolm decryption failed for want of the
// session's key (or of its earlier ratchet steps), which may still come.
func missingKey(err error) bool {
	return errors.Is(err, crypto.ErrNoSessionFound) || errors.Is(err, olm.ErrUnknownMessageIndex)
}

// roomEncrypted handles one m.room.encrypted room event: it returns the
// Event to emit (decrypted, or, if sticky, undecryptable the first time its
// key is found missing), or false for nothing to emit. A message (non-sticky
// event of the timeline) without its key is not emitted: no consumer can
// use it; it waits for the key within its window. Hostile or broken
// ciphertext is refused with a log line.
func (s *syncer) roomEncrypted(ctx context.Context, room id.RoomID, src Source, evt *event.Event) (Event, bool) {
	rc := s.roomCrypto
	log := s.bot.logger.With("room", room, "sender", evt.Sender, "event_id", evt.ID)
	if _, joined := s.joined[room]; !joined {
		return Event{}, false
	}
	now := rc.now()
	until, sticky := stickyEnd(evt, src, now)
	switch {
	case sticky && !until.After(now):
		log.Debug("skipping an encrypted sticky event whose stickiness has ended")
		return Event{}, false
	case !sticky && src != SourceTimeline:
		return Event{}, false
	case !sticky:
		var recent bool
		if until, recent = messageEnd(evt, now); !recent {
			log.Debug("skipping an encrypted message older than the message window")
			return Event{}, false
		}
	}
	content, ok := evt.Content.Parsed.(*event.EncryptedEventContent)
	if !ok || content.Algorithm != id.AlgorithmMegolmV1 {
		log.Info("refusing an encrypted room event that is not Megolm")
		return Event{}, false
	}
	dec, err := s.olm.mach.DecryptMegolmEvent(ctx, evt)
	switch {
	case err == nil:
		rc.drop(evt.ID)
		return decryptedEvent(room, src, evt, dec), true
	case missingKey(err):
		if rc.has(evt.ID) {
			return Event{}, false
		}
		rc.add(&undecryptable{room: room, src: src, evt: evt, until: until, message: !sticky})
		s.requestKey(ctx, room, evt, content)
		log.Debug("encrypted event undecryptable for now", "sticky", sticky, "session_id", content.SessionID, "err", err)
		if !sticky {
			return Event{}, false
		}
		return Event{Kind: KindTimeline, RoomID: room, Source: src, Evt: evt, Undecryptable: true}, true
	default:
		log.Info("refusing an encrypted room event", "err", err)
		return Event{}, false
	}
}

// decryptedEvent is dec (from evt) as the Event to emit. mautrix drops the
// top-level stickiness; it is the envelope's.
func decryptedEvent(room id.RoomID, src Source, evt, dec *event.Event) Event {
	dec.RoomID = room
	dec.Sticky = evt.Sticky
	dec.StateKey = nil
	dec.Type.Class = event.MessageEventType
	return Event{Kind: KindTimeline, RoomID: room, Source: src, Evt: dec, Decrypted: true}
}

// retryUndecryptable tries the waiting events again (after room keys may
// have arrived) and emits those that now decrypt. Events of rooms the bot
// is no longer in, no longer sticky or past their window are dropped.
func (s *syncer) retryUndecryptable(ctx context.Context) error {
	rc := s.roomCrypto
	now := rc.now()
	kept := rc.pending[:0]
	var out []Event
	for _, u := range rc.pending {
		if _, joined := s.joined[u.room]; !joined || !u.until.After(now) {
			continue
		}
		dec, err := s.olm.mach.DecryptMegolmEvent(ctx, u.evt)
		switch {
		case err == nil:
			out = append(out, decryptedEvent(u.room, u.src, u.evt, dec))
		case missingKey(err):
			kept = append(kept, u)
		default:
			s.bot.logger.Info("refusing an encrypted room event", "room", u.room, "sender", u.evt.Sender,
				"event_id", u.evt.ID, "err", err)
		}
	}
	clear(rc.pending[len(kept):])
	rc.pending = kept
	for _, e := range out {
		if err := s.emit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// requestKey asks the sender's devices for a missing room key, once per
// session (again after maxSticky). Failures are logged: the key may still
// come unasked.
func (s *syncer) requestKey(ctx context.Context, room id.RoomID, evt *event.Event, content *event.EncryptedEventContent) {
	rc := s.roomCrypto
	now := rc.now()
	if at, ok := rc.requested[content.SessionID]; ok && now.Sub(at) < maxSticky {
		return
	}
	if len(rc.requested) >= maxKeyRequests {
		for sid, at := range rc.requested {
			if now.Sub(at) >= maxSticky || len(rc.requested) >= maxKeyRequests {
				delete(rc.requested, sid)
			}
		}
	}
	rc.requested[content.SessionID] = now
	// device_id and sender_key are deprecated in the content, but name the
	// sending device and its session when a client still sends them.
	device := content.DeviceID
	if device == "" {
		device = "*"
	}
	rctx, cancel := context.WithTimeout(ctx, keyRequestTimeout)
	defer cancel()
	err := s.olm.mach.SendRoomKeyRequest(rctx, room, content.SenderKey, content.SessionID, "",
		map[id.UserID][]id.DeviceID{evt.Sender: {device}})
	if err != nil {
		s.bot.logger.Info("room key request failed", "room", room, "session_id", content.SessionID, "err", err)
	}
}

func (rc *roomCrypto) has(evt id.EventID) bool {
	for _, u := range rc.pending {
		if u.evt.ID == evt {
			return true
		}
	}
	return false
}

func (rc *roomCrypto) drop(evt id.EventID) {
	for i, u := range rc.pending {
		if u.evt.ID == evt {
			rc.pending = append(rc.pending[:i], rc.pending[i+1:]...)
			return
		}
	}
}

// add queues u. When its kind (sticky or message) is at its bound, the
// event of that kind whose wait ends first is dropped.
func (rc *roomCrypto) add(u *undecryptable) {
	limit := maxUndecryptable
	if u.message {
		limit = maxPendingMessages
	}
	n, first := 0, -1
	for i, p := range rc.pending {
		if p.message != u.message {
			continue
		}
		n++
		if first < 0 || p.until.Before(rc.pending[first].until) {
			first = i
		}
	}
	if n >= limit {
		rc.pending = append(rc.pending[:first], rc.pending[first+1:]...)
	}
	rc.pending = append(rc.pending, u)
}

// forget drops the waiting events of a room the bot left.
func (rc *roomCrypto) forget(room id.RoomID) {
	kept := rc.pending[:0]
	for _, u := range rc.pending {
		if u.room != room {
			kept = append(kept, u)
		}
	}
	clear(rc.pending[len(kept):])
	rc.pending = kept
}
