package calls

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchboard-rtc/switchboard/internal/store"
)

// OverridesFile is the database the overrides are kept in, inside the data
// directory.
const OverridesFile = "calls.db"

// SQLOverrides keeps the room commands' overrides in SQLite
// (DataDir/calls.db).
type SQLOverrides struct{ db *sql.DB }

var _ OverrideStore = (*SQLOverrides)(nil)

const overridesSchema = `CREATE TABLE IF NOT EXISTS overrides (
	room TEXT NOT NULL, call_id TEXT NOT NULL, application TEXT NOT NULL, scope TEXT NOT NULL,
	command TEXT NOT NULL,
	PRIMARY KEY (room, call_id, application, scope, command))`

// OpenOverrides opens (creating if needed) the override store in dir.
func OpenOverrides(ctx context.Context, dir string) (*SQLOverrides, error) {
	db, err := store.Open(ctx, dir, OverridesFile, overridesSchema)
	if err != nil {
		return nil, fmt.Errorf("calls: override store: %w", err)
	}
	return &SQLOverrides{db: db}, nil
}

// Close closes the database.
func (s *SQLOverrides) Close() error { return s.db.Close() }

// LoadOverrides reads every stored override.
func (s *SQLOverrides) LoadOverrides(ctx context.Context) ([]Override, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT room, call_id, application, scope, command FROM overrides
		ORDER BY room, call_id, application, scope, command`)
	if err != nil {
		return nil, fmt.Errorf("calls: load overrides: %w", err)
	}
	defer rows.Close()
	var out []Override
	for rows.Next() {
		var o Override
		if err := rows.Scan(&o.Room, &o.CallID, &o.Application, &o.Scope, &o.Command); err != nil {
			return nil, fmt.Errorf("calls: load overrides: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("calls: load overrides: %w", err)
	}
	return out, nil
}

// SaveOverrides replaces the stored overrides with these, at once.
func (s *SQLOverrides) SaveOverrides(ctx context.Context, overrides []Override) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("calls: save overrides: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx, `DELETE FROM overrides`); err != nil {
		return fmt.Errorf("calls: save overrides: %w", err)
	}
	for _, o := range overrides {
		if _, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO overrides (room, call_id, application, scope, command)
			VALUES (?, ?, ?, ?, ?)`, o.Room, o.CallID, o.Application, o.Scope, o.Command); err != nil {
			return fmt.Errorf("calls: save overrides: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("calls: save overrides: %w", err)
	}
	return nil
}
