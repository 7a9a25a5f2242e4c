package matrixbot

import (
	"encoding/json"
	"errors"
	"math"
	"net"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

const (
	offlineBot    = id.UserID("@bot:localhost")
	offlineBotDev = id.DeviceID("BOTDEVICE")
	peerUser      = id.UserID("@peer:localhost")
	peerDev       = id.DeviceID("PEERDEVICE")
)

// offlineOlm is a Bot with an Olm device but no homeserver (its URL points
// at a closed port, so anything mautrix tries to fetch fails at once).
func offlineOlm(t testing.TB) (*Bot, *olmDevice) {
	t.Helper()
	return offlineOlmIn(t, t.TempDir())
}

// offlineOlmIn is offlineOlm on the data dir dir (a second one on the same
// dir is the bot after a restart).
func offlineOlmIn(t testing.TB, dir string) (*Bot, *olmDevice) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b, err := New(nil, Config{HomeserverURL: "http://" + addr, UserID: offlineBot, Password: "x", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	cli, err := mautrix.NewClient(b.cfg.HomeserverURL, offlineBot, "")
	if err != nil {
		t.Fatal(err)
	}
	cli.DeviceID = offlineBotDev
	if err := b.ensureOlm(t.Context(), cli); err != nil {
		t.Fatal(err)
	}
	o, err := b.currentOlm()
	if err != nil {
		t.Fatal(err)
	}
	o.mach.DisableDecryptKeyFetching = true
	return b, o
}

// peer is a second Olm account that encrypts to the bot without a server:
// it takes one of the bot's one-time keys directly.
type peer struct {
	acc  *crypto.OlmAccount
	sess interface {
		Encrypt([]byte) (id.OlmMsgType, []byte, error)
	}
}

func newPeer(t testing.TB, o *olmDevice) *peer {
	t.Helper()
	botAcc := o.mach.GetAccount()
	if err := botAcc.Internal.GenOneTimeKeys(1); err != nil {
		t.Fatal(err)
	}
	otks, err := botAcc.Internal.OneTimeKeys()
	if err != nil || len(otks) == 0 {
		t.Fatalf("bot one-time keys: %v %v", otks, err)
	}
	var otk id.Curve25519
	for _, k := range otks {
		otk = k
	}
	acc := crypto.NewOlmAccount()
	sess, err := acc.Internal.NewOutboundSession(botAcc.IdentityKey(), otk)
	if err != nil {
		t.Fatal(err)
	}
	return &peer{acc: acc, sess: sess}
}

// encrypt makes the m.room.encrypted to-device event a real client sends.
func (p *peer) encrypt(t testing.TB, o *olmDevice, typ string, content map[string]any) *event.Event {
	t.Helper()
	raw, _ := json.Marshal(content)
	payload, err := json.Marshal(&crypto.DecryptedOlmEvent{
		Sender:        peerUser,
		Keys:          crypto.OlmEventKeys{Ed25519: p.acc.SigningKey()},
		Recipient:     offlineBot,
		RecipientKeys: crypto.OlmEventKeys{Ed25519: o.mach.GetAccount().SigningKey()},
		Type:          event.Type{Type: typ, Class: event.ToDeviceEventType},
		Content:       event.Content{VeryRaw: raw},
	})
	if err != nil {
		t.Fatal(err)
	}
	msgType, ciphertext, err := p.sess.Encrypt(payload)
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := json.Marshal(map[string]any{
		"type": "m.room.encrypted", "sender": peerUser,
		"content": map[string]any{
			"algorithm": id.AlgorithmOlmV1, "sender_key": p.acc.IdentityKey(),
			"ciphertext": map[id.IdentityKey]any{o.mach.GetAccount().IdentityKey(): map[string]any{"type": msgType, "body": string(ciphertext)}},
		},
	})
	return wireEvent(t, wire)
}

// wireEvent decodes a to-device event as the sync does.
func wireEvent(t testing.TB, wire []byte) *event.Event {
	t.Helper()
	var evt event.Event
	if err := json.Unmarshal(wire, &evt); err != nil {
		t.Fatal(err)
	}
	prepare(&evt, "", event.ToDeviceEventType)
	return &evt
}

func TestOlmDecryptOffline(t *testing.T) {
	leakcheck.Check(t)
	b, o := offlineOlm(t)
	p := newPeer(t, o)
	ctx := t.Context()

	// Sender device unknown: decrypted, but no device named.
	cache := decryptCache{db: b.db.sql}
	first := p.encrypt(t, o, "io.element.call.encryption_keys", map[string]any{"n": 1})
	e, ok := o.toDevice(ctx, first, cache)
	if !ok || !e.Encrypted || e.SenderDevice != "" || e.SenderKey != id.SenderKey(p.acc.IdentityKey()) ||
		e.Sender != peerUser || e.Evt.Type.Type != "io.element.call.encryption_keys" || e.Evt.Content.Raw["n"] != 1.0 {
		t.Fatalf("first event: ok=%v %+v content %v", ok, e, e.Evt)
	}
	// A batch handed over again: Olm would refuse the repeat, the cache answers.
	if again, ok := o.toDevice(ctx, first, cache); !ok || again.Evt.Content.Raw["n"] != 1.0 {
		t.Errorf("redelivered event from cache: ok=%v %+v", ok, again)
	}
	if _, ok := o.toDevice(ctx, first, decryptCache{}); ok {
		t.Error("a replayed Olm message was accepted")
	}

	// Once the peer's device keys are known, the device is named.
	if err := o.mach.CryptoStore.PutDevice(ctx, peerUser, &id.Device{UserID: peerUser, DeviceID: peerDev,
		IdentityKey: p.acc.IdentityKey(), SigningKey: p.acc.SigningKey()}); err != nil {
		t.Fatal(err)
	}
	e, ok = o.toDevice(ctx, p.encrypt(t, o, "io.element.call.encryption_keys", map[string]any{"n": 2}), decryptCache{})
	if !ok || e.SenderDevice != peerDev || e.Evt.Content.Raw["n"] != 2.0 {
		t.Errorf("second event: ok=%v %+v", ok, e)
	}

	// Plain events pass through; garbage and non-Olm algorithms are dropped.
	plain := wireEvent(t, []byte(`{"type":"io.test.plain","sender":"@x:localhost","content":{"a":"b"}}`))
	if e, ok := o.toDevice(ctx, plain, decryptCache{}); !ok || e.Encrypted || e.Evt != plain || e.Sender != "@x:localhost" {
		t.Errorf("plain: ok=%v %+v", ok, e)
	}
	for _, w := range []string{
		`{"type":"m.room.encrypted","sender":"@x:localhost","content":{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"x"}}`,
		`{"type":"m.room.encrypted","sender":"@x:localhost","content":{"algorithm":"m.olm.v1.curve25519-aes-sha2","sender_key":"AAAA","ciphertext":{}}}`,
		`{"type":"m.room.encrypted","sender":"@x:localhost","content":{"algorithm":"m.olm.v1.curve25519-aes-sha2","ciphertext":"not a map"}}`,
	} {
		if e, ok := o.toDevice(ctx, wireEvent(t, []byte(w)), decryptCache{}); ok {
			t.Errorf("%s: emitted %+v", w, e)
		}
	}
}

func TestRoomStatesAndPickleKey(t *testing.T) {
	b, _ := offlineOlm(t)
	ctx := t.Context()
	k1, err := pickleKey(ctx, b.db)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := pickleKey(ctx, b.db)
	if err != nil || string(k1) != string(k2) || len(k1) != 32 {
		t.Fatalf("pickle key not stable: %x %x %v", k1, k2, err)
	}
	room := id.RoomID("!r:localhost")
	evt := wireEvent(t, []byte(`{"type":"m.room.encryption","state_key":"","content":{"algorithm":"m.megolm.v1.aes-sha2"}}`))
	prepare(evt, room, event.StateEventType)
	if err := b.rooms.note(ctx, evt); err != nil {
		t.Fatal(err)
	}
	empty := wireEvent(t, []byte(`{"type":"m.room.encryption","state_key":"","content":{}}`))
	prepare(empty, "!other:localhost", event.StateEventType)
	if err := b.rooms.note(ctx, empty); err != nil {
		t.Fatal(err)
	}
	reloaded, err := loadRoomStates(ctx, b.db.sql)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := reloaded.IsEncrypted(ctx, room); !ok || !b.RoomEncrypted(room) || b.RoomEncrypted("!other:localhost") {
		t.Errorf("encrypted rooms after reload: %v", reloaded.rooms)
	}
	if c, _ := reloaded.GetEncryptionEvent(ctx, room); c == nil || c.Algorithm != id.AlgorithmMegolmV1 {
		t.Errorf("encryption content %+v", c)
	}
	if err := b.rooms.forget(ctx, room); err != nil || b.RoomEncrypted(room) {
		t.Errorf("forget: %v", err)
	}
}

func TestToDeviceContent(t *testing.T) {
	for _, bad := range []any{"s", 1, nil, []int{1}, math.Inf(1), make(chan int)} {
		if _, err := toDeviceContent(bad); !errors.Is(err, ErrBadContent) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	c, err := toDeviceContent(map[string]any{"a": 1})
	if err != nil || string(c.VeryRaw) != `{"a":1}` {
		t.Errorf("object: %s %v", c.VeryRaw, err)
	}
}

func TestSendBeforeLoginAndAfterClose(t *testing.T) {
	b, err := New(nil, Config{HomeserverURL: "http://127.0.0.1:1", UserID: offlineBot, Password: "x", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	to := map[id.UserID][]id.DeviceID{peerUser: {peerDev}}
	if err := b.SendEncryptedToDevice(t.Context(), typeCallKeys, to, map[string]any{}); !errors.Is(err, ErrCryptoNotReady) {
		t.Errorf("encrypted before login: %v", err)
	}
	if err := b.SendToDevice(t.Context(), typeCallKeys, to, map[string]any{}); !errors.Is(err, ErrCryptoNotReady) {
		t.Errorf("plain before login: %v", err)
	}
	if b.IdentityKey() != "" {
		t.Error("identity key before login")
	}
	b.Close()
	if err := b.SendEncryptedToDevice(t.Context(), typeCallKeys, to, map[string]any{}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// FuzzOlmToDevice feeds arbitrary to-device events (as the sync decodes
// them) to the Olm layer: hostile input must never panic and nothing that
// did not decrypt may come out marked encrypted.
func FuzzOlmToDevice(f *testing.F) {
	_, o := offlineOlm(f)
	p := newPeer(f, o)
	real := p.encrypt(f, o, "io.element.call.encryption_keys", map[string]any{"keys": []any{map[string]any{"index": 0, "key": "a2V5"}}})
	wire, _ := json.Marshal(real)
	f.Add(wire)
	f.Add([]byte(`{"type":"io.element.call.encryption_keys","sender":"@a:localhost","content":{"keys":[{"index":0,"key":"a2V5"}]}}`))
	f.Add([]byte(`{"type":"m.room.encrypted","sender":"@a:localhost","content":{"algorithm":"m.olm.v1.curve25519-aes-sha2","sender_key":"x","ciphertext":{"k":{"type":0,"body":"AAAA"}}}}`))
	f.Add([]byte(`{"type":"m.room.encrypted","content":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var evt event.Event
		if json.Unmarshal(data, &evt) != nil {
			return
		}
		prepare(&evt, "", event.ToDeviceEventType)
		e, ok := o.toDevice(t.Context(), &evt, decryptCache{})
		if ok && e.Encrypted && e.SenderKey == "" {
			t.Fatalf("encrypted event without sender key: %+v", e)
		}
		if ok && e.Evt == nil {
			t.Fatal("event without Evt")
		}
	})
}
