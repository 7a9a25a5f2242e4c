package matrixbot

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// decryptCache keeps the to-device events decrypted from the batch being
// handled, in the bot's database, until the batch is acknowledged: Olm
// refuses a message it decrypted before, so a batch delivered again (after
// a failure while handling it, or a crash before next_batch was saved) must
// reuse the result. db.saveSync empties it in the transaction that saves
// next_batch. A zero decryptCache keeps nothing.
type decryptCache struct{ db *sql.DB }

// decryptedSchema is the table behind decryptCache.
const decryptedSchema = `CREATE TABLE IF NOT EXISTS decrypted_to_device (k BLOB PRIMARY KEY, event TEXT NOT NULL);`

// storedToDevice is a decrypted to-device Event as persisted.
type storedToDevice struct {
	Type         string          `json:"type"`
	Sender       id.UserID       `json:"sender"`
	Content      json.RawMessage `json:"content"`
	ToUserID     id.UserID       `json:"to_user_id,omitempty"`
	ToDeviceID   id.DeviceID     `json:"to_device_id,omitempty"`
	SenderDevice id.DeviceID     `json:"sender_device,omitempty"`
	SenderKey    id.SenderKey    `json:"sender_key"`
}

func cacheKey(evt *event.Event) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(evt.Sender))
	h.Write([]byte{0})
	h.Write(evt.Content.VeryRaw)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// get returns the event decrypted earlier under k. A read failure counts as
// a miss (logged): Olm then refuses the replay, as it would have anyway.
func (c decryptCache) get(ctx context.Context, k [sha256.Size]byte, log *slog.Logger) (Event, bool) {
	if c.db == nil {
		return Event{}, false
	}
	var raw string
	err := c.db.QueryRowContext(ctx, `SELECT event FROM decrypted_to_device WHERE k = ?`, k[:]).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, false
	}
	var s storedToDevice
	if err == nil {
		err = json.Unmarshal([]byte(raw), &s)
	}
	var content event.Content
	if err == nil {
		err = json.Unmarshal(s.Content, &content)
	}
	if err != nil {
		log.Warn("could not read a decrypted to-device event back", "err", err)
		return Event{}, false
	}
	typ := event.Type{Type: s.Type, Class: event.ToDeviceEventType}
	if _, known := event.TypeMap[typ]; known {
		_ = content.ParseRaw(typ)
	}
	return Event{
		Kind:         KindToDevice,
		Evt:          &event.Event{Sender: s.Sender, Type: typ, Content: content, ToUserID: s.ToUserID, ToDeviceID: s.ToDeviceID},
		Sender:       s.Sender,
		Encrypted:    true,
		SenderDevice: s.SenderDevice,
		SenderKey:    s.SenderKey,
	}, true
}

// put persists e, decrypted from the event keyed k, before it is handed
// over. A write failure is logged: the event is still delivered, only a
// crash before the batch is saved would lose it.
func (c decryptCache) put(ctx context.Context, k [sha256.Size]byte, e Event, log *slog.Logger) {
	if c.db == nil {
		return
	}
	content, err := json.Marshal(&e.Evt.Content)
	var raw []byte
	if err == nil {
		raw, err = json.Marshal(storedToDevice{Type: e.Evt.Type.Type, Sender: e.Sender, Content: content,
			ToUserID: e.Evt.ToUserID, ToDeviceID: e.Evt.ToDeviceID, SenderDevice: e.SenderDevice, SenderKey: e.SenderKey})
	}
	if err == nil {
		_, err = c.db.ExecContext(ctx, `INSERT OR REPLACE INTO decrypted_to_device (k, event) VALUES (?, ?)`, k[:], string(raw))
	}
	if err != nil {
		log.Warn("could not persist a decrypted to-device event; a crash before the sync position is saved would lose it", "err", err)
	}
}
