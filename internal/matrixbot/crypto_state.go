package matrixbot

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// cryptoSchema holds what the Olm machine needs beside mautrix's own crypto_*
// tables (which live in the same database file): the rooms whose
// m.room.encryption state the sync delivered.
const cryptoSchema = `
CREATE TABLE IF NOT EXISTS encrypted_rooms (room_id TEXT PRIMARY KEY, content TEXT NOT NULL);
`

const pickleKeyName = "crypto_pickle_key"

// pickleKey returns the key mautrix encrypts the stored Olm account and
// sessions with, generating and persisting it on first use. It sits in the
// same file as what it protects, so it guards against nothing but a careless
// copy of single rows; what it buys is a stable key across restarts.
func pickleKey(ctx context.Context, d *db) ([]byte, error) {
	v, err := d.get(ctx, pickleKeyName)
	if err != nil {
		return nil, fmt.Errorf("matrixbot: load pickle key: %w", err)
	}
	if v != "" {
		k, err := base64.RawStdEncoding.DecodeString(v)
		if err != nil || len(k) < 32 {
			return nil, errors.New("matrixbot: stored pickle key is corrupt")
		}
		return k, nil
	}
	k := make([]byte, 32)
	rand.Read(k)
	// INSERT OR IGNORE + re-read: never replace a key that already protects data.
	if _, err := d.sql.ExecContext(ctx, `INSERT OR IGNORE INTO kv (k, v) VALUES (?, ?)`, pickleKeyName, base64.RawStdEncoding.EncodeToString(k)); err != nil {
		return nil, fmt.Errorf("matrixbot: save pickle key: %w", err)
	}
	return pickleKey(ctx, d)
}

// roomStates is the crypto.StateStore the Olm machine gets, and the answer
// to Bot.RoomEncrypted. The sync goroutine writes it; any goroutine reads.
// Membership and history visibility are not tracked: notices (the only
// Megolm the bot sends) ask the homeserver for the joined members.
type roomStates struct {
	db *sql.DB

	mu    sync.RWMutex
	rooms map[id.RoomID]*event.EncryptionEventContent
}

var _ crypto.StateStore = (*roomStates)(nil)

func loadRoomStates(ctx context.Context, d *sql.DB) (*roomStates, error) {
	if _, err := d.ExecContext(ctx, cryptoSchema); err != nil {
		return nil, fmt.Errorf("matrixbot: create crypto schema: %w", err)
	}
	rows, err := d.QueryContext(ctx, `SELECT room_id, content FROM encrypted_rooms`)
	if err != nil {
		return nil, fmt.Errorf("matrixbot: load encrypted rooms: %w", err)
	}
	defer rows.Close()
	rs := &roomStates{db: d, rooms: map[id.RoomID]*event.EncryptionEventContent{}}
	for rows.Next() {
		var room, content string
		if err := rows.Scan(&room, &content); err != nil {
			return nil, fmt.Errorf("matrixbot: load encrypted rooms: %w", err)
		}
		var c event.EncryptionEventContent
		if err := json.Unmarshal([]byte(content), &c); err != nil {
			return nil, fmt.Errorf("matrixbot: load encrypted rooms: %s: %w", room, err)
		}
		rs.rooms[id.RoomID(room)] = &c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("matrixbot: load encrypted rooms: %w", err)
	}
	return rs, nil
}

// note records an m.room.encryption state event of a joined room. Content
// without an algorithm does not disable encryption (the spec forbids that),
// so it is ignored.
func (rs *roomStates) note(ctx context.Context, evt *event.Event) error {
	c, ok := evt.Content.Parsed.(*event.EncryptionEventContent)
	if !ok || c.Algorithm == "" {
		return nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("matrixbot: save encrypted room: %w", err)
	}
	if _, err := rs.db.ExecContext(ctx, `INSERT INTO encrypted_rooms (room_id, content) VALUES (?, ?)
		ON CONFLICT (room_id) DO UPDATE SET content = excluded.content`, string(evt.RoomID), string(b)); err != nil {
		return fmt.Errorf("matrixbot: save encrypted room: %w", err)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.rooms[evt.RoomID] = c
	return nil
}

// forget drops a room the bot left.
func (rs *roomStates) forget(ctx context.Context, room id.RoomID) error {
	if _, err := rs.db.ExecContext(ctx, `DELETE FROM encrypted_rooms WHERE room_id = ?`, string(room)); err != nil {
		return fmt.Errorf("matrixbot: forget encrypted room: %w", err)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.rooms, room)
	return nil
}

func (rs *roomStates) IsEncrypted(_ context.Context, room id.RoomID) (bool, error) {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	_, ok := rs.rooms[room]
	return ok, nil
}

func (rs *roomStates) GetEncryptionEvent(_ context.Context, room id.RoomID) (*event.EncryptionEventContent, error) {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	c, ok := rs.rooms[room]
	if !ok {
		return nil, nil
	}
	cp := *c
	return &cp, nil
}

func (rs *roomStates) GetHistoryVisibility(context.Context, id.RoomID) (*event.HistoryVisibilityEventContent, error) {
	return nil, nil
}

func (rs *roomStates) FindSharedRooms(context.Context, id.UserID) ([]id.RoomID, error) {
	return nil, nil
}
