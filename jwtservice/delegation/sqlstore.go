package delegation

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/store"
)

// StoreFile is the database the jobs are kept in, inside the data directory.
const StoreFile = "delegation.db"

// SQLStore keeps delegated jobs in SQLite (DataDir/delegation.db). The
// file holds delay ids, which are capabilities: the data directory must be
// private (store.Open makes it 0700).
type SQLStore struct{ db *sql.DB }

var _ Store = (*SQLStore)(nil)

const storeSchema = `CREATE TABLE IF NOT EXISTS jobs (
	room TEXT NOT NULL, identity TEXT NOT NULL,
	user_id TEXT NOT NULL, device_id TEXT NOT NULL,
	delay_id TEXT NOT NULL, delay_timeout_ms INTEGER NOT NULL, csapi_url TEXT NOT NULL,
	added_at_ms INTEGER NOT NULL, restarted_at_ms INTEGER NOT NULL, connected INTEGER NOT NULL,
	PRIMARY KEY (room, identity))`

// OpenStore opens (creating if needed) the job store in dir.
func OpenStore(ctx context.Context, dir string) (*SQLStore, error) {
	db, err := store.Open(ctx, dir, StoreFile, storeSchema)
	if err != nil {
		return nil, fmt.Errorf("delegation: store: %w", err)
	}
	return &SQLStore{db: db}, nil
}

// Close closes the database.
func (s *SQLStore) Close() error { return s.db.Close() }

func (s *SQLStore) Save(ctx context.Context, j Stored) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO jobs (room, identity, user_id, device_id, delay_id,
		delay_timeout_ms, csapi_url, added_at_ms, restarted_at_ms, connected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.Room, j.Identity, j.UserID, j.DeviceID, j.DelayID, j.DelayTimeout.Milliseconds(), j.CSAPIURL,
		unixMilli(j.AddedAt), unixMilli(j.RestartedAt), j.Connected)
	if err != nil {
		return fmt.Errorf("delegation: save job: %w", err)
	}
	return nil
}

func (s *SQLStore) Delete(ctx context.Context, room, identity string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM jobs WHERE room = ? AND identity = ?`, room, identity); err != nil {
		return fmt.Errorf("delegation: delete job: %w", err)
	}
	return nil
}

func (s *SQLStore) Load(ctx context.Context) ([]Stored, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT room, identity, user_id, device_id, delay_id, delay_timeout_ms,
		csapi_url, added_at_ms, restarted_at_ms, connected FROM jobs`)
	if err != nil {
		return nil, fmt.Errorf("delegation: load jobs: %w", err)
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		var j Stored
		var timeoutMS, added, restarted int64
		if err := rows.Scan(&j.Room, &j.Identity, &j.UserID, &j.DeviceID, &j.DelayID, &timeoutMS, &j.CSAPIURL,
			&added, &restarted, &j.Connected); err != nil {
			return nil, fmt.Errorf("delegation: load jobs: %w", err)
		}
		j.DelayTimeout = time.Duration(timeoutMS) * time.Millisecond
		j.AddedAt, j.RestartedAt = fromMilli(added), fromMilli(restarted)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delegation: load jobs: %w", err)
	}
	return out, nil
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
