package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/membership"
)

// keysView is the e2ee part of GET /admin/v1/calls/{room}.
type keysView struct {
	E2EE struct {
		Participants []struct {
			UserID   string `json:"user_id"`
			DeviceID string `json:"device_id"`
			Keys     []struct {
				Index     int       `json:"index"`
				ArrivedAt time.Time `json:"arrived_at"`
			} `json:"keys"`
		} `json:"participants"`
		Refusals []struct {
			Reason   string `json:"reason"`
			UserID   string `json:"user_id"`
			DeviceID string `json:"device_id"`
		} `json:"refusals"`
	} `json:"e2ee"`
}

func adminKeys(t *testing.T, addr string, room id.RoomID) keysView {
	t.Helper()
	return adminRoomView[keysView](t, addr, room)
}

// holds says whether the admin view lists key index for user's device.
func (v keysView) holds(user id.UserID, dev id.DeviceID, index int) bool {
	for _, p := range v.E2EE.Participants {
		if p.UserID == string(user) && p.DeviceID == string(dev) {
			return slices.ContainsFunc(p.Keys, func(k struct {
				Index     int       `json:"index"`
				ArrivedAt time.Time `json:"arrived_at"`
			}) bool {
				return k.Index == index && !k.ArrivedAt.IsZero()
			})
		}
	}
	return false
}

func (v keysView) refused(reason string, user id.UserID) bool {
	for _, r := range v.E2EE.Refusals {
		if r.Reason == reason && r.UserID == string(user) {
			return true
		}
	}
	return false
}

// keyEvent is what a key event carries, from a test client's view.
func keyEvent(t *testing.T, td testenv.ToDevice) e2ee.KeyEvent {
	t.Helper()
	raw, _ := json.Marshal(td.Content)
	ev, err := e2ee.ParseKeyEvent(td.Type.Type, raw)
	if err != nil {
		t.Fatalf("%s from %s: %v", td.Type.Type, td.Sender, err)
	}
	return ev
}

// fromBot matches key events of type typ the bot sent for room.
func fromBot(bot id.UserID, typ string, room id.RoomID) func(testenv.ToDevice) bool {
	return func(td testenv.ToDevice) bool {
		return td.Type.Type == typ && td.Sender == bot && td.Content["room_id"] == string(room)
	}
}

// sendFamedlyKey sends c's key for room's call to the bot, claiming device
// claimed, encrypted or not.
func sendFamedlyKey(t *testing.T, c *testenv.CryptoClient, room id.RoomID, claimed id.DeviceID, bot id.UserID, botDev id.DeviceID, encrypted bool) {
	t.Helper()
	key := make([]byte, e2ee.FamedlyKeyLen)
	rand.Read(key)
	content, err := e2ee.BuildFamedlyKeys(e2ee.KeyEvent{Dialect: membership.DialectFamedly, DeviceID: claimed,
		Call: membership.CallKey{Room: room, Application: "m.call", Scope: "m.room"}, Keys: []e2ee.Key{{Index: 0, Bytes: key}}})
	if err != nil {
		t.Fatal(err)
	}
	send := c.SendEncrypted
	if !encrypted {
		send = c.SendPlain
	}
	typ := event.Type{Type: e2ee.FamedlyKeysEventType, Class: event.ToDeviceEventType}
	if err := send(t.Context(), typ, map[id.UserID][]id.DeviceID{bot: {botDev}}, json.RawMessage(content)); err != nil {
		t.Fatal(err)
	}
}

