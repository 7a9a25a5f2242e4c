package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// DefaultAnnounceName names an announcement (its feature and its track)
// when the configuration does not.
const DefaultAnnounceName = "announce"

// maxAnnounceLag is how late a packet may go out before the rest of the
// sound is moved later instead: after a stall (a paused process, a
// starved machine) the sound resumes at its pace rather than bursting
// what it missed into the call.
const maxAnnounceLag = 200 * time.Millisecond

// maxAnnounceReadyWait bounds the wait for our output to be published
// before the sound starts.
const maxAnnounceReadyWait = 10 * time.Second

// ErrAnnounceConfig is returned by AnnounceConfig.Validate.
var ErrAnnounceConfig = errors.New("media: bad announce configuration")

// AnnounceConfig configures an announcement: exactly one of Sound and
// Load.
type AnnounceConfig struct {
	// Name names the feature and the output (the track name clients
	// see); empty means DefaultAnnounceName.
	Name string
	// Sound is the sound to play, parsed already (ParseOggOpus).
	Sound *OpusSound
	// Load fetches an Ogg Opus file's bytes when the feature starts, from
	// the feature's goroutine, with a context that Close cancels: a file
	// of a SoundDir (SoundDir.Loader), an mxc:// download. Each Start
	// loads and parses once.
	Load func(ctx context.Context) ([]byte, error)
	// MaxBytes bounds what Load returns; zero means DefaultMaxSoundBytes.
	MaxBytes int64
	// Audience lists the participants who hear it; empty means everyone.
	Audience []string
	// Clock is the time source; nil means SystemClock.
	Clock Clock
}

// Validate reports every problem at once.
func (c AnnounceConfig) Validate() error {
	var errs []error
	if (c.Sound == nil) == (c.Load == nil) {
		errs = append(errs, fmt.Errorf("%w: give exactly one of a sound and a loader", ErrAnnounceConfig))
	}
	if c.MaxBytes < 0 || c.MaxBytes > MaxSoundBytes {
		errs = append(errs, fmt.Errorf("%w: max bytes %d is outside 0..%d", ErrAnnounceConfig, c.MaxBytes, MaxSoundBytes))
	}
	return errors.Join(errs...)
}

// Announce is the announcement Factory: each Start plays the sound once
// into that call.
type Announce struct{ cfg AnnounceConfig }

// NewAnnounce returns an announcement of cfg, or cfg's problems.
func NewAnnounce(cfg AnnounceConfig) (*Announce, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = DefaultAnnounceName
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxSoundBytes
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	return &Announce{cfg}, nil
}

// Name is the configured name.
func (a *Announce) Name() string { return a.cfg.Name }

// Start plays the sound into call, from a goroutine of its own: it loads
// the sound (when given Load), publishes one Opus audio output named Name
// to Audience, and writes each packet as a frame when its time comes (the
// start plus the packets before it, so timers' lateness does not add up),
// its RTP timestamp advancing by its samples at 48 kHz. Once the last
// packet has played it closes the output and Done. A sound that cannot be
// loaded or parsed, or a call that refuses the output, ends it early (the
// reason is logged and in Stats). Remote sources are ignored.
func (a *Announce) Start(call Call, logger *slog.Logger) (Feature, error) {
	_, logger, err := startOn(a.cfg.Name, call, logger)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &announcement{
		cfg:    a.cfg,
		call:   call,
		logger: logger.With("feature", a.cfg.Name),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		state:  "loading",
	}
	go p.run()
	return p, nil
}

// announcement is one playing of a sound on one call. It implements
// Finisher and StatsReporter.
type announcement struct {
	cfg    AnnounceConfig
	call   Call
	logger *slog.Logger
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned

	mu       sync.Mutex
	state    string // loading, publishing, playing, finished, stopped, failed
	sent     uint64
	failed   uint64
	length   time.Duration // the sound's Duration
	position time.Duration
	reason   string
}

func (*announcement) SourceAdded(Source) Sink { return nil }

func (p *announcement) Done() <-chan struct{} { return p.done }

// Close stops the sound and returns once its goroutine has ended, its
// output closed. A goroutine still waiting in Call.Publish ends when
// Publish returns.
func (p *announcement) Close() error {
	p.cancel()
	<-p.done
	return nil
}

