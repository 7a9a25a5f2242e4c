package matrixbot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Errors of the end-to-end encryption layer.
var (
	// ErrCryptoNotReady: the bot has not logged in yet, so it has no Olm
	// device to send from.
	ErrCryptoNotReady = errors.New("matrixbot: end-to-end encryption not ready (not logged in yet)")
	// ErrUnknownDevice: the homeserver knows no device keys for a recipient.
	ErrUnknownDevice = errors.New("matrixbot: unknown device")
	// ErrNoOlmSession: no Olm session could be made with a recipient device
	// (it has no one-time key left, or its key was badly signed).
	ErrNoOlmSession = errors.New("matrixbot: no Olm session with device")
	// ErrBadContent: the content to send does not encode as a JSON object.
	ErrBadContent = errors.New("matrixbot: to-device content is not a JSON object")
)

// olmDevice is the bot's Olm identity for one logged-in device: mautrix's
// OlmMachine on a crypto.SQLCryptoStore whose crypto_* tables live in
// matrixbot.db beside the bot's own. Identity keys and sessions are keyed by
// user and device, so they survive restarts and a new device gets a new
// identity.
//
// Concurrency: the machine is safe for concurrent use (it locks its Olm
// state); the Run goroutine feeds it sync data while senders encrypt from
// other goroutines. Its HTTP client is its own and takes the access token of
// the bot's current login per request, so a re-login (same device) needs no
// change here.
type olmDevice struct {
	mach   *crypto.OlmMachine
	cli    *mautrix.Client
	device id.DeviceID
	log    *slog.Logger
	// sessions serializes Olm decryption (which may add an inbound
	// session) with Olm encryption (which looks sessions up): mautrix's
	// SQLCryptoStore reads a sender's session cache map outside its lock
	// (HasSession's len), a data race when a device's first message and
	// ours to it cross (mesh call glare).
	sessions sync.Mutex
}

// openOlm loads (or creates) the Olm account of login's device.
func (b *Bot) openOlm(ctx context.Context, login *mautrix.Client) (*olmDevice, error) {
	key, err := pickleKey(ctx, b.db)
	if err != nil {
		return nil, err
	}
	mdb, err := dbutil.NewWithDB(b.db.sql, "sqlite3")
	if err != nil {
		return nil, fmt.Errorf("matrixbot: crypto store: %w", err)
	}
	log := b.logger.With("from", "mautrix-crypto", "device", login.DeviceID)
	zl := zerologToSlog(log)
	accountID := string(login.UserID) + "/" + string(login.DeviceID)
	store := crypto.NewSQLCryptoStore(mdb, dbutil.NoopLogger, accountID, login.DeviceID, key)
	if err := store.DB.Upgrade(ctx); err != nil {
		return nil, fmt.Errorf("matrixbot: crypto store schema: %w", err)
	}
	cli, err := mautrix.NewClient(b.cfg.HomeserverURL, login.UserID, "")
	if err != nil {
		return nil, fmt.Errorf("matrixbot: %w", err)
	}
	cli.DeviceID = login.DeviceID
	cli.Client = b.http
	cli.Log = zl
	cli.RequestHook = func(r *http.Request) {
		if c := b.Client(); c != nil {
			r.Header.Set("Authorization", "Bearer "+c.AccessToken)
		}
	}
	mach := crypto.NewOlmMachine(cli, &zl, store, b.rooms)
	// The outbound Megolm sessions of notices are renewed on any change
	// of recipients by notice_megolm.go itself.
	mach.DisableDeviceChangeKeyRotation = true
	if err := mach.Load(ctx); err != nil {
		return nil, fmt.Errorf("matrixbot: load Olm account: %w", err)
	}
	return &olmDevice{mach: mach, cli: cli, device: login.DeviceID, log: log}, nil
}

