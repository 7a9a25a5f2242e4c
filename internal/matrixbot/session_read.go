package matrixbot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// ErrNoSession means the data directory holds no stored login.
var ErrNoSession = errors.New("matrixbot: no stored session")

// StoredSession is the login an earlier run kept in the data directory.
type StoredSession struct {
	UserID      id.UserID
	DeviceID    id.DeviceID
	AccessToken secret.Value
}

// ReadSession reads the stored login from dataDir/matrixbot.db read-only,
// creating nothing (for tools beside a running coordinator, such as doctor,
// which must not log in again and so make a new device). ErrNoSession when
// there is no database or no token in it.
func ReadSession(ctx context.Context, dataDir string) (StoredSession, error) {
	path := filepath.Join(dataDir, dbName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return StoredSession{}, fmt.Errorf("%w: %s does not exist", ErrNoSession, path)
	} else if err != nil {
		return StoredSession{}, fmt.Errorf("matrixbot: read session: %w", err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	s, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return StoredSession{}, fmt.Errorf("matrixbot: read session: %w", err)
	}
	defer s.Close()
	sess, err := (&db{sql: s}).loadSession(ctx)
	if err != nil {
		return StoredSession{}, err
	}
	if sess.AccessToken.IsZero() {
		return StoredSession{}, fmt.Errorf("%w in %s", ErrNoSession, path)
	}
	return StoredSession(sess), nil
}
