package e2ee

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/membership"
)

// Errors of the Exchange.
var (
	// ErrRunTwice: Exchange.Run was called a second time.
	ErrRunTwice = errors.New("e2ee: exchange: Run called twice")
	// ErrExchangeClosed: the exchange was closed before or while Run started.
	ErrExchangeClosed = errors.New("e2ee: exchange closed")
)

// Bot is the part of the Matrix client the Exchange uses; *matrixbot.Bot
// implements it.
type Bot interface {
	// Self is our user and device (empty before login), to recognise our
	// own memberships.
	Self() (id.UserID, id.DeviceID)
	SendEncryptedToDevice(ctx context.Context, evtType event.Type, to map[id.UserID][]id.DeviceID, content any) error
	RoomEncrypted(room id.RoomID) bool
}

// Memberships is the membership tracker as the Exchange sees it;
// *membership.Tracker implements it.
type Memberships interface {
	Subscribe(ctx context.Context) (<-chan membership.Change, error)
	Snapshot(ctx context.Context) ([]membership.Member, error)
}

var (
	_ Bot         = (*matrixbot.Bot)(nil)
	_ Memberships = (*membership.Tracker)(nil)
)

// Timings are one dialect's key-rotation timings.
type Timings struct {
	// ReuseFor: a joiner gets our latest key (and nobody else anything)
	// while that key is younger than this; an older key is replaced by a
	// new one sent to everyone.
	ReuseFor time.Duration
	// UseDelay: how long after sending a new key we start encrypting with
	// it, so receivers have it first. Our first key in a call is used at once.
	UseDelay time.Duration
	// RotateDelay: how long after a member leaves the new key is made;
	// further leaves in that time restart the wait.
	RotateDelay time.Duration
}

// DefaultFamedlyTimings are the Famedly SDK's (famedly-voip.md 2.6): a key
// younger than 8 s is resent to a joiner, a new key is used 4 s after it
// was sent, and a leave rotates after a 4 s debounce.
func DefaultFamedlyTimings() Timings {
	return Timings{ReuseFor: 8 * time.Second, UseDelay: 4 * time.Second, RotateDelay: 4 * time.Second}
}

// DefaultMatrixRTCTimings are the js-sdk's RTCEncryptionManager's
// (matrixrtc-js.md 3.3): 10 s grace for reusing a key on join, 1 s use
// delay, and a new key at once after a leave.
func DefaultMatrixRTCTimings() Timings {
	return Timings{ReuseFor: 10 * time.Second, UseDelay: time.Second}
}

// ExchangeOptions are the Exchange's knobs; zero values give defaults.
type ExchangeOptions struct {
	Logger *slog.Logger     // discards by default
	Clock  membership.Clock // system clock by default
	// FamedlyEventTypes are the to-device types our Famedly keys are sent
	// as (each key is sent once per type); default both
	// FamedlyKeysEventType and FamedlyKeysEventTypeAlias. Key requests go
	// out under the matching request types.
	FamedlyEventTypes []string
	// RefusePlaintext refuses unencrypted key events in unencrypted rooms
	// too (they are always refused in encrypted rooms).
	RefusePlaintext bool
	// Famedly and MatrixRTC are the dialects' timings; nil gives the
	// Default*Timings.
	Famedly, MatrixRTC *Timings
	HoldFor            time.Duration // how long received keys wait for a membership; default 60 s
	// RetryDelay and Retries: a failed send is repeated (to the same
	// devices, with the then latest key) after RetryDelay, at most Retries
	// times. Defaults 2 s and 3.
	RetryDelay  time.Duration
	Retries     int
	SendTimeout time.Duration // bound on one to-device request; default 10 s
	// Metrics, if set, counts sends, accepted keys and refusals.
	Metrics *Metrics
}

// Default retry and send bounds.
const (
	DefaultRetryDelay  = 2 * time.Second
	DefaultRetries     = 3
	DefaultSendTimeout = 10 * time.Second
)

