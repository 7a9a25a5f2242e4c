package media

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"
	"time"
)

// Recording limits.
const (
	// DefaultRecordMaxGap is the longest silence kept inside one segment:
	// a sender's timestamps jumping further (a restarted stream, a very
	// long mute) start a new segment, placed on the timeline by its
	// arrival.
	DefaultRecordMaxGap = 5 * time.Minute
	// DefaultRecordQueue bounds a source's queue in frames: 5 s of audio.
	DefaultRecordQueue = 256
	// DefaultRecordQueueBytes bounds a source's queue in bytes: a few
	// seconds of video.
	DefaultRecordQueueBytes = 8 << 20
)

var (
	// ErrRecordConfig is returned by RecordConfig.Validate.
	ErrRecordConfig = errors.New("media: bad record configuration")
	// ErrRecordWrite wraps the error that ended a recording: its folder
	// or a file could not be created or written.
	ErrRecordWrite = errors.New("media: recording write failed")
)

// RecordConfig configures a recording. Dir is required.
type RecordConfig struct {
	// Dir holds the recordings: each Start makes its own folder in it,
	// named for the start time and the room.
	Dir string
	// Room and Call identify the call in the folder name and manifest.
	Room string
	Call string
	// Video records VP8 and VP9 sources too (to IVF).
	Video bool
	// MaxGap bounds the silence a segment keeps (DefaultRecordMaxGap when
	// zero).
	MaxGap time.Duration
	// MaxQueue and MaxQueueBytes bound each source's queue (the defaults
	// when zero); a frame that does not fit is dropped (audio: its time
	// becomes silence; video: frames are skipped to the next key frame).
	MaxQueue      int
	MaxQueueBytes int
	// OnStop, if set, is called once when the recording ends: with nil
	// after Close, or with an error wrapping ErrRecordWrite that says
	// why, as soon as a write fails (the call goes on unrecorded). It is
	// called from the goroutine that ended the recording (Start's, a
	// writer's or Close's) and must neither block nor call the feature.
	OnStop func(reason error)
	// OnStart, if set, is called from Start once the recording's folder
	// and manifest are written, before any OnStop (a recording that
	// cannot begin gets only OnStop). It must neither block nor call the
	// feature.
	OnStart func()
	// Clock is the time source; nil means SystemClock.
	Clock Clock
}

// Validate reports every problem at once.
func (c RecordConfig) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, fmt.Errorf("%w: no folder", ErrRecordConfig))
	}
	if c.MaxGap < 0 {
		errs = append(errs, fmt.Errorf("%w: max gap %v is negative", ErrRecordConfig, c.MaxGap))
	}
	if c.MaxQueue < 0 {
		errs = append(errs, fmt.Errorf("%w: max queue %d is negative", ErrRecordConfig, c.MaxQueue))
	}
	if c.MaxQueueBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: max queue bytes %d is negative", ErrRecordConfig, c.MaxQueueBytes))
	}
	return errors.Join(errs...)
}

