// Package callsim simulates Element Call devices in a MatrixRTC call on the
// test Synapse and measures how long a joining device waits for every
// member's media key. The simulated devices speak the wire format
// themselves (wire.go); no switchboard package under test is imported.
// cmd/coordinator's key distribution test and bench/keydist share it.
package callsim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// reuseFor is the js-sdk RTCEncryptionManager's keyRotationGracePeriodMs
// (matrixrtc-js.md 3.3): a joiner gets the current key while it is younger
// than this; otherwise a new key goes to everyone. The manager's useKeyDelay
// (1 s before the sender encrypts with a new key) only concerns media, which
// the simulated device has none of.
const reuseFor = 10 * time.Second

// Device is one call member's device.
type Device struct {
	User   id.UserID
	Device id.DeviceID
}

// Member is a simulated Element Call device in a room's call: it publishes
// its session-format membership and, from its own /sync of the room's
// call-member state, distributes its media key the way the js-sdk's
// rolloutOutboundKey does: key 0 at once on the first rollout; a joiner gets
// the current key if it is fresh, else everyone gets a new one; any leaver
// makes a new key for everyone; a device whose created_ts changed is treated
// as a joiner. Keys go out as Olm-encrypted io.element.call.encryption_keys.
//
// run owns the CryptoClient and every field but peers, which mu guards for
// readiness checks.
type Member struct {
	c    *testenv.CryptoClient
	Self Device
	room id.RoomID

	since      string
	sessions   map[string]session   // by state key
	sharedWith map[Device]time.Time // device → the created time it had when we shared
	key        []byte
	index      int
	keyAt      time.Time

	mu    sync.Mutex
	peers int
}

func newMember(c *testenv.CryptoClient, room id.RoomID) *Member {
	return &Member{c: c, Self: Device{c.User.ID, c.DeviceID()}, room: room,
		sessions: map[string]session{}, sharedWith: map[Device]time.Time{}}
}

// sharedPeers is how many other devices the member has given its key.
func (m *Member) sharedPeers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peers
}

// run syncs and distributes keys until ctx ends; it returns nil then.
func (m *Member) run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := m.syncOnce(ctx)
		if err == nil {
			err = m.rollout(ctx)
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: %w", m.Self.User, err)
		}
	}
	return nil
}

// syncOnce long-polls the room's call-member state, keeping the Olm machine's
// device lists and one-time keys current (to-device events are not needed:
// the simulated member only sends).
func (m *Member) syncOnce(ctx context.Context) error {
	typ := testenv.MatrixRTCCallMember.Type
	filter := fmt.Sprintf(`{"presence":{"not_types":["*"]},"account_data":{"not_types":["*"]},"room":{"rooms":[%q],`+
		`"state":{"types":[%q]},"timeline":{"types":[%q],"limit":50},"ephemeral":{"not_types":["*"]},"account_data":{"not_types":["*"]}}}`,
		m.room, typ, typ)
	resp, err := m.c.Client.SyncRequest(ctx, 10_000, m.since, filter, false, "")
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	m.since = resp.NextBatch
	m.c.Machine.HandleDeviceLists(ctx, &resp.DeviceLists, "")
	m.c.Machine.HandleOTKCounts(ctx, &resp.DeviceOTKCount)
	jr := resp.Rooms.Join[m.room]
	if jr == nil {
		return nil
	}
	for _, evt := range append(jr.State.Events, jr.Timeline.Events...) {
		if evt == nil || evt.StateKey == nil || evt.Type.Type != typ {
			continue
		}
		s, ok, err := parseSession(evt)
		switch {
		case err != nil:
			return err
		case ok:
			m.sessions[*evt.StateKey] = s
		default:
			delete(m.sessions, *evt.StateKey)
		}
	}
	return nil
}

// rollout is the js-sdk's rolloutOutboundKey for one membership update.
func (m *Member) rollout(ctx context.Context) error {
	current := map[Device]time.Time{}
	joined := false
	for _, s := range m.sessions {
		if s.dev == m.Self {
			joined = true
		} else {
			current[s.dev] = s.created
		}
	}
	if !joined {
		return nil
	}
	if m.key == nil {
		m.newKey(0)
	}
	left := false
	for dev, created := range m.sharedWith {
		if now, ok := current[dev]; !ok {
			left = true
		} else if !now.Equal(created) {
			delete(m.sharedWith, dev) // re-published: it probably lost our key
		}
	}
	var joiners []Device
	for dev := range current {
		if _, ok := m.sharedWith[dev]; !ok {
			joiners = append(joiners, dev)
		}
	}
	switch {
	case left || (len(joiners) > 0 && time.Since(m.keyAt) >= reuseFor):
		m.newKey((m.index + 1) % keyRing)
		all := make([]Device, 0, len(current))
		for dev := range current {
			all = append(all, dev)
		}
		if err := m.send(ctx, all); err != nil {
			return err
		}
	case len(joiners) > 0:
		if err := m.send(ctx, joiners); err != nil {
			return err
		}
	default:
		return nil
	}
	m.sharedWith = current
	m.mu.Lock()
	m.peers = len(current)
	m.mu.Unlock()
	return nil
}

func (m *Member) newKey(index int) {
	m.key, m.index, m.keyAt = newKey(), index, time.Now()
}

// send Olm-encrypts our current key to the devices, as
// ToDeviceKeyTransport.sendKey does.
func (m *Member) send(ctx context.Context, to []Device) error {
	if len(to) == 0 {
		return nil
	}
	targets := map[id.UserID][]id.DeviceID{}
	for _, dev := range to {
		targets[dev.User] = append(targets[dev.User], dev.Device)
	}
	if err := m.c.SendEncrypted(ctx, keysType, targets, buildKeys(m.room, m.Self, m.index, m.key)); err != nil {
		return fmt.Errorf("send key %d to %d devices: %w", m.index, len(to), err)
	}
	return nil
}