// TestKeyExchangeFamedly runs the coordinator with two encrypting test
// devices in a Famedly call in an encrypted room: keys flow both ways over
// Olm (under both event names, with key requests), a plaintext key, a key
// claiming another device and a non-member's key are refused and shown in
// the admin API, and after one member leaves the other gets a new key and
// the leaver does not.
func TestKeyExchangeFamedly(t *testing.T) {
	env := testenv.Require(t)
	addr, bot := startBotCoordinator(t, env, map[string]string{
		"SWITCHBOARD_CALLS_JOIN": "all", "SWITCHBOARD_E2EE_HOLD_FOR": "2s", "SWITCHBOARD_E2EE_FAMEDLY_ROTATE_DELAY": "1s",
	})
	alice, bob, carol := env.RegisterUser(t, "alice"), env.RegisterUser(t, "bob"), env.RegisterUser(t, "carol")
	ac, bc, cc := env.NewCryptoClient(t, alice), env.NewCryptoClient(t, bob), env.NewCryptoClient(t, carol)
	room := env.CreateEncryptedRoom(t, ac, bob, carol)
	inviteBot(t, alice, room, bot)
	famedlyJoin(t, env, alice, room, string(ac.DeviceID()))
	famedlyJoin(t, env, bob, room, string(bc.DeviceID()))

	// The coordinator's key reaches both, Olm-encrypted, under both names.
	var botDev id.DeviceID
	for _, c := range []*testenv.CryptoClient{ac, bc} {
		for _, typ := range []string{e2ee.FamedlyKeysEventType, e2ee.FamedlyKeysEventTypeAlias} {
			td := c.Receive(t, 30*time.Second, fromBot(bot, typ, room))
			ev := keyEvent(t, td)
			if !td.Encrypted || td.SenderDevice == "" || ev.DeviceID != td.SenderDevice || len(ev.Keys[0].Bytes) != e2ee.FamedlyKeyLen {
				t.Fatalf("%s got %s: encrypted %v, olm device %q, claimed %q", c.User.ID, typ, td.Encrypted, td.SenderDevice, ev.DeviceID)
			}
			botDev = td.SenderDevice
		}
	}
	// Alice was a member when the coordinator joined: she was asked for her key.
	if td := ac.Receive(t, 30*time.Second, fromBot(bot, e2ee.FamedlyKeyRequestEventType, room)); !td.Encrypted {
		t.Error("key request not encrypted")
	}

	// Their keys reach the coordinator.
	sendFamedlyKey(t, ac, room, ac.DeviceID(), bot, botDev, true)
	sendFamedlyKey(t, bc, room, bc.DeviceID(), bot, botDev, true)
	waitFor(t, 30*time.Second, "both keys in the admin API", func() bool {
		v := adminKeys(t, addr, room)
		return v.holds(alice.ID, ac.DeviceID(), 0) && v.holds(bob.ID, bc.DeviceID(), 0) && v.holds(bot, botDev, 0)
	})

	// Refused: plaintext in an encrypted room, a claimed device that is not
	// the Olm sender's, and a non-member's key (after the 2 s hold).
	sendFamedlyKey(t, ac, room, ac.DeviceID(), bot, botDev, false)
	sendFamedlyKey(t, bc, room, "NOTBOBSDEVICE", bot, botDev, true)
	sendFamedlyKey(t, cc, room, cc.DeviceID(), bot, botDev, true)
	waitFor(t, 30*time.Second, "three refusals in the admin API", func() bool {
		v := adminKeys(t, addr, room)
		return v.refused("plaintext", alice.ID) && v.refused("device_mismatch", bob.ID) && v.refused("no_membership", carol.ID)
	})
	if v := adminKeys(t, addr, room); v.holds(carol.ID, cc.DeviceID(), 0) {
		t.Error("the non-member's key was stored")
	}

	// Bob leaves: alice gets a new key; bob gets nothing made after.
	if _, err := bob.Client.SendStateEvent(t.Context(), room, testenv.FamedlyCallMember, bob.ID.String(),
		map[string]any{"memberships": []any{}}); err != nil {
		t.Fatal(err)
	}
	first := keyEvent(t, ac.Receive(t, 30*time.Second, func(td testenv.ToDevice) bool {
		return fromBot(bot, e2ee.FamedlyKeysEventType, room)(td) && keyEvent(t, td).Keys[0].Index == 1
	}))
	if len(first.Keys) != 1 {
		t.Fatalf("rotated keys %v", first.Keys)
	}
	// Everything the coordinator sent bob came before alice's marker
	// (to-device order is per device): none of it may carry the new key.
	marker := event.Type{Type: "org.example.marker", Class: event.ToDeviceEventType}
	if err := ac.SendPlain(t.Context(), marker, map[id.UserID][]id.DeviceID{bob.ID: {bc.DeviceID()}}, map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	bc.Receive(t, 30*time.Second, func(td testenv.ToDevice) bool {
		if fromBot(bot, e2ee.FamedlyKeysEventType, room)(td) || fromBot(bot, e2ee.FamedlyKeysEventTypeAlias, room)(td) {
			if idx := keyEvent(t, td).Keys[0].Index; idx != 0 {
				t.Fatalf("the leaver got key index %d", idx)
			}
		}
		return td.Type == marker
	})
}

// TestKeyExchangeMatrixRTC: the MatrixRTC dialect over Olm both ways.
func TestKeyExchangeMatrixRTC(t *testing.T) {
	env := testenv.Require(t)
	addr, bot := startBotCoordinator(t, env, map[string]string{"SWITCHBOARD_CALLS_JOIN": "all"})
	bc, room, td := rtcCallWithBot(t, env, bot)
	bob, dev := bc.User, bc.DeviceID()
	ev := keyEvent(t, td)
	if !td.Encrypted || ev.DeviceID != td.SenderDevice || len(ev.Keys[0].Bytes) != e2ee.MatrixRTCKeyLen || ev.Call.Scope != "m.room" {
		t.Fatalf("bob got %+v (olm device %q)", ev, td.SenderDevice)
	}
	botDev := td.SenderDevice

	sendRTCKey(t, bc, room, bot, botDev, 4)
	waitFor(t, 30*time.Second, "bob's key in the admin API", func() bool {
		v := adminKeys(t, addr, room)
		return v.holds(bob.ID, dev, 4) && v.holds(bot, botDev, 0)
	})
}

// sendRTCKey sends c's new MatrixRTC key at index for room's call to the
// bot's device, Olm-encrypted.
func sendRTCKey(t *testing.T, c *testenv.CryptoClient, room id.RoomID, bot id.UserID, botDev id.DeviceID, index int) {
	t.Helper()
	key := make([]byte, e2ee.MatrixRTCKeyLen)
	rand.Read(key)
	dev := c.DeviceID()
	content := map[string]any{"keys": map[string]any{"index": index, "key": base64.StdEncoding.EncodeToString(key)},
		"member": map[string]any{"id": string(c.User.ID) + ":" + string(dev), "claimed_device_id": dev}, "room_id": room,
		"session": map[string]any{"application": "m.call", "call_id": "", "scope": "m.room"}, "sent_ts": time.Now().UnixMilli()}
	typ := event.Type{Type: e2ee.MatrixRTCKeysEventType, Class: event.ToDeviceEventType}
	if err := c.SendEncrypted(t.Context(), typ, map[id.UserID][]id.DeviceID{bot: {botDev}}, content); err != nil {
		t.Fatal(err)
	}
}

// rtcCallWithBot: bob, with an encrypting device, makes an encrypted room,
// invites the bot and joins the room's MatrixRTC call; it returns once the
// bot's key (td) has reached bob's device.
func rtcCallWithBot(t *testing.T, env *testenv.Env, bot id.UserID) (bc *testenv.CryptoClient, room id.RoomID, td testenv.ToDevice) {
	t.Helper()
	bob := env.RegisterUser(t, "bob")
	bc = env.NewCryptoClient(t, bob)
	room = env.CreateEncryptedRoom(t, bc)
	inviteBot(t, bob, room, bot)
	rtcJoin(t, env, bob, room, bc.DeviceID())
	return bc, room, bc.Receive(t, 30*time.Second, fromBot(bot, e2ee.MatrixRTCKeysEventType, room))
}
