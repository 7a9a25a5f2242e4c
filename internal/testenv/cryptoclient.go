package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

// CryptoClient is an end-to-end-encrypting test device: a user's logged-in
// device with an Olm machine (in-memory store, so a new identity each test)
// whose keys are on the homeserver. It sends Olm-encrypted and plain
// to-device events of any type and receives them, decrypted, with the Olm
// sender's device and key, the way a Matrix client sees them.
//
// It syncs only inside Receive and Sync, on the caller's goroutine, and
// starts no goroutines of its own. Not safe for concurrent use.
type CryptoClient struct {
	User    *User
	Client  *mautrix.Client
	Machine *crypto.OlmMachine

	since string
	queue []ToDevice
}

// ToDevice is a to-device event as a CryptoClient received it.
type ToDevice struct {
	Type    event.Type
	Sender  id.UserID
	Content map[string]any
	// Encrypted: it came Olm-encrypted. SenderDevice is the device the Olm
	// machine found for SenderKey, the sender's Curve25519 identity key
	// ("" when unknown).
	Encrypted    bool
	SenderDevice id.DeviceID
	SenderKey    id.SenderKey
}

// syncFilter leaves rooms, presence and account data out: the test device
// cares about to-device events and key counts only.
const syncFilter = `{"room":{"rooms":[]},"presence":{"not_types":["*"]},"account_data":{"not_types":["*"]}}`

// NewCryptoClient turns u's device into an encrypting device: it creates an
// Olm account, uploads the device and one-time keys and syncs once (so
// later Receive calls see only what comes after). u.Client is switched to
// HTTP connections of its own, closed when the test ends.
func (e *Env) NewCryptoClient(t testing.TB, u *User) *CryptoClient {
	t.Helper()
	ctx := t.Context()
	// Its own connections, closed at cleanup, so goroutine leak checks of
	// the test see none of them.
	hc := &http.Client{Timeout: e.http.Timeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(hc.CloseIdleConnections)
	u.Client.Client = hc
	// mautrix may log from its own goroutines after the test ended, when
	// t.Log panics: collect, and show only if the test failed.
	logs := &logbuf.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("crypto client %s log:\n%s", u.ID, logs.String())
		}
	})
	log := zerolog.New(logs).Level(zerolog.WarnLevel)
	u.Client.Log = log
	ss := mautrix.NewMemoryStateStore()
	mach := crypto.NewOlmMachine(u.Client, &log, crypto.NewMemoryStore(nil), ss.(crypto.StateStore))
	t.Cleanup(mach.Destroy)
	if err := mach.Load(ctx); err != nil {
		t.Fatalf("olm account for %s: %v", u.ID, err)
	}
	if err := mach.ShareKeys(ctx, -1); err != nil {
		t.Fatalf("upload keys of %s: %v", u.ID, err)
	}
	c := &CryptoClient{User: u, Client: u.Client, Machine: mach}
	if err := c.Sync(ctx, 0); err != nil {
		t.Fatalf("first sync of %s: %v", u.ID, err)
	}
	return c
}

// DeviceID is the client's device.
func (c *CryptoClient) DeviceID() id.DeviceID { return c.Client.DeviceID }

// IdentityKey is the client's Curve25519 identity key.
func (c *CryptoClient) IdentityKey() id.IdentityKey { return c.Machine.OwnIdentity().IdentityKey }

// SendEncrypted Olm-encrypts content as evtType for the given devices (an
// empty list: every device of the user) and sends it, claiming one-time keys
// for devices it has no session with yet.
func (c *CryptoClient) SendEncrypted(ctx context.Context, evtType event.Type, to map[id.UserID][]id.DeviceID, content any) error {
	req, err := c.request(ctx, evtType, to, content)
	if err != nil {
		return err
	}
	enc, err := c.Machine.EncryptToDevices(ctx, event.Type{Type: evtType.Type, Class: event.ToDeviceEventType}, req)
	if err != nil {
		return err
	}
	for user, devs := range req.Messages {
		for dev := range devs {
			if _, ok := enc.Messages[user][dev]; !ok {
				return fmt.Errorf("no Olm session with %s of %s", dev, user)
			}
		}
	}
	_, err = c.Client.SendToDevice(ctx, event.ToDeviceEncrypted, enc)
	return err
}

// SendPlain sends content unencrypted as evtType to the given devices.
func (c *CryptoClient) SendPlain(ctx context.Context, evtType event.Type, to map[id.UserID][]id.DeviceID, content any) error {
	req, err := c.request(ctx, evtType, to, content)
	if err != nil {
		return err
	}
	_, err = c.Client.SendToDevice(ctx, event.Type{Type: evtType.Type, Class: event.ToDeviceEventType}, req)
	return err
}

