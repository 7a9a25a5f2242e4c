package media

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// recordLine is one source's recording: the Sink the engine writes to and
// the goroutine that writes its segments.
type recordLine struct {
	r     *recorder
	src   Source
	name  string
	video bool
	wake  chan struct{} // capacity 1: the goroutine has something to look at

	mu       sync.Mutex
	q        delayQueue // arrival order; slots' due times are unused
	needKey  bool       // video: a frame was dropped, skip to a key frame
	wantKey  bool       // video: ask the sender for a key frame
	ended    bool       // the source closed or the recorder closes: write the queue, then stop
	stopped  bool       // the goroutine has ended: take nothing more
	in       uint64
	written  uint64
	dropped  uint64 // lost to the queue's bounds
	skipped  uint64 // video waiting for a key frame
	late     uint64 // timestamps already written
	invalid  uint64 // not a frame of the codec
	segments int
	filled   int64 // silence samples
}

func newRecordLine(r *recorder, src Source) *recordLine {
	return &recordLine{
		r:     r,
		src:   src,
		name:  "record:" + src.Participant + "/" + src.ID,
		video: src.Kind == Video,
		wake:  make(chan struct{}, 1),
		q:     newDelayQueue(r.cfg.MaxQueue, r.cfg.MaxQueueBytes),
	}
}

func (l *recordLine) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// WriteFrame copies f into the queue; it never waits for the disk. A frame
// that does not fit is dropped (the newest, so what is queued stays
// decodable).
func (l *recordLine) WriteFrame(f Frame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended || l.stopped {
		return
	}
	l.in++
	if l.needKey && !f.KeyFrame {
		l.skipped++
		l.askKeyFrame()
		return
	}
	if size := len(f.Data); !l.q.fits(size) || l.q.full(size) {
		l.dropped++
		if l.video {
			l.needKey = true
			l.askKeyFrame()
		}
		return
	}
	l.needKey = false
	if f.Received.IsZero() {
		f.Received = l.r.cfg.Clock.Now()
	}
	l.q.push(f, time.Time{})
	if l.q.len() == 1 {
		l.signal()
	}
}

func (l *recordLine) askKeyFrame() {
	l.wantKey = true
	l.signal()
}

// Close writes out what is queued, then the segment's file is closed.
func (l *recordLine) Close() {
	l.mu.Lock()
	l.ended = true
	l.mu.Unlock()
	l.signal()
}

func (l *recordLine) stop() {
	l.mu.Lock()
	l.stopped = true
	l.q.clear()
	l.mu.Unlock()
}

func (l *recordLine) run() {
	r := l.r
	defer r.wg.Done()
	defer r.forget(l)
	defer l.stop()
	var (
		seg   *segment
		spare []byte
		asked time.Time
	)
	defer func() {
		if seg == nil {
			return
		}
		if err := l.finish(seg); err != nil {
			r.fail(fmt.Errorf("closing %s: %w", seg.name, err))
		}
	}()
	for {
		l.mu.Lock()
		now := r.cfg.Clock.Now()
		ask := l.wantKey && r.keys != nil && (asked.IsZero() || now.Sub(asked) >= keyFrameEvery)
		if ask {
			l.wantKey = false
		}
		var f Frame
		ready := l.q.len() > 0
		if ready {
			f = l.q.pop(spare)
		}
		finished := !ready && l.ended
		l.mu.Unlock()

		if ask {
			r.keys.RequestKeyFrame(l.src)
			asked = now
		}
		if ready {
			var err error
			seg, err = l.place(seg, f)
			if err != nil {
				r.fail(err)
				return
			}
			spare = f.Data
			continue
		}
		if finished {
			return
		}
		select {
		case <-l.wake:
		case <-r.abort:
			return
		}
	}
}

// place writes f into seg, or into a new segment when f does not belong
// in seg (or there is none), and returns the segment now open.
func (l *recordLine) place(seg *segment, f Frame) (*segment, error) {
	if seg == nil {
		seg = l.newSegment()
	}
	v, err := seg.t.add(seg, f)
	if v == jump {
		if err := l.finish(seg); err != nil {
			return nil, fmt.Errorf("closing %s: %w", seg.name, err)
		}
		seg = l.newSegment()
		v, err = seg.t.add(seg, f)
	}
	if err != nil {
		return seg, fmt.Errorf("writing %s: %w", seg.name, err)
	}
	if v == take {
		seg.frames++
		if seg.entry < 0 {
			seg.entry = l.r.addSegment(l.src, seg.name, f.Received)
		}
	}
	// Not under the recorder's lock: Close takes it, then each line's.
	l.mu.Lock()
	defer l.mu.Unlock()
	switch v {
	case take:
		l.written++
		if seg.frames == 1 {
			l.segments++
		}
	case late:
		l.late++
	case invalid:
		l.invalid++
	case needKey:
		l.skipped++
		l.wantKey = true
	}
	return seg, nil
}

