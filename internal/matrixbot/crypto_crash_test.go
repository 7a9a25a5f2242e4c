package matrixbot

import (
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// TestDecryptedToDeviceSurvivesCrash (#9 defect 11): the bot handles a
// sync batch with an Olm-encrypted to-device event and "crashes" before
// the batch is acknowledged (next_batch not saved). After the restart the
// homeserver delivers the batch again; Olm refuses to decrypt a message
// twice, yet the event comes out again, from what was persisted.
func TestDecryptedToDeviceSurvivesCrash(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	b1, o1 := offlineOlmIn(t, dir)
	p := newPeer(t, o1)
	wire, err := json.Marshal(p.encrypt(t, o1, "io.element.call.encryption_keys", map[string]any{"n": 1}))
	if err != nil {
		t.Fatal(err)
	}
	// The same response each time, decoded afresh as from the network.
	batch := func() *mautrix.RespSync {
		resp := &mautrix.RespSync{NextBatch: "s2", DeviceOTKCount: mautrix.OTKCount{SignedCurve25519: 50}}
		var evt event.Event
		if err := json.Unmarshal(wire, &evt); err != nil {
			t.Fatal(err)
		}
		resp.ToDevice.Events = []*event.Event{&evt}
		return resp
	}
	handled := func(b *Bot, o *olmDevice) []Event {
		t.Helper()
		s := &syncer{bot: b, olm: o, since: "s1", joined: map[id.RoomID]struct{}{},
			decrypted: decryptCache{db: b.db.sql}, roomCrypto: newRoomCrypto()}
		if err := s.handle(t.Context(), batch()); err != nil {
			t.Fatalf("handle: %v", err)
		}
		var out []Event
		for len(b.events) > 0 {
			if e := <-b.events; e.Kind == KindToDevice {
				out = append(out, e)
			}
		}
		return out
	}
	check := func(run string, got []Event) {
		t.Helper()
		if len(got) != 1 || !got[0].Encrypted || got[0].Sender != peerUser || got[0].SenderKey != id.SenderKey(p.acc.IdentityKey()) ||
			got[0].Evt.Type.Type != "io.element.call.encryption_keys" || got[0].Evt.Content.Raw["n"] != 1.0 {
			t.Fatalf("%s: to-device events %+v", run, got)
		}
	}
	check("first run", handled(b1, o1))
	b1.Close() // the crash: next_batch was never saved

	b2, o2 := offlineOlmIn(t, dir)
	check("after the restart", handled(b2, o2))

	// Once the batch is acknowledged the plaintext is gone.
	if err := b2.db.saveSync(t.Context(), "s2", map[id.RoomID]struct{}{}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b2.db.sql.QueryRowContext(t.Context(), `SELECT count(*) FROM decrypted_to_device`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d decrypted events kept after the batch was saved (%v)", n, err)
	}
}
