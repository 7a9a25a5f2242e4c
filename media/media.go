package media

import (
	"errors"
	"log/slog"
	"time"
)

// Kind is a stream's kind.
type Kind uint8

const (
	Audio Kind = iota + 1
	Video
)

func (k Kind) String() string {
	switch k {
	case Audio:
		return "audio"
	case Video:
		return "video"
	}
	return "unknown"
}

// Codec names a stream's encoding, as WebRTC's MIME subtype in lower case.
type Codec string

const (
	Opus Codec = "opus"
	VP8  Codec = "vp8"
	VP9  Codec = "vp9"
	H264 Codec = "h264"
)

// Frame is one encoded media frame, in the clear: an Opus packet, a whole
// VP8 frame. Data belongs to the caller of WriteFrame only for the call: a
// receiver that keeps it must copy it.
type Frame struct {
	Data []byte
	// RTPTime is the sender's RTP timestamp of the frame, in the stream's
	// clock rate: the timing to keep (not arrival counts).
	RTPTime uint32
	// Duration is how long the frame plays, when known (Opus: 20 ms).
	Duration time.Duration
	// KeyFrame marks a video frame a decoder can start from.
	KeyFrame bool
	// Received is when the engine got the frame; zero for frames a feature
	// makes.
	Received time.Time
}

// Source describes a remote participant's stream in a call.
type Source struct {
	// Participant is the engine's name of the sender (the LiveKit
	// identity, a mesh peer's user and device); audiences use it.
	Participant string
	UserID      string
	DeviceID    string
	// ID tells a participant's streams apart (a track id).
	ID        string
	Kind      Kind
	Codec     Codec
	ClockRate uint32
}

// Sink takes one source's frames, in order, from one goroutine of the
// engine's. WriteFrame must return quickly (queue, never block on I/O):
// the engine drops nothing itself, so a slow sink slows that source only.
// Close says the source ended; no WriteFrame follows it.
type Sink interface {
	WriteFrame(f Frame)
	Close()
}

// OutputSpec asks the engine for a stream of ours in the call.
type OutputSpec struct {
	Name  string // shown to clients as the track name
	Kind  Kind
	Codec Codec
	// Audience lists the participants (Source.Participant) allowed to
	// receive the stream; empty means everyone in the call.
	Audience []string
}

// Output is a stream we send into the call. The engine encrypts each frame
// with our current key before it leaves. WriteFrame may be called from one
// goroutine at a time; it does not block on the network.
type Output interface {
	WriteFrame(f Frame) error
	Close() error
}

// Call is what an engine offers a feature for one call it carries.
type Call interface {
	// Publish opens a stream of ours, encrypted as the call's media is.
	Publish(spec OutputSpec) (Output, error)
}

// Feature acts on one call's media. The engine calls SourceAdded for each
// remote stream (from any of its goroutines) and Close once when the call
// ends or the feature is turned off; after Close returns, the feature has
// no goroutine left and writes no more.
type Feature interface {
	// SourceAdded offers a remote stream; the feature returns the sink for
	// its frames, or nil to ignore it.
	SourceAdded(src Source) Sink
	Close() error
}

// Factory starts a feature on a call.
type Factory interface {
	Name() string
	Start(call Call, logger *slog.Logger) (Feature, error)
}

// ErrClosed is returned by an Output or a Call that has ended.
var ErrClosed = errors.New("media: closed")