// request builds one message per device; empty device lists are expanded
// from the users' device keys.
func (c *CryptoClient) request(ctx context.Context, evtType event.Type, to map[id.UserID][]id.DeviceID, content any) (*mautrix.ReqSendToDevice, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	msg := &event.Content{VeryRaw: raw}
	req := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{}}
	for user, devs := range to {
		if len(devs) == 0 {
			keys, err := c.Machine.FetchKeys(ctx, []id.UserID{user}, true)
			if err != nil {
				return nil, err
			}
			devs = slices.Collect(maps.Keys(keys[user]))
		}
		req.Messages[user] = map[id.DeviceID]*event.Content{}
		for _, d := range devs {
			req.Messages[user][d] = msg
		}
	}
	return req, nil
}

// Sync makes one /sync request (long-polling up to timeout), hands key
// changes and to-device events to the Olm machine and queues what Receive
// returns.
func (c *CryptoClient) Sync(ctx context.Context, timeout time.Duration) error {
	resp, err := c.Client.SyncRequest(ctx, int(timeout.Milliseconds()), c.since, syncFilter, false, "")
	if err != nil {
		return err
	}
	c.since = resp.NextBatch
	c.Machine.HandleDeviceLists(ctx, &resp.DeviceLists, "")
	for _, evt := range resp.ToDevice.Events {
		if evt == nil {
			continue
		}
		evt.Type.Class = event.ToDeviceEventType
		if evt.Type != event.ToDeviceEncrypted {
			c.queue = append(c.queue, ToDevice{Type: evt.Type, Sender: evt.Sender, Content: evt.Content.Raw})
			continue
		}
		if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
			continue
		}
		dec := c.Machine.HandleEncryptedEvent(ctx, evt)
		if dec == nil {
			continue
		}
		td := ToDevice{Type: dec.Type, Sender: dec.Sender, Content: dec.Content.Raw, Encrypted: true, SenderKey: dec.SenderKey}
		if dec.SenderDevice != nil {
			td.SenderDevice = dec.SenderDevice.DeviceID
		}
		c.queue = append(c.queue, td)
	}
	c.Machine.HandleOTKCounts(ctx, &resp.DeviceOTKCount)
	return nil
}

// Receive returns the first received to-device event match accepts (nil
// accepts any), syncing until it comes or timeout passes (then the test
// fails). Events it passes over stay queued for later calls.
func (c *CryptoClient) Receive(t testing.TB, timeout time.Duration, match func(ToDevice) bool) ToDevice {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for i, td := range c.queue {
			if match == nil || match(td) {
				c.queue = slices.Delete(c.queue, i, i+1)
				return td
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: no matching to-device event within %v", c.User.ID, timeout)
		}
		if err := c.Sync(t.Context(), min(left, 2*time.Second)); err != nil {
			t.Fatalf("%s: sync: %v", c.User.ID, err)
		}
	}
}

// Poll syncs once (long-polling up to timeout) and returns every queued
// to-device event, for a test's own goroutines: it never fails the test.
// Calls on one client must not overlap.
func (c *CryptoClient) Poll(ctx context.Context, timeout time.Duration) ([]ToDevice, error) {
	if err := c.Sync(ctx, timeout); err != nil {
		return nil, err
	}
	q := c.queue
	c.queue = nil
	return q, nil
}

// OfType matches to-device events of type typ.
func OfType(typ string) func(ToDevice) bool {
	return func(td ToDevice) bool { return td.Type.Type == typ }
}

// CreateEncryptedRoom is CreateRoom (c's user creates it, members join) with
// Megolm encryption turned on.
func (e *Env) CreateEncryptedRoom(t testing.TB, c *CryptoClient, members ...*User) id.RoomID {
	t.Helper()
	room := e.CreateRoom(t, c.User, members...)
	_, err := c.Client.SendStateEvent(t.Context(), room, event.StateEncryption, "",
		&event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1})
	if err != nil {
		t.Fatalf("enable encryption in %s: %v", room, err)
	}
	return room
}

// SendRoomEncrypted Megolm-encrypts content as an event of type typ for
// room and sends it (not sticky), as a client sends a message in an
// encrypted room; the session is shared as by SendStickyEncrypted.
func (c *CryptoClient) SendRoomEncrypted(ctx context.Context, room id.RoomID, typ event.Type, content any, shareWith ...id.UserID) (id.EventID, error) {
	enc, err := c.encryptRoom(ctx, room, typ, content, shareWith)
	if err != nil {
		return "", err
	}
	resp, err := c.Client.SendMessageEvent(ctx, room, event.EventEncrypted, enc)
	if err != nil {
		return "", fmt.Errorf("send encrypted %s: %w", typ.Type, err)
	}
	return resp.EventID, nil
}

// encryptRoom shares the room's Megolm session with shareWith's devices
// (the first time) and encrypts content as typ with it.
func (c *CryptoClient) encryptRoom(ctx context.Context, room id.RoomID, typ event.Type, content any, shareWith []id.UserID) (*event.EncryptedEventContent, error) {
	if err := c.Machine.ShareGroupSession(ctx, room, shareWith); err != nil {
		return nil, fmt.Errorf("share megolm session: %w", err)
	}
	enc, err := c.Machine.EncryptMegolmEvent(ctx, room, typ, content)
	if err != nil {
		return nil, fmt.Errorf("megolm encrypt: %w", err)
	}
	return enc, nil
}
