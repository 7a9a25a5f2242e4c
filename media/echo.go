package media

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// Echo limits.
const (
	DefaultEchoDelay = 500 * time.Millisecond
	MaxEchoDelay     = 10 * time.Second
)

var (
	// ErrEchoConfig is returned by EchoConfig.Validate.
	ErrEchoConfig = errors.New("media: bad echo configuration")
	// ErrNoCall is returned by a Factory started without a call.
	ErrNoCall = errors.New("media: no call")
)

// EchoConfig configures the echo test. Start from DefaultEchoConfig: the
// zero value echoes audio only.
type EchoConfig struct {
	// Delay is how long after its arrival a frame is played back; zero
	// means DefaultEchoDelay.
	Delay time.Duration
	// Video echoes VP8, VP9 and H.264 sources too, passed through as they
	// are.
	Video bool
	// MaxQueue bounds each source's delay line in frames; zero means room
	// for Delay at 50 frames/s twice over, plus 8.
	MaxQueue int
	// MaxQueueBytes bounds each source's delay line in bytes of frame
	// data; zero means Delay at 32 Mbit/s, plus 1 MiB.
	MaxQueueBytes int
	// Clock is the time source; nil means SystemClock.
	Clock Clock
}

// DefaultEchoConfig is the echo of a deployment that sets nothing: 500 ms,
// video included.
func DefaultEchoConfig() EchoConfig {
	return EchoConfig{Delay: DefaultEchoDelay, Video: true}
}

// Validate reports every value out of range at once.
func (c EchoConfig) Validate() error {
	var errs []error
	if c.Delay < 0 || c.Delay > MaxEchoDelay {
		errs = append(errs, fmt.Errorf("%w: delay %v is outside 0..%v", ErrEchoConfig, c.Delay, MaxEchoDelay))
	}
	if c.MaxQueue < 0 {
		errs = append(errs, fmt.Errorf("%w: max queue %d is negative", ErrEchoConfig, c.MaxQueue))
	}
	if c.MaxQueueBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: max queue bytes %d is negative", ErrEchoConfig, c.MaxQueueBytes))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero values and clamps what Validate refuses, so
// that NewEcho never fails.
func (c EchoConfig) withDefaults() EchoConfig {
	if c.Delay <= 0 {
		c.Delay = DefaultEchoDelay
	}
	c.Delay = min(c.Delay, MaxEchoDelay)
	if c.MaxQueue <= 0 {
		perFrame := 20 * time.Millisecond
		c.MaxQueue = 2*int((c.Delay+perFrame-1)/perFrame) + 8
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = int(c.Delay.Seconds()*4e6) + 1<<20
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	return c
}

// NewEcho returns the echo test: on a call, each participant hears (and,
// with Video, sees) their own streams back after Delay, and only they do.
// Each remote Opus source (and VP8/VP9/H.264 source) gets its own output of
// the same codec, "echo:<participant>/<source id>", whose audience is that
// participant alone, and its own delay line: one goroutine that publishes
// the output, then writes each frame at its arrival time plus Delay, RTP
// timestamps and durations unchanged. Video starts at a key frame and,
// after a frame was dropped, resumes at the next one. When a source ends,
// its queued frames are still played, then its output is closed. Values out
// of range are clamped (check them with Validate first).
func NewEcho(cfg EchoConfig) Factory { return echoFactory{cfg.withDefaults()} }

type echoFactory struct{ cfg EchoConfig }

func (echoFactory) Name() string { return "echo" }

func (f echoFactory) Start(call Call, logger *slog.Logger) (Feature, error) {
	keys, logger, err := startOn("echo", call, logger)
	if err != nil {
		return nil, err
	}
	return &echo{
		cfg:    f.cfg,
		call:   call,
		keys:   keys,
		logger: logger,
		done:   make(chan struct{}),
		lines:  map[*echoLine]struct{}{},
	}, nil
}

// echo is the feature on one call. It implements StatsReporter.
type echo struct {
	cfg    EchoConfig
	call   Call
	keys   KeyFrameRequester // nil when the engine cannot ask for key frames
	logger *slog.Logger
	done   chan struct{} // closed by Close: every line stops at once
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	lines  map[*echoLine]struct{} // running lines; a line leaves when its goroutine ends
}

func (e *echo) SourceAdded(src Source) Sink {
	if reason := e.refusal(src); reason != "" {
		e.logger.Debug("echo: source ignored", "participant", src.Participant, "source", src.ID,
			"kind", src.Kind, "codec", src.Codec, "reason", reason)
		return nil
	}
	l := newEchoLine(e, src)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.lines[l] = struct{}{}
	e.wg.Add(1)
	go l.run()
	return l
}

// refusal says why src gets no echo, or "" when it does.
func (e *echo) refusal(src Source) string {
	switch {
	case src.Participant == "":
		// An empty audience means everyone: never echo an unnamed sender.
		return "no participant to address"
	case src.Kind == Audio && src.Codec == Opus:
		return ""
	case src.Kind == Video && (src.Codec == VP8 || src.Codec == VP9 || src.Codec == H264):
		if e.cfg.Video {
			return ""
		}
		return "video echo is off"
	}
	return "unsupported codec"
}

// Close stops every line at once (queued frames are dropped), closes their
// outputs, and returns when their goroutines have ended. A line still
// waiting in Call.Publish ends when Publish returns.
func (e *echo) Close() error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.done)
	}
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

func (e *echo) forget(l *echoLine) {
	e.mu.Lock()
	delete(e.lines, l)
	e.mu.Unlock()
}

// EchoSourceStats is one source's delay line in the echo's Stats. Every
// frame in is out, dropped, skipped, failed or queued.
type EchoSourceStats struct {
	Participant string `json:"participant"`
	Source      string `json:"source"`
	Kind        string `json:"kind"`
	Codec       Codec  `json:"codec"`
	FramesIn    uint64 `json:"frames_in"`
	FramesOut   uint64 `json:"frames_out"`
	// Dropped counts frames lost to the queue's bounds: the oldest on
	// overflow, a frame larger than the whole bound, and the video frames
	// that depended on a dropped one.
	Dropped uint64 `json:"dropped"`
	// Skipped counts video frames discarded while waiting for a key frame.
	Skipped uint64 `json:"skipped"`
	// Failed counts frames the output refused with an error other than
	// ErrClosed (which ends the line).
	Failed          uint64 `json:"failed"`
	Queued          int    `json:"queued"`
	WaitingKeyFrame bool   `json:"waiting_key_frame,omitempty"`
}

// Stats maps each running line's output name to its EchoSourceStats. A
// line leaves it when it ends.
func (e *echo) Stats() map[string]any {
	e.mu.Lock()
	lines := maps.Clone(e.lines)
	e.mu.Unlock()
	out := make(map[string]any, len(lines))
	for l := range lines {
		out[l.name] = l.stats()
	}
	return out
}