func (l *recordLine) newSegment() *segment {
	s := &segment{entry: -1}
	r := l.r
	r.mu.Lock()
	r.seq++
	s.name = segmentName(r.seq, l.src)
	serial := uint32(r.seq)
	r.mu.Unlock()
	s.path = filepath.Join(r.dir, s.name)
	if l.video {
		rate := l.src.ClockRate
		if rate == 0 {
			rate = 90000
		}
		s.t = newIVFTrack(l.src.Codec, rate, r.cfg.MaxGap)
	} else {
		s.t = newOpusTrack(serial, r.cfg.MaxGap)
	}
	return s
}

// finish ends seg's stream, closes its file and records its length in the
// manifest.
func (l *recordLine) finish(seg *segment) error {
	if seg.f == nil {
		return nil // nothing was written: no file, no entry
	}
	err := seg.t.end(seg)
	if err == nil {
		err = seg.bw.Flush()
	}
	if p, ok := seg.t.(interface{ patch(io.WriterAt) error }); ok && err == nil {
		err = p.patch(seg.f)
	}
	if cerr := seg.f.Close(); err == nil {
		err = cerr
	}
	l.mu.Lock()
	if o, ok := seg.t.(*opusTrack); ok {
		l.filled += o.filled
	}
	l.mu.Unlock()
	l.r.endSegment(seg)
	if err == nil {
		// Finished segments are on disk for the admin view and a crash.
		err = l.r.writeManifest()
	}
	return err
}

// segment is one file being written; the file is created by the first
// write, so a segment that takes no frame leaves nothing behind.
type segment struct {
	t      track
	name   string
	path   string
	f      *os.File
	bw     *bufio.Writer
	entry  int // index in the manifest's segments, -1 before the first frame
	frames uint64
}

func (s *segment) Write(p []byte) (int, error) {
	if s.f == nil {
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			return 0, err
		}
		s.f, s.bw = f, bufio.NewWriterSize(f, 32<<10)
	}
	return s.bw.Write(p)
}

// addSegment lists a new segment whose first frame arrived at first.
func (r *recorder) addSegment(src Source, file string, first time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.manifest.Segments = append(r.manifest.Segments, RecordedSegment{
		User:        src.UserID,
		Device:      src.DeviceID,
		Participant: src.Participant,
		Source:      src.ID,
		Kind:        src.Kind.String(),
		Codec:       src.Codec,
		Purpose:     src.Purpose,
		File:        file,
		OffsetMS:    first.Sub(r.manifest.Started).Milliseconds(),
	})
	return len(r.manifest.Segments) - 1
}

// endSegment records seg's final length.
func (r *recorder) endSegment(seg *segment) {
	if seg.entry < 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &r.manifest.Segments[seg.entry]
	e.DurationMS = seg.t.duration().Milliseconds()
	e.Frames = seg.frames
	if o, ok := seg.t.(*opusTrack); ok {
		e.SilenceMS = samplesDuration(o.filled, opusRate).Milliseconds()
	}
}

// RecordSourceStats is one source's line in the recorder's Stats. Every
// frame in is written, dropped, skipped, late, invalid or queued.
type RecordSourceStats struct {
	Participant string `json:"participant"`
	Source      string `json:"source"`
	Kind        string `json:"kind"`
	Codec       Codec  `json:"codec"`
	FramesIn    uint64 `json:"frames_in"`
	Written     uint64 `json:"written"`
	Dropped     uint64 `json:"dropped"`
	Skipped     uint64 `json:"skipped"`
	Late        uint64 `json:"late"`
	Invalid     uint64 `json:"invalid"`
	Queued      int    `json:"queued"`
	Segments    int    `json:"segments"`
	SilenceMS   int64  `json:"silence_ms"`
}

func (l *recordLine) stats() RecordSourceStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return RecordSourceStats{
		Participant: l.src.Participant,
		Source:      l.src.ID,
		Kind:        l.src.Kind.String(),
		Codec:       l.src.Codec,
		FramesIn:    l.in,
		Written:     l.written,
		Dropped:     l.dropped,
		Skipped:     l.skipped,
		Late:        l.late,
		Invalid:     l.invalid,
		Queued:      l.q.len(),
		Segments:    l.segments,
		SilenceMS:   samplesDuration(l.filled, opusRate).Milliseconds(),
	}
}
