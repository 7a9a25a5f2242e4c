package media

import (
	"testing"
	"time"
)

// signalOutput hands each frame's arrival to the benchmark, nothing more.
type signalOutput struct{ got chan struct{} }

func (o signalOutput) WriteFrame(Frame) error { o.got <- struct{}{}; return nil }
func (o signalOutput) Close() error           { return nil }

type signalCall struct{ out signalOutput }

func (c signalCall) Publish(OutputSpec) (Output, error) { return c.out, nil }

// BenchmarkEchoAudio is one Opus frame through one echo line per op, on the
// real clock: WriteFrame (copy into the ring), the line's goroutine woken,
// its due check, the output's write, and the handoff back. Frames are
// stamped a delay in the past so each is due at once: this measures the
// line's work per frame, not the delay.
func BenchmarkEchoAudio(b *testing.B) {
	out := signalOutput{got: make(chan struct{})}
	f, err := NewEcho(DefaultEchoConfig()).Start(signalCall{out}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := f.SourceAdded(Source{Participant: "p", ID: "mic", Kind: Audio, Codec: Opus, ClockRate: 48000})
	frame := Frame{Data: make([]byte, 120), Duration: 20 * time.Millisecond, Received: time.Now().Add(-time.Hour)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		frame.RTPTime = uint32(960 * i)
		s.WriteFrame(frame)
		<-out.got
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
