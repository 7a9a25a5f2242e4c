package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/membership"
)

// rtcReuseFor is the js-sdk RTCEncryptionManager's keyRotationGracePeriodMs
// (matrixrtc-js.md 3.3): a joiner gets the current key while it is younger
// than this; otherwise a new key goes to everyone. The manager's useKeyDelay
// (1 s before the sender encrypts with a new key) only concerns media, which
// the simulated client has none of.
const rtcReuseFor = 10 * time.Second

// deviceRef is one call member's device.
type deviceRef struct {
	user   id.UserID
	device id.DeviceID
}

// rtcClient is a simulated Element Call member in a room's MatrixRTC call:
// it publishes its session-format membership and, from its own /sync of the
// room's call-member state, distributes its media key the way the js-sdk's
// rolloutOutboundKey does: key 0 at once on the first rollout; a joiner gets
// the current key if it is fresh, else everyone gets a new one; any leaver
// makes a new key for everyone; a device whose created_ts changed is treated
// as a joiner. Keys go out as Olm-encrypted io.element.call.encryption_keys.
//
// run owns the CryptoClient and every field but peers, which mu guards for
// the test's readiness checks.
type rtcClient struct {
	c    *testenv.CryptoClient
	self deviceRef
	call membership.CallKey

	since      string
	members    map[string]membership.Member // by state key
	sharedWith map[deviceRef]time.Time      // device → the created_ts it had when we shared
	key        []byte
	index      int
	keyAt      time.Time

	mu    sync.Mutex
	peers int
}

func newRTCClient(c *testenv.CryptoClient, room id.RoomID) *rtcClient {
	return &rtcClient{
		c: c, self: deviceRef{c.User.ID, c.DeviceID()},
		call:    membership.CallKey{Room: room, Application: "m.call", Scope: "m.room"},
		members: map[string]membership.Member{}, sharedWith: map[deviceRef]time.Time{},
	}
}

// rtcMembership is the session-format membership Element Call publishes for
// dev in room's call, and its state key.
func rtcMembership(t *testing.T, env *testenv.Env, room id.RoomID, user id.UserID, dev id.DeviceID) (stateKey string, content json.RawMessage) {
	t.Helper()
	member := string(user) + ":" + string(dev)
	raw, err := membership.BuildMatrixRTC(membership.Member{
		Dialect: membership.DialectMatrixRTC, UserID: user, DeviceID: dev, MembershipID: member,
		Call:       membership.CallKey{Room: room, Application: "m.call", Scope: "m.room"},
		ActiveFoci: []membership.Focus{{Type: "livekit", FocusSelection: "oldest_membership"}},
		Preferred:  []membership.Focus{{Type: "livekit", LiveKitServiceURL: env.ServiceURL, LiveKitAlias: string(room)}},
	}, membership.DefaultMatrixRTCExpiry)
	if err != nil {
		t.Fatal(err)
	}
	return membership.MatrixRTCStateKey(string(user), string(dev), "m.call", "", false), raw
}

// joinCall publishes the client's membership.
func (r *rtcClient) joinCall(t *testing.T, env *testenv.Env) {
	t.Helper()
	key, content := rtcMembership(t, env, r.call.Room, r.self.user, r.self.device)
	if _, err := r.c.Client.SendStateEvent(t.Context(), r.call.Room, testenv.MatrixRTCCallMember, key, content); err != nil {
		t.Fatal(err)
	}
}

// sharedPeers is how many other devices the client has given its key.
func (r *rtcClient) sharedPeers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peers
}

// run syncs and distributes keys until ctx ends; it returns nil then.
func (r *rtcClient) run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := r.syncOnce(ctx)
		if err == nil {
			err = r.rollout(ctx)
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: %w", r.self.user, err)
		}
	}
	return nil
}

