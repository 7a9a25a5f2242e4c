package membership

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/store"
)

// InviteLog remembers the rooms the bot was invited to (the "invited" join
// policy), across restarts, in DataDir/membership.db. The feed writes it;
// the policy reads it from other goroutines.
type InviteLog struct {
	db    *sql.DB
	mu    sync.RWMutex
	rooms map[id.RoomID]bool
}

const inviteSchema = `CREATE TABLE IF NOT EXISTS invited_rooms (room_id TEXT PRIMARY KEY, inviter TEXT NOT NULL)`

// OpenInviteLog opens (creating if needed) the log in dir.
func OpenInviteLog(ctx context.Context, dir string) (_ *InviteLog, err error) {
	db, err := store.Open(ctx, dir, "membership.db", inviteSchema)
	if err != nil {
		return nil, fmt.Errorf("membership: invite log: %w", err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	rows, err := db.QueryContext(ctx, `SELECT room_id FROM invited_rooms`)
	if err != nil {
		return nil, fmt.Errorf("membership: invite log: %w", err)
	}
	defer rows.Close()
	l := &InviteLog{db: db, rooms: map[id.RoomID]bool{}}
	for rows.Next() {
		var room string
		if err := rows.Scan(&room); err != nil {
			return nil, fmt.Errorf("membership: invite log: %w", err)
		}
		l.rooms[id.RoomID(room)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("membership: invite log: %w", err)
	}
	return l, nil
}

// Invited reports whether the bot was invited to room (and has not left it since).
func (l *InviteLog) Invited(room id.RoomID) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.rooms[room]
}

func (l *InviteLog) record(ctx context.Context, room id.RoomID, inviter id.UserID) error {
	if _, err := l.db.ExecContext(ctx, `INSERT INTO invited_rooms (room_id, inviter) VALUES (?, ?)
		ON CONFLICT (room_id) DO UPDATE SET inviter = excluded.inviter`, string(room), string(inviter)); err != nil {
		return fmt.Errorf("membership: record invite: %w", err)
	}
	l.mu.Lock()
	l.rooms[room] = true
	l.mu.Unlock()
	return nil
}

func (l *InviteLog) forget(ctx context.Context, room id.RoomID) error {
	if _, err := l.db.ExecContext(ctx, `DELETE FROM invited_rooms WHERE room_id = ?`, string(room)); err != nil {
		return fmt.Errorf("membership: forget invite: %w", err)
	}
	l.mu.Lock()
	delete(l.rooms, room)
	l.mu.Unlock()
	return nil
}

// Close closes the database; it is idempotent.
func (l *InviteLog) Close() error { return l.db.Close() }
