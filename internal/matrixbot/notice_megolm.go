package matrixbot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// megolmShares remembers, per room, which devices the room's current
// outbound Megolm session was shared with. A send whose recipients differ
// (a member joined or left, a device came or went) starts a new session,
// so that no one who left can read what follows and everyone present can.
// It is in memory: after a restart the first send starts a new session.
// The zero value is ready; its lock also serializes the bot's Megolm sends.
type megolmShares struct {
	mu    sync.Mutex
	rooms map[id.RoomID]sharedWith
}

// sharedWith is one session and its recipients' fingerprint.
type sharedWith struct {
	session id.SessionID
	devices string
}

// encryptRoomEvent Megolm-encrypts an event of type typ for room's joined
// members, sharing (or renewing) the room's outbound session first when
// needed.
func (b *Bot) encryptRoomEvent(ctx context.Context, cli *mautrix.Client, room id.RoomID, typ event.Type, content any) (*event.EncryptedEventContent, error) {
	o, err := b.currentOlm()
	if err != nil {
		return nil, err
	}
	joined, err := cli.JoinedMembers(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("joined members: %w", err)
	}
	users := slices.Sorted(maps.Keys(joined.Joined))
	want := make(map[id.UserID][]id.DeviceID, len(users))
	for _, u := range users {
		want[u] = nil
	}
	devices, errs := o.resolveDevices(ctx, want)
	for _, e := range errs {
		// A member without encryption keys (a bot, a guest) cannot read
		// anything encrypted; one whose keys could not be fetched could,
		// so that is a failure.
		if !errors.Is(e, ErrUnknownDevice) {
			return nil, e
		}
	}
	fp := fingerprint(devices)

	s := &b.shares
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := o.mach.CryptoStore.GetOutboundGroupSession(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("outbound session: %w", err)
	}
	prev, known := s.rooms[room]
	if sess == nil || !sess.Shared || sess.Expired() || !known || prev.session != sess.ID() || prev.devices != fp {
		delete(s.rooms, room)
		if sess != nil {
			if err := o.mach.CryptoStore.RemoveOutboundGroupSession(ctx, room); err != nil {
				return nil, fmt.Errorf("drop outbound session: %w", err)
			}
		}
		// Sharing makes and uses Olm sessions: serialized with Olm
		// decryption like our other Olm encryption (olmDevice.sessions).
		o.sessions.Lock()
		err := o.mach.ShareGroupSession(ctx, room, users)
		o.sessions.Unlock()
		if err != nil {
			return nil, fmt.Errorf("share room key: %w", err)
		}
		sess, err = o.mach.CryptoStore.GetOutboundGroupSession(ctx, room)
		if err != nil || sess == nil {
			return nil, fmt.Errorf("outbound session after sharing: %w", errors.Join(err, errors.New("none stored")))
		}
		if s.rooms == nil {
			s.rooms = map[id.RoomID]sharedWith{}
		}
		s.rooms[room] = sharedWith{session: sess.ID(), devices: fp}
	}
	enc, err := o.mach.EncryptMegolmEvent(ctx, room, typ, content)
	if err != nil {
		delete(s.rooms, room)
		return nil, fmt.Errorf("megolm encrypt: %w", err)
	}
	return enc, nil
}

// fingerprint names a recipient set: every user, device and identity key,
// sorted.
func fingerprint(devices map[id.UserID]map[id.DeviceID]*id.Device) string {
	var lines []string
	for u, devs := range devices {
		for d, dev := range devs {
			lines = append(lines, string(u)+"|"+string(d)+"|"+string(dev.IdentityKey))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
