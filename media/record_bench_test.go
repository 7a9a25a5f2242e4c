package media

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkRecordAudio is one 120-byte Opus frame per op through one
// recorder line to an Ogg Opus file in a temporary folder, on the real
// clock: WriteFrame (copy into the queue), the writer goroutine, the page
// (with its CRC) and the buffered file write. Every 64 frames the
// benchmark waits for the queue to empty, so no frame is dropped and the
// writer's cost is all in the time.
func BenchmarkRecordAudio(b *testing.B) {
	f, err := NewRecorder(RecordConfig{Dir: b.TempDir()}).Start(signalCall{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	l := f.SourceAdded(Source{Participant: "p", UserID: "@p:x", DeviceID: "D", ID: "mic", Kind: Audio, Codec: Opus, ClockRate: 48000}).(*recordLine)
	frame := Frame{Data: make([]byte, 120), Duration: 20 * time.Millisecond, Received: time.Now()}
	frame.Data[0] = 31 << 3
	drain := func() {
		for l.stats().Queued > 0 {
			runtime.Gosched()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		frame.RTPTime = uint32(960 * i)
		l.WriteFrame(frame)
		if i%64 == 63 {
			drain()
		}
	}
	drain()
	b.StopTimer()
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if st := l.stats(); st.Dropped != 0 || st.Written != uint64(b.N) {
		b.Fatalf("stats %+v after %d frames", st, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
