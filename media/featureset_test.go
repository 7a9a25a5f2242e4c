package media

import (
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// setLog records what features and their sinks went through, in order.
type setLog struct {
	mu     sync.Mutex
	events []string
}

func (l *setLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *setLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

type setFeature struct {
	name string
	log  *setLog
	done chan struct{} // nil: not a Finisher
}

func (f *setFeature) SourceAdded(src Source) Sink {
	f.log.add("sink " + f.name + " " + src.ID)
	return setSink{f.name + " " + src.ID, f.log}
}
func (f *setFeature) Close() error { f.log.add("close " + f.name); return nil }

type finishingFeature struct{ *setFeature }

func (f finishingFeature) Done() <-chan struct{} { return f.done }

type setSink struct {
	name string
	log  *setLog
}

func (s setSink) WriteFrame(Frame) {}
func (s setSink) Close()           { s.log.add("sink closed " + s.name) }

type setFactory struct {
	name   string
	log    *setLog
	finish chan struct{}
}

func (f setFactory) Name() string { return f.name }
func (f setFactory) Start(Call, *slog.Logger) (Feature, error) {
	f.log.add("start " + f.name)
	feat := &setFeature{name: f.name, log: f.log, done: f.finish}
	if f.finish != nil {
		return finishingFeature{feat}, nil
	}
	return feat, nil
}

// setHost has one source, "s", and hands finished features back on a
// channel, as an engine posts them to its owner.
type setHost struct {
	sinks    map[*RunningFeature]Sink
	finished chan *RunningFeature
}

func (h *setHost) Attach(f *RunningFeature) {
	if _, ok := h.sinks[f]; !ok {
		h.sinks[f] = f.Feature().SourceAdded(Source{ID: "s"})
	}
}

func (h *setHost) Detach(f *RunningFeature) func() {
	s := h.sinks[f]
	delete(h.sinks, f)
	return func() { s.Close() }
}

func (h *setHost) Finished(f *RunningFeature) { h.finished <- f }

// TestFeatureSet: the set starts what is wanted once live, keeps what
// stays, stops what leaves (its sinks closed before it), does not start a
// set feature that finished on its own again until a set leaves it out,
// runs one-offs beside the set, and Close closes what runs.
func TestFeatureSet(t *testing.T) {
	leakcheck.Check(t)
	l := &setLog{}
	host := &setHost{sinks: map[*RunningFeature]Sink{}, finished: make(chan *RunningFeature, 1)}
	s := NewFeatureSet(nil, host, slog.New(slog.DiscardHandler))
	expect := func(what string, want ...string) {
		t.Helper()
		s.Settle()
		if got := l.take(); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	echo := setFactory{name: "echo", log: l}
	rec := setFactory{name: "record", log: l, finish: make(chan struct{})}

	s.Want([]Factory{echo, rec})
	s.Apply(false)
	expect("not live")
	s.Apply(true)
	expect("live", "start echo", "sink echo s", "start record", "sink record s")

	s.Want([]Factory{rec})
	s.Apply(true)
	expect("echo left the set", "sink closed echo s", "close echo")

	close(rec.finish)
	s.Finish(<-host.finished)
	expect("record finished", "sink closed record s", "close record")
	s.Apply(true)
	expect("a finished set feature is not started again")
	s.Want(nil)
	s.Apply(true)
	s.Want([]Factory{setFactory{name: "record", log: l}})
	s.Apply(true)
	expect("left out and back", "start record", "sink record s")

	s.Once(echo)
	expect("a one-off waits for Apply")
	s.Apply(true)
	expect("one-off", "start echo", "sink echo s")
	if names, _ := s.Report(); !slices.Equal(names, []string{"record", "echo"}) {
		t.Errorf("running %q", names)
	}
	s.Close()
	expect("close", "close record", "close echo")
	if names, _ := s.Report(); len(names) != 0 {
		t.Errorf("running after Close: %q", names)
	}
}
