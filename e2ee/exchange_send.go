package e2ee

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// sendJob is one to-device request: one event type and content for a set
// of devices, fixed by the owner when it queued the job.
type sendJob struct {
	session sessionKey
	evtType string
	to      map[id.UserID][]id.DeviceID
	content json.RawMessage
	request bool // a key request rather than keys
}

// sendResult reports a failed job back to the owner.
type sendResult struct {
	job sendJob
	err error
}

// sender runs the queued jobs in order on one goroutine. The queue is
// unbounded so the owner never waits; it holds at most a few jobs per
// membership change.
type sender struct {
	bot     Bot
	log     *slog.Logger
	timeout time.Duration
	results chan<- sendResult
	metrics *Metrics

	mu    sync.Mutex
	queue []sendJob
	wake  chan struct{} // 1-buffered
}

func newSender(bot Bot, log *slog.Logger, timeout time.Duration, results chan<- sendResult) *sender {
	return &sender{bot: bot, log: log, timeout: timeout, results: results, wake: make(chan struct{}, 1)}
}

func (s *sender) enqueue(j sendJob) {
	s.mu.Lock()
	s.queue = append(s.queue, j)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run sends until ctx ends; jobs still queued then are dropped (we are
// leaving every call anyway).
func (s *sender) run(ctx context.Context) {
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, j := range batch {
			if ctx.Err() != nil {
				return
			}
			err := s.send(ctx, j)
			if ctx.Err() == nil { // not our own shutdown
				s.metrics.sent(j, err)
			}
			if err != nil {
				select {
				case s.results <- sendResult{job: j, err: err}:
				case <-ctx.Done():
					return
				}
			}
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		}
	}
}

func (s *sender) send(ctx context.Context, j sendJob) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := s.bot.SendEncryptedToDevice(ctx, event.Type{Type: j.evtType, Class: event.ToDeviceEventType}, j.to, j.content)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("sending to-device key event failed", "type", j.evtType, "room", j.session.call.Room,
			"devices", countDevices(j.to), "err", err)
	}
	return err
}

func countDevices(to map[id.UserID][]id.DeviceID) int {
	n := 0
	for _, d := range to {
		n += len(d)
	}
	return n
}
