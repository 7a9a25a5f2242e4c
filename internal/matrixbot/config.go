package matrixbot

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// Config configures a Bot. Only HomeserverURL, UserID, DataDir and one of
// Password or AccessToken are required.
type Config struct {
	HomeserverURL string
	UserID        id.UserID
	// Password is used to log in when no (working) access token is known,
	// and again whenever the homeserver rejects the token (M_UNKNOWN_TOKEN).
	Password secret.Value
	// AccessToken, if set, is used instead of a password login (the token
	// persisted from an earlier run wins if it still works).
	AccessToken secret.Value
	// DeviceID to log in as. Optional: a device id persisted in DataDir by an
	// earlier run takes precedence, so the device stays the same.
	DeviceID id.DeviceID
	// DataDir holds the SQLite database "matrixbot.db": device id, access
	// token, next_batch and the set of joined rooms.
	DataDir string
	// Invites says which invites the bot accepts. The zero value accepts none.
	Invites InvitePolicy
	// SyncTimeout is the /sync long-poll timeout (default 30s).
	SyncTimeout time.Duration
	// Backoff is the retry delay after failed requests (default 1s .. 60s).
	Backoff Backoff
	// ProbeInterval is how often the homeserver is probed (GET
	// /_matrix/client/versions) during a retry delay: once it answers
	// after failing to, the request is retried at once (default 1s).
	ProbeInterval time.Duration
	// HTTPClient is used for every request (default: a client with its own
	// transport; idle connections are closed when Run returns).
	HTTPClient *http.Client
}

// InvitePolicy decides which room invites the bot accepts: the inviter's user
// id is in AllowUsers, or the inviter's server name is in AllowServers, or
// AcceptAll is set. Invites that do not match are rejected (see Bot).
type InvitePolicy struct {
	AllowUsers   []id.UserID
	AllowServers []string
	AcceptAll    bool
}

// Allows reports whether an invite sent by inviter is to be accepted.
func (p InvitePolicy) Allows(inviter id.UserID) bool {
	if p.AcceptAll {
		return true
	}
	if inviter == "" {
		return false
	}
	if slices.Contains(p.AllowUsers, inviter) {
		return true
	}
	_, server, err := inviter.Parse()
	return err == nil && server != "" && slices.Contains(p.AllowServers, server)
}

// Backoff bounds the exponential retry delay; each delay is jittered.
type Backoff struct {
	Initial, Max time.Duration
}

const (
	defaultSyncTimeout    = 30 * time.Second
	defaultBackoffInitial = time.Second
	defaultBackoffMax     = 60 * time.Second
	defaultProbeInterval  = time.Second
	dbName                = "matrixbot.db"
)

func (c *Config) applyDefaults() {
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = defaultSyncTimeout
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff.Initial = defaultBackoffInitial
	}
	if c.Backoff.Max <= 0 {
		c.Backoff.Max = defaultBackoffMax
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = defaultProbeInterval
	}
	if c.Backoff.Max < c.Backoff.Initial {
		c.Backoff.Max = c.Backoff.Initial
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.HomeserverURL == "" {
		errs = append(errs, errors.New("HomeserverURL is required"))
	}
	if _, _, err := c.UserID.Parse(); err != nil || c.UserID == "" {
		errs = append(errs, fmt.Errorf("UserID %q is not a valid Matrix user id", c.UserID))
	}
	if c.Password.IsZero() && c.AccessToken.IsZero() {
		errs = append(errs, errors.New("one of Password or AccessToken is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("matrixbot: config: %w", err)
	}
	return nil
}