func (c RecordConfig) withDefaults() RecordConfig {
	if c.MaxGap <= 0 {
		c.MaxGap = DefaultRecordMaxGap
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = DefaultRecordQueue
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = DefaultRecordQueueBytes
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	return c
}

// NewRecorder returns the "record" feature: on a call, each remote Opus
// source (and, with Video, VP8 and VP9 source) is written as it came,
// without transcoding, to its own segment file in a folder made for the
// recording: Ogg Opus for audio, IVF for video, timed by the sender's RTP
// timestamps. A source that ends and comes back, or whose timestamps jump
// ahead by more than MaxGap or back by more than a second, gets a new
// segment. manifest.json in the folder
// lists the segments on the recording's common timeline (see
// RecordingManifest); it is rewritten as segments end and finished by
// Close.
// Each source has a bounded queue and a writer goroutine, so disk writes
// never hold up the engine. A failed write ends the whole recording (see
// OnStop), never the call. Values out of range are clamped (check them with
// Validate first); an empty Dir fails at Start's first write.
func NewRecorder(cfg RecordConfig) Factory { return recordFactory{cfg.withDefaults()} }

type recordFactory struct{ cfg RecordConfig }

func (recordFactory) Name() string { return "record" }

func (f recordFactory) Start(call Call, logger *slog.Logger) (Feature, error) {
	keys, logger, err := startOn("record", call, logger)
	if err != nil {
		return nil, err
	}
	r := &recorder{
		cfg:    f.cfg,
		keys:   keys,
		logger: logger,
		abort:  make(chan struct{}),
		lines:  map[*recordLine]struct{}{},
		mutes:  map[*recordLine]int{},
	}
	r.manifest = RecordingManifest{Version: 1, Room: f.cfg.Room, Call: f.cfg.Call,
		Started: f.cfg.Clock.Now().UTC(), Segments: []RecordedSegment{}}
	dir, err := makeRecordingDir(f.cfg.Dir, r.manifest.Started, f.cfg.Room)
	if err == nil {
		r.dir = dir
		r.lock, err = lockRecording(dir)
	}
	if err == nil {
		err = r.writeManifest()
	}
	if err != nil {
		r.fail(err)
	} else {
		logger.Info("record: recording started", "dir", dir)
		if f.cfg.OnStart != nil {
			f.cfg.OnStart()
		}
	}
	return r, nil
}

var _ StatsReporter = (*recorder)(nil)

// recorder is the feature on one call. It implements StatsReporter.
type recorder struct {
	cfg    RecordConfig
	keys   KeyFrameRequester // nil when the engine cannot ask for key frames
	logger *slog.Logger
	dir    string
	lock   *os.File      // holds dir's lock until Close (nil: none taken)
	abort  chan struct{} // closed when a write failed: every line stops at once
	wg     sync.WaitGroup
	// writing serializes manifest writes (lines' and Close's).
	writing sync.Mutex

	mu       sync.Mutex
	closed   bool
	stopErr  error // why the recording ended early
	stopped  bool  // OnStop has been called
	seq      int   // segments opened
	manifest RecordingManifest
	lines    map[*recordLine]struct{}
	mutes    map[*recordLine]int // open mutes: index in manifest.Mutes
}

func (r *recorder) SourceAdded(src Source) Sink {
	if reason := r.refusal(src); reason != "" {
		r.logger.Debug("record: source ignored", "participant", src.Participant, "source", src.ID,
			"kind", src.Kind, "codec", src.Codec, "reason", reason)
		return nil
	}
	l := newRecordLine(r, src)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.stopErr != nil {
		return nil
	}
	r.lines[l] = struct{}{}
	r.wg.Add(1)
	go l.run()
	return l
}

func (r *recorder) refusal(src Source) string {
	switch {
	case src.Kind == Audio && src.Codec == Opus:
		if src.ClockRate != 0 && src.ClockRate != opusRate {
			return "opus clock rate is not 48 kHz"
		}
		return ""
	case src.Kind == Video && (src.Codec == VP8 || src.Codec == VP9):
		if !r.cfg.Video {
			return "video recording is off"
		}
		return ""
	}
	return "unsupported codec"
}

// fail ends the recording for err (wrapped in ErrRecordWrite): every line
// stops, no source is taken any more, the manifest says when and why where
// it can still be written, and OnStop hears why. Only the first failure
// counts.
func (r *recorder) fail(err error) {
	err = fmt.Errorf("%w: %w", ErrRecordWrite, err)
	r.mu.Lock()
	if r.closed || r.stopErr != nil {
		r.mu.Unlock()
		return
	}
	r.stopErr = err
	r.stopped = true
	ended := r.cfg.Clock.Now().UTC()
	r.manifest.Ended, r.manifest.StopReason = &ended, err.Error()
	r.endMutes(ended)
	close(r.abort)
	r.mu.Unlock()
	r.logger.Error("record: the recording has stopped; the call goes on unrecorded", "dir", r.dir, "err", err)
	if r.dir != "" {
		// Often in vain (the folder is what failed), but when only one
		// file could not be written, the folder says how it ended.
		if werr := r.writeManifest(); werr != nil {
			r.logger.Warn("record: cannot write the stop into the manifest", "dir", r.dir, "err", werr)
		}
	}
	if r.cfg.OnStop != nil {
		r.cfg.OnStop(err)
	}
}

// Close lets every line write what it has queued, closes their files,
// finishes the manifest, and returns when the writers have ended.
func (r *recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	for l := range r.lines {
		l.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()

	r.mu.Lock()
	if r.manifest.Ended == nil { // a failure ended it earlier
		ended := r.cfg.Clock.Now().UTC()
		r.manifest.Ended = &ended
		r.endMutes(ended)
	}
	notify := !r.stopped
	r.stopped = true
	r.mu.Unlock()
	if r.dir != "" {
		if err := r.writeManifest(); err != nil {
			r.logger.Error("record: cannot finish the manifest", "dir", r.dir, "err", err)
		}
	}
	if r.lock != nil {
		r.lock.Close() // the recording is finished: no longer in progress
	}
	r.logger.Info("record: recording ended", "dir", r.dir)
	if notify && r.cfg.OnStop != nil {
		r.cfg.OnStop(nil)
	}
	return nil
}

func (r *recorder) forget(l *recordLine) {
	r.mu.Lock()
	delete(r.lines, l)
	if i, open := r.mutes[l]; open { // the source ended muted
		r.endMute(i, r.cfg.Clock.Now())
		delete(r.mutes, l)
	}
	r.mu.Unlock()
}

// RecordingStats is the recording as a whole in the recorder's Stats.
type RecordingStats struct {
	Dir      string `json:"dir"`
	Segments int    `json:"segments"`
	// Ended and StopReason are set once a failure stopped the recording
	// (the call goes on).
	Ended      *time.Time `json:"ended,omitempty"`
	StopReason string     `json:"stop_reason,omitempty"`
}

// Stats maps "recording" to RecordingStats and each running line's name
// ("record:<participant>/<source id>") to its RecordSourceStats.
func (r *recorder) Stats() map[string]any {
	r.mu.Lock()
	lines := maps.Clone(r.lines)
	rec := RecordingStats{Dir: r.dir, Segments: len(r.manifest.Segments)}
	if r.stopErr != nil {
		rec.StopReason, rec.Ended = r.stopErr.Error(), r.manifest.Ended
	}
	r.mu.Unlock()
	out := make(map[string]any, len(lines)+1)
	out["recording"] = rec
	for l := range lines {
		out[l.name] = l.stats()
	}
	return out
}
