package membership

import (
	"errors"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
)

// errNotSticky: an rtc.member event without MSC4354 stickiness is no
// membership (matrix-js-sdk reads only sticky ones).
var errNotSticky = errors.New("membership: rtc.member event is not sticky (no msc4354_sticky duration)")

// decodeSticky reads an org.matrix.msc4143.rtc.member event, from the
// sticky section or the timeline (MSC4354 sends a sticky event only once,
// in whichever section it falls; a decrypted one keeps its section). An
// event carrying only its sticky key withdraws the sender's membership
// under that key.
func (f *Feed) decodeSticky(ev matrixbot.Event) (Update, bool) {
	e := ev.Evt
	ttl, sticky := stickyTTL(e, f.roster.now())
	if !sticky && ev.Source != matrixbot.SourceSticky {
		f.logRefused(ev, errNotSticky)
		return Update{}, false
	}
	source := func(key string) Source {
		return Source{Room: ev.RoomID, EventType: RTCStickyEventType, StateKey: string(e.Sender) + "|" + key}
	}
	origin := time.UnixMilli(e.Timestamp)
	if key, ok := stickyWithdrawal(e.Content.VeryRaw); ok {
		return f.newerSticky(ev, Update{Source: source(key)}, origin)
	}
	m, err := ParseRTCSticky(ev.RoomID, e.Sender, e.Content.VeryRaw, origin, ttl)
	f.logRefused(ev, err)
	if m == nil {
		return Update{}, false
	}
	return f.newerSticky(ev, Update{Source: source(m.StateKey), Members: one(m)}, origin)
}

// newerSticky passes u on unless an event of its source sent later was
// read already (ev was decrypted late).
func (f *Feed) newerSticky(ev matrixbot.Event, u Update, origin time.Time) (Update, bool) {
	if !f.roster.stickyCurrent(u.Source, origin) {
		f.logger.Info("call membership ignored", "room", ev.RoomID, "sender", ev.Evt.Sender, "event_id", ev.Evt.ID,
			"reason", "a newer event of the same sticky key was read before")
		return Update{}, false
	}
	return u, true
}

// stickyTTL is how long after its origin_server_ts a sticky event lasts:
// the server's remaining lifetime (unsigned, counted from now) when it
// sends one, else the event's own duration (capped at MaxStickyTTL by the
// parser). False if the event carries no stickiness at all.
func stickyTTL(e *event.Event, now time.Time) (time.Duration, bool) {
	if left := e.Unsigned.StickyDurationTTL.Duration; left > 0 {
		return max(now.Add(left).Sub(time.UnixMilli(e.Timestamp)), time.Millisecond), true
	}
	if d := e.Sticky.GetDuration(); d > 0 {
		return d, true
	}
	return 0, false
}

// stickyUntil is when an event of source src stops being sticky: by
// stickyTTL, or MaxStickyTTL after its origin for one of the sticky section
// without stickiness. False for a timeline event that is not sticky.
func stickyUntil(e *event.Event, src matrixbot.Source, now time.Time) (time.Time, bool) {
	ttl, ok := stickyTTL(e, now)
	if !ok {
		if src != matrixbot.SourceSticky {
			return time.Time{}, false
		}
		ttl = MaxStickyTTL
	}
	return time.UnixMilli(e.Timestamp).Add(min(ttl, MaxStickyTTL)), true
}

// stickyWithdrawal returns the sticky key of content that carries nothing
// but its sticky key (msc4354_sticky_key, sticky_key or both, equal): the
// way MatrixRTC ends a sticky membership before its stickiness runs out.
func stickyWithdrawal(content []byte) (string, bool) {
	o, err := decodeObject(content)
	if err != nil || len(o) == 0 {
		return "", false
	}
	var key string
	for field := range o {
		if field != "msc4354_sticky_key" && field != "sticky_key" {
			return "", false
		}
		k, ok, err := stickyKey(o, field)
		if !ok || err != nil || k == "" || (key != "" && k != key) {
			return "", false
		}
		key = k
	}
	return key, true
}

// unreadable follows the events the bot could not decrypt: an undecryptable
// event that may be a call membership (a sticky one) is marked in the
// roster, and reported handled; a decrypted event clears its mark once its
// batch is committed (settleUnreadable).
func (f *Feed) unreadable(ev matrixbot.Event) bool {
	switch {
	case ev.Evt == nil:
		return false
	case ev.Undecryptable:
		if until, ok := stickyUntil(ev.Evt, ev.Source, f.roster.now()); ok {
			f.roster.markUnreadable(ev.RoomID, ev.Evt.ID, until)
			f.logger.Info("call membership unreadable until its key arrives", "room", ev.RoomID,
				"sender", ev.Evt.Sender, "event_id", ev.Evt.ID, "until", until)
		}
		return true
	case ev.Decrypted:
		f.roster.readable(ev.RoomID, ev.Evt.ID)
	}
	return false
}