func (p *announcement) run() {
	defer close(p.done)
	defer p.cancel()
	sound, err := p.sound()
	if p.ctx.Err() != nil {
		p.end("stopped", nil) // closed while loading
		return
	}
	if err != nil {
		p.end("failed", err)
		return
	}
	p.mu.Lock()
	p.state, p.length = "publishing", sound.Duration()
	p.mu.Unlock()
	out, err := p.call.Publish(OutputSpec{Name: p.cfg.Name, Kind: Audio, Codec: Opus, Audience: p.cfg.Audience})
	if err != nil {
		p.end("failed", fmt.Errorf("publish: %w", err))
		return
	}
	defer out.Close()
	if !p.awaitReady(out) {
		p.end("stopped", nil)
		return
	}
	p.end(p.play(out, sound))
}

// awaitReady waits, at most maxAnnounceReadyWait, for an output that can
// tell when it is live (media.Readier): frames written before are lost,
// and an announcement must not lose its beginning. False when closed
// meanwhile.
func (p *announcement) awaitReady(out Output) bool {
	r, ok := out.(Readier)
	if !ok {
		return true
	}
	timer := p.cfg.Clock.NewTimer(p.cfg.Clock.Now().Add(maxAnnounceReadyWait))
	defer timer.Stop()
	select {
	case <-r.Ready():
	case <-timer.C():
		p.logger.Warn("announcement output not live yet; playing anyway", "after", maxAnnounceReadyWait)
	case <-p.ctx.Done():
		return false
	}
	return true
}

// sound returns the configured sound, loading and parsing it if need be.
func (p *announcement) sound() (*OpusSound, error) {
	if p.cfg.Sound != nil {
		return p.cfg.Sound, nil
	}
	data, err := p.cfg.Load(p.ctx)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if int64(len(data)) > p.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrSoundTooLarge, len(data), p.cfg.MaxBytes)
	}
	return ParseOggOpus(data)
}

// play writes sound's packets to out in real time, then waits for the
// last one to have played. It returns the final state and why.
func (p *announcement) play(out Output, sound *OpusSound) (string, error) {
	clock := p.cfg.Clock
	start := clock.Now()
	timer := clock.NewTimer(start)
	defer timer.Stop()
	wait := func(at time.Time) bool {
		if p.ctx.Err() != nil {
			return false
		}
		timer.Reset(at)
		select {
		case <-timer.C():
			return true
		case <-p.ctx.Done():
			return false
		}
	}
	p.mu.Lock()
	p.state = "playing"
	p.mu.Unlock()
	rtp := rand.Uint32() // RFC 3550 §5.1: a random start
	var elapsed int64    // samples sent
	var buf []byte       // the frame's copy: receivers may not keep or change the sound's own data
	for i := range sound.Len() {
		at := start.Add(samplesDuration(elapsed, opusRate))
		if !wait(at) {
			return "stopped", nil
		}
		if lag := clock.Now().Sub(at); lag > maxAnnounceLag {
			start = start.Add(lag)
		}
		data, n := sound.Packet(i)
		buf = append(buf[:0], data...)
		d := samplesDuration(int64(n), opusRate)
		err := out.WriteFrame(Frame{Data: buf, RTPTime: rtp, Duration: d})
		if errors.Is(err, ErrClosed) {
			return "failed", fmt.Errorf("output closed: %w", err)
		}
		rtp += uint32(n)
		elapsed += int64(n)
		p.mu.Lock()
		if err != nil {
			p.failed++
		} else {
			p.sent++
		}
		p.position = samplesDuration(elapsed, opusRate)
		p.mu.Unlock()
	}
	if !wait(start.Add(samplesDuration(elapsed, opusRate))) {
		return "stopped", nil
	}
	return "finished", nil
}

// end records the final state and logs it.
func (p *announcement) end(state string, reason error) {
	p.mu.Lock()
	p.state = state
	if reason != nil {
		p.reason = reason.Error()
	}
	sent, failed := p.sent, p.failed
	p.mu.Unlock()
	if reason != nil {
		p.logger.Warn("announce: ended early", "state", state, "frames_sent", sent, "err", reason)
		return
	}
	p.logger.Info("announce: ended", "state", state, "frames_sent", sent, "frames_failed", failed)
}

// Stats shows the announcement's progress.
func (p *announcement) Stats() map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := map[string]any{
		"state":         p.state,
		"frames_sent":   p.sent,
		"frames_failed": p.failed,
		"duration_ms":   p.length.Milliseconds(),
		"position_ms":   p.position.Milliseconds(),
	}
	if p.reason != "" {
		s["reason"] = p.reason
	}
	return s
}