// ensureOlm makes sure the bot's Olm device matches login's device, opening
// it on first login or after a re-login that changed the device. It needs
// no network: keys are uploaded by the sync loop.
func (b *Bot) ensureOlm(ctx context.Context, login *mautrix.Client) error {
	b.mu.Lock()
	cur := b.olm
	b.mu.Unlock()
	if cur != nil && cur.device == login.DeviceID {
		return nil
	}
	o, err := b.openOlm(ctx, login)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		o.destroy()
		return net.ErrClosed
	}
	if b.olm != nil {
		b.logger.Warn("device changed; using a new Olm identity", "old", b.olm.device, "new", o.device)
		b.olm.destroy()
	}
	b.olm = o
	return nil
}

// currentOlm returns the Olm device for senders.
func (b *Bot) currentOlm() (*olmDevice, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, net.ErrClosed
	}
	if b.olm == nil {
		return nil, ErrCryptoNotReady
	}
	return b.olm, nil
}

// IdentityKey is the bot's Curve25519 identity key ("" before login).
func (b *Bot) IdentityKey() id.IdentityKey {
	o, err := b.currentOlm()
	if err != nil {
		return ""
	}
	return o.mach.OwnIdentity().IdentityKey
}

// shareKeys uploads the device keys if they never were, and tops the
// one-time keys up to half the account's capacity (asking the server for
// the current count first).
func (o *olmDevice) shareKeys(ctx context.Context) error {
	if err := o.mach.ShareKeys(ctx, -1); err != nil {
		return fmt.Errorf("matrixbot: upload keys: %w", err)
	}
	return nil
}

// syncKeys feeds the machine the sync's device list changes (it refetches
// the keys of tracked users who changed) and one-time key counts (it
// uploads more when fewer than half are left). Failures are logged by
// mautrix and retried on later syncs.
func (o *olmDevice) syncKeys(ctx context.Context, resp *mautrix.RespSync, since string) {
	o.mach.HandleDeviceLists(ctx, &resp.DeviceLists, since)
	o.mach.HandleOTKCounts(ctx, &resp.DeviceOTKCount)
}

// toDevice turns one to-device event of a sync into the Event to emit.
// Olm-encrypted events are decrypted; those the machine consumes itself
// (room keys, dummies) or cannot decrypt yield nothing (mautrix logs why).
// Plain events pass through marked not encrypted.
func (o *olmDevice) toDevice(ctx context.Context, evt *event.Event, cache decryptCache) (Event, bool) {
	if evt.Type != event.ToDeviceEncrypted {
		return Event{Kind: KindToDevice, Evt: evt, Sender: evt.Sender}, true
	}
	content, ok := evt.Content.Parsed.(*event.EncryptedEventContent)
	if !ok || content.Algorithm != id.AlgorithmOlmV1 {
		o.log.Debug("dropping encrypted to-device event that is not Olm", "sender", evt.Sender)
		return Event{}, false
	}
	k := cacheKey(evt)
	if e, ok := cache.get(ctx, k, o.log); ok {
		return e, true
	}
	o.sessions.Lock()
	dec := o.mach.HandleEncryptedEvent(ctx, evt)
	o.sessions.Unlock()
	if dec == nil {
		// Consumed by the machine (room keys are stored at once) or
		// undecryptable.
		return Event{}, false
	}
	var device id.DeviceID
	if dec.SenderDevice != nil {
		device = dec.SenderDevice.DeviceID
	}
	dec.Type.Class = event.ToDeviceEventType
	e := Event{
		Kind: KindToDevice,
		Evt: &event.Event{
			Sender:     dec.Sender,
			Type:       dec.Type,
			Content:    dec.Content,
			ToUserID:   evt.ToUserID,
			ToDeviceID: evt.ToDeviceID,
		},
		Sender:       dec.Sender,
		Encrypted:    true,
		SenderDevice: device,
		SenderKey:    dec.SenderKey,
	}
	cache.put(ctx, k, e, o.log)
	return e, true
}

func (o *olmDevice) destroy() { o.mach.Destroy() }