func (o ExchangeOptions) withDefaults() ExchangeOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = membership.SystemClock{}
	}
	if len(o.FamedlyEventTypes) == 0 {
		o.FamedlyEventTypes = []string{FamedlyKeysEventType, FamedlyKeysEventTypeAlias}
	}
	if o.Famedly == nil {
		t := DefaultFamedlyTimings()
		o.Famedly = &t
	}
	if o.MatrixRTC == nil {
		t := DefaultMatrixRTCTimings()
		o.MatrixRTC = &t
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.Retries <= 0 {
		o.Retries = DefaultRetries
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	return o
}

// Exchange runs our side of the media-key exchange of every call we are in
// (famedly-voip.md 2, matrixrtc-js.md 3): it takes part in a call's
// exchange exactly while the tracker shows a membership of our own user and
// device in it (Presence wrote it), sends our key Olm-encrypted to every
// other member device, rotates it as members come and go, answers Famedly
// key requests of valid members, and validates received keys into the
// KeyStore.
//
// Concurrency: Run's goroutine owns all state (sessions, members, the
// Validator). To-device events, tracker changes, send results and timer
// fires reach it through channels. Sends run in order on one sender
// goroutine, so a slow homeserver never stalls the owner; recipients are
// fixed by the owner when it queues a send, so a member that has left never
// gets a key made after its leave was seen. Close and Run may be called from
// any goroutine; the KeyStore is safe for concurrent readers.
type Exchange struct {
	bot     Bot
	members Memberships
	store   *KeyStore
	opts    ExchangeOptions
	log     *slog.Logger
	clock   membership.Clock

	started   atomic.Bool
	closeOnce sync.Once
	closed    chan struct{}
	flushes   chan chan struct{} // test barrier: owner replies after draining due work
	results   chan sendResult

	// Owned by Run's goroutine.
	self      id.UserID
	selfDev   id.DeviceID
	validator *Validator
	index     *MemberIndex
	calls     map[membership.CallKey]map[memberKey]membership.Member
	sessions  map[sessionKey]*session
	sender    *sender
}

// memberKey names one membership within a call.
type memberKey struct {
	dialect membership.Dialect
	user    id.UserID
	device  id.DeviceID
}

func memberKeyOf(m membership.Member) memberKey { return memberKey{m.Dialect, m.UserID, m.DeviceID} }

// NewExchange returns an exchange between bot, the tracker and store. It
// starts nothing.
func NewExchange(bot Bot, members Memberships, store *KeyStore, opts ExchangeOptions) *Exchange {
	opts = opts.withDefaults()
	x := &Exchange{
		bot: bot, members: members, store: store, opts: opts,
		log:      opts.Logger.With("component", "e2ee"),
		clock:    opts.Clock,
		closed:   make(chan struct{}),
		flushes:  make(chan chan struct{}),
		results:  make(chan sendResult, 16),
		index:    NewMemberIndex(),
		calls:    map[membership.CallKey]map[memberKey]membership.Member{},
		sessions: map[sessionKey]*session{},
	}
	x.validator = NewValidator(x.index, opts.Clock, ValidatorOptions{RefusePlaintext: opts.RefusePlaintext, HoldFor: opts.HoldFor})
	x.sender = newSender(bot, x.log, opts.SendTimeout, x.results)
	x.sender.metrics = opts.Metrics
	return x
}

// Store is the key store the exchange fills.
func (x *Exchange) Store() *KeyStore { return x.store }

// Close makes Run return; it is idempotent and does not wait.
func (x *Exchange) Close() error {
	x.closeOnce.Do(func() { close(x.closed) })
	return nil
}

// Run processes events (the bot's stream, or the to-device part of it) and
// the tracker's changes until ctx ends or Close is called; events closing
// only stops receiving. It returns after every goroutine it started ended.
func (x *Exchange) Run(ctx context.Context, events <-chan matrixbot.Event) error {
	if !x.started.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	select {
	case <-x.closed:
		return ErrExchangeClosed
	default:
	}
	wg.Go(func() {
		select {
		case <-x.closed:
			cancel()
		case <-ctx.Done():
		}
	})
	changes, err := x.members.Subscribe(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	snapshot, err := x.members.Snapshot(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	wg.Go(func() { x.sender.run(ctx) })
	for _, m := range snapshot {
		x.onChange(membership.Change{Kind: membership.Joined, Member: m, At: x.clock.Now()})
	}
	timer := x.clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		x.arm(timer)
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Kind == matrixbot.KindToDevice {
				x.onToDevice(ev)
			}
		case c, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			if c.Kind == membership.Resync {
				x.resync(ctx)
				continue
			}
			x.onChange(c)
		case r := <-x.results:
			x.onResult(r)
		case <-timer.C():
			x.onTimer()
		case reply := <-x.flushes:
			x.onTimer()
			close(reply)
		}
	}
}

// flush waits until the owner has handled everything sent to it before and
// whatever is due at the clock's time (tests).
func (x *Exchange) flush(ctx context.Context) error {
	reply := make(chan struct{})
	select {
	case x.flushes <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// arm sets the timer to the earliest deadline of any session or held key.
func (x *Exchange) arm(t membership.Timer) {
	next, ok := x.validator.NextExpiry()
	for _, s := range x.sessions {
		if at, has := s.nextDeadline(); has && (!ok || at.Before(next)) {
			next, ok = at, true
		}
	}
	t.Stop()
	if ok {
		t.Reset(max(next.Sub(x.clock.Now()), 0))
	}
}

// onTimer does whatever is due: expired held keys, rotations, switches of
// our sending key and retries.
func (x *Exchange) onTimer() {
	x.settle(x.validator.Expire())
	now := x.clock.Now()
	for _, s := range x.sessions {
		x.due(s, now)
	}
}

// whoAmI caches our user and device once the bot has logged in.
func (x *Exchange) whoAmI() (id.UserID, id.DeviceID) {
	if x.self == "" {
		x.self, x.selfDev = x.bot.Self()
	}
	return x.self, x.selfDev
}
