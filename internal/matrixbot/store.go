package matrixbot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/internal/store"
)

// db is the bot's persistent state in DataDir/matrixbot.db. Only the Run
// goroutine uses it (Close closes it).
type db struct{ sql *sql.DB }

// session is what a login produced and a later run reuses.
type session struct {
	UserID      id.UserID
	DeviceID    id.DeviceID
	AccessToken secret.Value
}

const schema = `
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS joined_rooms (room_id TEXT PRIMARY KEY);
` + decryptedSchema

func openDB(ctx context.Context, dir string) (*db, error) {
	s, err := store.Open(ctx, dir, dbName, schema)
	if err != nil {
		return nil, fmt.Errorf("matrixbot: %w", err)
	}
	return &db{sql: s}, nil
}

func (d *db) get(ctx context.Context, k string) (string, error) {
	var v string
	err := d.sql.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ?`, k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (d *db) loadSession(ctx context.Context) (session, error) {
	var s session
	u, err := d.get(ctx, "user_id")
	if err != nil {
		return s, fmt.Errorf("matrixbot: load session: %w", err)
	}
	dev, err := d.get(ctx, "device_id")
	if err != nil {
		return s, fmt.Errorf("matrixbot: load session: %w", err)
	}
	tok, err := d.get(ctx, "access_token")
	if err != nil {
		return s, fmt.Errorf("matrixbot: load session: %w", err)
	}
	return session{UserID: id.UserID(u), DeviceID: id.DeviceID(dev), AccessToken: secret.Value(tok)}, nil
}

// saveSession stores a new login. A new device (or user) invalidates the
// sync position and the joined set, which belong to the old session.
func (d *db) saveSession(ctx context.Context, s session, resetSync bool) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("matrixbot: save session: %w", err)
	}
	defer tx.Rollback()
	for k, v := range map[string]string{"user_id": string(s.UserID), "device_id": string(s.DeviceID), "access_token": s.AccessToken.Reveal()} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, k, v); err != nil {
			return fmt.Errorf("matrixbot: save session: %w", err)
		}
	}
	if resetSync {
		if _, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE k = 'next_batch'; DELETE FROM joined_rooms; DELETE FROM decrypted_to_device`); err != nil {
			return fmt.Errorf("matrixbot: save session: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("matrixbot: save session: %w", err)
	}
	return nil
}

func (d *db) loadSync(ctx context.Context) (nextBatch string, joined map[id.RoomID]struct{}, err error) {
	nextBatch, err = d.get(ctx, "next_batch")
	if err != nil {
		return "", nil, fmt.Errorf("matrixbot: load next_batch: %w", err)
	}
	rows, err := d.sql.QueryContext(ctx, `SELECT room_id FROM joined_rooms`)
	if err != nil {
		return "", nil, fmt.Errorf("matrixbot: load joined rooms: %w", err)
	}
	defer rows.Close()
	joined = map[id.RoomID]struct{}{}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return "", nil, fmt.Errorf("matrixbot: load joined rooms: %w", err)
		}
		joined[id.RoomID(r)] = struct{}{}
	}
	return nextBatch, joined, rows.Err()
}

// saveSync stores next_batch and the joined-room set in one transaction,
// and drops the to-device events decrypted from the batches before it.
func (d *db) saveSync(ctx context.Context, nextBatch string, joined map[id.RoomID]struct{}) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("matrixbot: save next_batch: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES ('next_batch', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, nextBatch); err != nil {
		return fmt.Errorf("matrixbot: save next_batch: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM joined_rooms`); err != nil {
		return fmt.Errorf("matrixbot: save joined rooms: %w", err)
	}
	// The batch is acknowledged: what was decrypted from it is not needed.
	if _, err := tx.ExecContext(ctx, `DELETE FROM decrypted_to_device`); err != nil {
		return fmt.Errorf("matrixbot: prune decrypted to-device events: %w", err)
	}
	for r := range joined {
		if _, err := tx.ExecContext(ctx, `INSERT INTO joined_rooms (room_id) VALUES (?)`, string(r)); err != nil {
			return fmt.Errorf("matrixbot: save joined rooms: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("matrixbot: save next_batch: %w", err)
	}
	return nil
}