// syncOnce long-polls the room's call-member state, keeping the Olm machine's
// device lists and one-time keys current (to-device events are not needed:
// the simulated member only sends).
func (r *rtcClient) syncOnce(ctx context.Context) error {
	typ := testenv.MatrixRTCCallMember.Type
	filter := fmt.Sprintf(`{"presence":{"not_types":["*"]},"account_data":{"not_types":["*"]},"room":{"rooms":[%q],`+
		`"state":{"types":[%q]},"timeline":{"types":[%q],"limit":50},"ephemeral":{"not_types":["*"]},"account_data":{"not_types":["*"]}}}`,
		r.call.Room, typ, typ)
	resp, err := r.c.Client.SyncRequest(ctx, 10_000, r.since, filter, false, "")
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	r.since = resp.NextBatch
	r.c.Machine.HandleDeviceLists(ctx, &resp.DeviceLists, "")
	r.c.Machine.HandleOTKCounts(ctx, &resp.DeviceOTKCount)
	jr := resp.Rooms.Join[r.call.Room]
	if jr == nil {
		return nil
	}
	for _, evt := range append(jr.State.Events, jr.Timeline.Events...) {
		if evt == nil || evt.StateKey == nil || evt.Type.Type != typ {
			continue
		}
		m, err := membership.ParseMatrixRTC(r.call.Room, evt.Sender, *evt.StateKey, evt.Content.VeryRaw, time.UnixMilli(evt.Timestamp))
		switch {
		case err != nil:
			return err
		case m == nil:
			delete(r.members, *evt.StateKey)
		default:
			r.members[*evt.StateKey] = *m
		}
	}
	return nil
}

// rollout is the js-sdk's rolloutOutboundKey for one membership update.
func (r *rtcClient) rollout(ctx context.Context) error {
	current := map[deviceRef]time.Time{}
	joined := false
	for _, m := range r.members {
		if ref := (deviceRef{m.UserID, m.DeviceID}); ref == r.self {
			joined = true
		} else if m.Call == r.call {
			current[ref] = m.CreatedAt
		}
	}
	if !joined {
		return nil
	}
	if r.key == nil {
		if err := r.newKey(0); err != nil {
			return err
		}
	}
	left := false
	for ref, created := range r.sharedWith {
		if now, ok := current[ref]; !ok {
			left = true
		} else if !now.Equal(created) {
			delete(r.sharedWith, ref) // re-published: it probably lost our key
		}
	}
	var joiners []deviceRef
	for ref := range current {
		if _, ok := r.sharedWith[ref]; !ok {
			joiners = append(joiners, ref)
		}
	}
	switch {
	case left || (len(joiners) > 0 && time.Since(r.keyAt) >= rtcReuseFor):
		if err := r.newKey(e2ee.NextIndex(membership.DialectMatrixRTC, r.index)); err != nil {
			return err
		}
		all := make([]deviceRef, 0, len(current))
		for ref := range current {
			all = append(all, ref)
		}
		if err := r.send(ctx, all); err != nil {
			return err
		}
	case len(joiners) > 0:
		if err := r.send(ctx, joiners); err != nil {
			return err
		}
	default:
		return nil
	}
	r.sharedWith = current
	r.mu.Lock()
	r.peers = len(current)
	r.mu.Unlock()
	return nil
}

func (r *rtcClient) newKey(index int) error {
	key, err := e2ee.NewKey(membership.DialectMatrixRTC)
	if err != nil {
		return err
	}
	r.key, r.index, r.keyAt = key, index, time.Now()
	return nil
}

// send Olm-encrypts our current key to the devices, as
// ToDeviceKeyTransport.sendKey does.
func (r *rtcClient) send(ctx context.Context, to []deviceRef) error {
	if len(to) == 0 {
		return nil
	}
	content, err := e2ee.BuildMatrixRTCKeys(e2ee.KeyEvent{
		Dialect: membership.DialectMatrixRTC, Call: r.call, DeviceID: r.self.device,
		MemberID: string(r.self.user) + ":" + string(r.self.device), SentAt: time.Now(),
		Keys: []e2ee.Key{{Index: r.index, Bytes: r.key}},
	})
	if err != nil {
		return err
	}
	targets := map[id.UserID][]id.DeviceID{}
	for _, ref := range to {
		targets[ref.user] = append(targets[ref.user], ref.device)
	}
	typ := event.Type{Type: e2ee.MatrixRTCKeysEventType, Class: event.ToDeviceEventType}
	if err := r.c.SendEncrypted(ctx, typ, targets, json.RawMessage(content)); err != nil {
		return fmt.Errorf("send key %d to %d devices: %w", r.index, len(to), err)
	}
	return nil
}
