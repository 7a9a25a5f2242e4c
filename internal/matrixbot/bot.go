// Package matrixbot is the coordinator's Matrix client: it logs a bot
// account in, keeps one /sync loop running against the homeserver, accepts
// room invites according to a policy, and hands everything the sync delivered
// to a single consumer (the membership tracker) through one ordered channel.
package matrixbot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// Errors returned by Run.
var (
	// ErrTokenRejected: the homeserver rejected the access token and there
	// is no password to log in again with.
	ErrTokenRejected = errors.New("matrixbot: access token rejected (M_UNKNOWN_TOKEN) and no password configured")
	// ErrLoginFailed: the homeserver refused the credentials (a permanent
	// error such as a wrong password; network errors are retried instead).
	ErrLoginFailed = errors.New("matrixbot: login failed")
	// ErrRunTwice: Run was called more than once.
	ErrRunTwice = errors.New("matrixbot: Run called more than once")
)

// eventBuffer is the capacity of the Events channel.
const eventBuffer = 256

// Bot is a Matrix bot account with one sync loop.
//
// Concurrency model: Run's goroutine is the only one that syncs, joins,
// forgets and touches the bot's own tables and the joined-room set; it
// starts no other goroutines (mautrix's Olm machine may start short-lived
// ones to repair broken sessions; Close cancels them). Senders of to-device
// messages use the Olm machine and its crypto tables from their own
// goroutines (see olmDevice). Run sends what it receives on the Events
// channel, in order, and blocks when the channel is full: a slow consumer slows the sync
// down (back-pressure), nothing is ever dropped, and next_batch is persisted
// only after every event of its batch was accepted by the channel, so a crash
// re-delivers (at least once) rather than loses. The consumer must keep
// reading until the channel is closed (when Run returns) or until it cancels
// Run's context.
type Bot struct {
	logger *slog.Logger
	cfg    Config
	http   *http.Client
	db     *db

	events   chan Event
	loggedIn chan struct{}
	started  atomic.Bool

	rooms  *roomStates  // encrypted rooms (see crypto_state.go)
	shares megolmShares // whom our outbound Megolm sessions went to (notice_megolm.go)

	mu     sync.Mutex
	cli    *mautrix.Client // current logged-in client; replaced on re-login
	olm    *olmDevice      // Olm device of cli's device; set at login, before LoggedIn closes
	closed bool
}

// New checks cfg and opens (creating if needed) DataDir/matrixbot.db. It
// starts nothing; Close closes the database.
func New(logger *slog.Logger, cfg Config) (*Bot, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := openDB(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	rooms, err := loadRoomStates(ctx, d.sql)
	if err != nil {
		d.sql.Close()
		return nil, err
	}
	return &Bot{
		logger:   logger.With("component", "matrixbot", "user", cfg.UserID),
		cfg:      cfg,
		http:     hc,
		db:       d,
		rooms:    rooms,
		events:   make(chan Event, eventBuffer),
		loggedIn: make(chan struct{}),
	}, nil
}

// Events is the stream of everything sync delivered, in order (see Event and
// the Bot doc for the back-pressure contract). It is closed when Run returns.
func (b *Bot) Events() <-chan Event { return b.events }

// LoggedIn is closed once Run has logged in, i.e. from when Client is valid.
func (b *Bot) LoggedIn() <-chan struct{} { return b.loggedIn }

// Client returns the logged-in mautrix client, for sending (state events,
// to-device messages…). It is nil until LoggedIn is closed. After the
// homeserver rejected the token and Run logged in again, Client returns a new
// client (same device), so fetch it per use rather than keeping it. Do not
// call Sync on it or change its fields. After Run returned it may still be
// used for requests until Close.
func (b *Bot) Client() *mautrix.Client {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cli
}

// Self is the bot's user and device once logged in (empty before).
func (b *Bot) Self() (id.UserID, id.DeviceID) {
	if cli := b.Client(); cli != nil {
		return cli.UserID, cli.DeviceID
	}
	return "", ""
}

// Close stops the Olm machine's background work and closes the database.
// Call it after Run has returned. A second call returns net.ErrClosed and
// does nothing else.
func (b *Bot) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return net.ErrClosed
	}
	b.closed = true
	if b.olm != nil {
		b.olm.destroy()
	}
	b.http.CloseIdleConnections()
	return b.db.sql.Close()
}

func (b *Bot) setClient(cli *mautrix.Client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := b.cli == nil
	b.cli = cli
	if first {
		close(b.loggedIn)
	}
}

// Run logs in and syncs until ctx ends. It retries network and server errors
// with jittered exponential backoff, resuming from the persisted next_batch.
// It returns nil when ctx ends, or an error that retrying cannot fix
// (ErrLoginFailed, ErrTokenRejected, a database error). It may be called
// once; it closes the Events channel and the idle HTTP connections of the
// bot's client on return, and no goroutine it started outlives it.
func (b *Bot) Run(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	defer close(b.events)
	defer b.http.CloseIdleConnections()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	err := b.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (b *Bot) run(ctx context.Context) error {
	bo := &backoff{cfg: b.cfg.Backoff}
	cli, err := b.loginLoop(ctx, bo, false)
	if err != nil {
		return err
	}
	s := &syncer{bot: b, cli: cli, bo: bo}
	return s.loop(ctx)
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// permanent reports whether err is an HTTP 4xx answer (other than 429), which
// retrying the same request will not fix.
func permanent(err error) bool {
	var he mautrix.HTTPError
	if errors.As(err, &he) && he.Response != nil {
		c := he.Response.StatusCode
		return c >= 400 && c < 500 && c != http.StatusTooManyRequests && c != http.StatusRequestTimeout
	}
	return false
}

func (b *Bot) newClient(token secret.Value) (*mautrix.Client, error) {
	cli, err := mautrix.NewClient(b.cfg.HomeserverURL, b.cfg.UserID, token.Reveal())
	if err != nil {
		return nil, fmt.Errorf("matrixbot: %w", err)
	}
	cli.Client = b.http
	cli.Log = zerologToSlog(b.logger.With("from", "mautrix"))
	return cli, nil
}
