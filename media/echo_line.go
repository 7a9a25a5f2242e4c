package media

import (
	"errors"
	"log/slog"
	"sync"
	"time"
)

// keyFrameEvery is how often a video line waiting for a key frame asks the
// sender again: a request or its answer can be lost, and asking at every
// frame would flood the sender.
const keyFrameEvery = time.Second

// echoLine is one source's delay line: the Sink the engine writes to and the
// goroutine that plays the frames back on the line's own output.
type echoLine struct {
	e     *echo
	src   Source
	name  string
	video bool
	wake  chan struct{} // capacity 1: the goroutine has something to look at

	mu      sync.Mutex
	q       delayQueue
	needKey bool // video: the next frame queued must be a key frame
	wantKey bool // video: ask the sender for a key frame
	ended   bool // the source closed: play out the queue, then stop
	stopped bool // the output failed or never opened: take nothing more
	in      uint64
	out     uint64
	dropped uint64
	skipped uint64
	failed  uint64 // frames the output refused
}

func newEchoLine(e *echo, src Source) *echoLine {
	video := src.Kind == Video
	return &echoLine{
		e:       e,
		src:     src,
		name:    "echo:" + src.Participant + "/" + src.ID,
		video:   video,
		wake:    make(chan struct{}, 1),
		q:       newDelayQueue(e.cfg.MaxQueue, e.cfg.MaxQueueBytes),
		needKey: video,
		wantKey: video,
	}
}

func (l *echoLine) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// WriteFrame copies f into the delay line; it never blocks on the line's
// goroutine or its output.
func (l *echoLine) WriteFrame(f Frame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended || l.stopped {
		return
	}
	l.in++
	size := len(f.Data)
	if !l.q.fits(size) {
		l.dropped++
		l.lostVideo()
		return
	}
	for l.q.full(size) {
		l.q.dropHead()
		l.dropped++
		l.purgeToKeyFrame()
	}
	if l.needKey && !f.KeyFrame {
		l.skipped++
		l.askKeyFrame()
		return
	}
	l.needKey = false
	at := f.Received
	if at.IsZero() {
		at = l.e.cfg.Clock.Now()
	}
	l.q.push(f, at.Add(l.e.cfg.Delay))
	if l.q.len() == 1 {
		l.signal()
	}
}

// purgeToKeyFrame follows the drop of a video line's oldest frame: the
// frames after it up to the next key frame cannot be decoded, so they go
// too; with none left, the next frame queued must be a key frame.
func (l *echoLine) purgeToKeyFrame() {
	if !l.video {
		return
	}
	for l.q.len() > 0 && !l.q.peek().f.KeyFrame {
		l.q.dropHead()
		l.dropped++
	}
	if l.q.len() == 0 {
		l.lostVideo()
	}
}

func (l *echoLine) lostVideo() {
	if l.video {
		l.needKey = true
		l.askKeyFrame()
	}
}

func (l *echoLine) askKeyFrame() {
	l.wantKey = true
	l.signal()
}

// keyFrameRequested is the output's KeyFrameRequested: our receiver asks,
// so we ask the sender.
func (l *echoLine) keyFrameRequested() {
	l.mu.Lock()
	l.askKeyFrame()
	l.mu.Unlock()
}

// Close plays out what is queued, then the line's output closes.
func (l *echoLine) Close() {
	l.mu.Lock()
	l.ended = true
	l.mu.Unlock()
	l.signal()
}

// stop ends the line: what is still queued is dropped, what comes ignored.
func (l *echoLine) stop() {
	l.mu.Lock()
	l.stopped = true
	l.q.clear()
	l.mu.Unlock()
}

func (l *echoLine) spec() OutputSpec {
	spec := OutputSpec{
		Name:     l.name,
		Kind:     l.src.Kind,
		Codec:    l.src.Codec,
		Audience: []string{l.src.Participant},
	}
	if l.video {
		spec.KeyFrameRequested = l.keyFrameRequested
	}
	return spec
}

func (l *echoLine) run() {
	defer l.e.wg.Done()
	log := l.e.logger.With("output", l.name)
	var out Output
	defer func() {
		// Whatever ended the line, the engine's frames go nowhere now, and
		// it is gone from the stats before anyone can see its output closed.
		l.stop()
		l.e.forget(l)
		if out == nil {
			return
		}
		if err := out.Close(); err != nil {
			log.Debug("echo: closing the output", "err", err)
		}
	}()
	out, err := l.e.call.Publish(l.spec())
	if err != nil {
		out = nil // no output: nothing to close
		log.Warn("echo: cannot publish the output; this source gets no echo", "err", err)
		return
	}
	if err := l.play(out, log); err != nil {
		log.Warn("echo: the output has ended; so does this source's echo", "err", err)
	}
}

// play writes each frame when due until the source has ended and its queue
// is played out, the echo closes, or the output ends (ErrClosed, returned).
// Any other write error concerns one frame: it is counted, and only the
// first is logged. One timer serves the whole line: only the head of the
// queue is ever waited for.
func (l *echoLine) play(out Output, log *slog.Logger) error {
	clock := l.e.cfg.Clock
	var (
		timer Timer
		armed time.Time // when timer fires; zero when it is not armed
		spare []byte    // the last frame's buffer, handed back to the queue
		asked time.Time // last key frame request
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-l.e.done:
			return nil
		default:
		}
		now := clock.Now()
		l.mu.Lock()
		ask := l.wantKey && l.e.keys != nil && (asked.IsZero() || now.Sub(asked) >= keyFrameEvery)
		if ask {
			l.wantKey = false
		}
		var (
			f     Frame
			ready bool
			due   time.Time
		)
		empty := l.q.len() == 0
		if !empty {
			if head := l.q.peek(); head.due.After(now) {
				due = head.due
			} else {
				f, ready = l.q.pop(spare), true
			}
		}
		finished := empty && l.ended
		l.mu.Unlock()

		if ask {
			l.e.keys.RequestKeyFrame(l.src)
			asked = now
		}
		if ready {
			f.Received = time.Time{} // ours now: the feature made it
			err := out.WriteFrame(f)
			if errors.Is(err, ErrClosed) {
				return err
			}
			spare = f.Data
			l.mu.Lock()
			if err == nil {
				l.out++
			} else if l.failed++; l.failed == 1 {
				log.Warn("echo: the output refused a frame; further refusals are only counted", "err", err)
			}
			l.mu.Unlock()
			continue
		}
		if finished {
			return nil
		}
		var fire <-chan time.Time
		if !empty {
			if timer == nil {
				timer = clock.NewTimer(due)
			} else if !armed.Equal(due) {
				timer.Reset(due)
			}
			armed, fire = due, timer.C()
		}
		select {
		case <-l.wake:
		case <-fire:
			armed = time.Time{}
		case <-l.e.done:
			return nil
		}
	}
}

func (l *echoLine) stats() EchoSourceStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return EchoSourceStats{
		Participant:     l.src.Participant,
		Source:          l.src.ID,
		Kind:            l.src.Kind.String(),
		Codec:           l.src.Codec,
		FramesIn:        l.in,
		FramesOut:       l.out,
		Dropped:         l.dropped,
		Skipped:         l.skipped,
		Failed:          l.failed,
		Queued:          l.q.len(),
		WaitingKeyFrame: l.video && l.needKey,
	}
}
