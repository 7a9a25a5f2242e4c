package media

import (
	"errors"
	"fmt"
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
	// Purpose is what the stream carries, as MSC3077 names it:
	// PurposeUserMedia or PurposeScreenshare; empty when the engine cannot
	// tell. A recording lists it with the source's segments.
	Purpose string
}

// The stream purposes of MSC3077 a Source may carry.
const (
	PurposeUserMedia   = "m.usermedia"
	PurposeScreenshare = "m.screenshare"
)

// Sink takes one source's frames, in order, from one goroutine of the
// engine's. WriteFrame must return quickly (queue, never block on I/O):
// the engine drops nothing itself, so a slow sink slows that source only.
// Close says the source ended; no WriteFrame follows it.
type Sink interface {
	WriteFrame(f Frame)
	Close()
}

// Muter is a Sink that wants to hear when its source's sender mutes or
// unmutes it (a mesh peer's sdp_stream_metadata_changed: audio_muted for
// an audio source, video_muted for a video one). An engine that knows
// calls Muted on every change, in order with the frames (never after
// Close); at is when the engine learnt it. A sender may go on sending
// while muted (silence, black frames) or stop; a sink must not rely on
// either.
type Muter interface {
	Muted(muted bool, at time.Time)
}

// OutputSpec asks the engine for a stream of ours in the call.
type OutputSpec struct {
	Name  string // shown to clients as the track name
	Kind  Kind
	Codec Codec
	// Audience lists the participants (Source.Participant) allowed to
	// receive the stream; empty means everyone in the call.
	Audience []string
	// KeyFrameRequested, if set, is called by the engine when a receiver
	// of this (video) stream asks for a key frame (RTCP PLI/FIR), so that a
	// feature passing a source through can ask that source's sender in
	// turn (KeyFrameRequester). It must not block.
	KeyFrameRequested func()
}

// Output is a stream we send into the call. The engine encrypts each frame
// with our current key before it leaves. WriteFrame may be called from one
// goroutine at a time; it does not block on the network. It returns
// ErrClosed (possibly wrapped) once the stream has ended for good; any
// other error concerns that frame only.
type Output interface {
	WriteFrame(f Frame) error
	Close() error
}

// Readier is an Output that can tell when it is live: published, so that
// its frames reach receivers rather than being counted as dropped. A
// feature that must not lose its first frames (an announcement) waits for
// Ready before it starts; features that stream live (echo) need not.
type Readier interface {
	Ready() <-chan struct{}
}

// Call is what an engine offers a feature for one call it carries.
type Call interface {
	// Publish opens a stream of ours, encrypted as the call's media is.
	// Features call it from their own goroutines, several at once; it may
	// wait for the engine to set the stream up, and returns (with an
	// error) once the call has ended.
	Publish(spec OutputSpec) (Output, error)
}

// KeyFrameRequester is implemented by a Call whose engine can ask the
// sender of a remote video source for a key frame (RTCP PLI). A feature
// that passes video through uses it when it starts, after it dropped a
// frame, and when its own receivers ask, instead of waiting for the
// sender's next key frame. It must not block.
type KeyFrameRequester interface {
	RequestKeyFrame(src Source)
}

// Feature acts on one call's media. The engine calls SourceAdded for each
// remote stream (from any of its goroutines) and Close once when the call
// ends or the feature is turned off; after Close returns, the feature has
// no goroutine left and writes no more. Every sink a feature returned is
// closed before the feature is: when its source ends, and when the feature
// is turned off while the call goes on (its streams end for it; no
// WriteFrame follows).
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

// ErrCallNotCarried is wrapped by an engine asked to act on a call it does
// not carry. It is declared here, the seam every engine imports, so that
// the supervisor tells it apart whatever the engine.
var ErrCallNotCarried = errors.New("media: call not carried")

// startOn checks what a Factory's Start gets: a call is required, a nil
// logger discards, and the call's key frame requester is used when it has
// one.
func startOn(feature string, call Call, logger *slog.Logger) (KeyFrameRequester, *slog.Logger, error) {
	if call == nil {
		return nil, nil, fmt.Errorf("%s: %w", feature, ErrNoCall)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	keys, _ := call.(KeyFrameRequester)
	return keys, logger, nil
}

// Finisher is a Feature that ends on its own, such as an announcement
// played to its end. The engine closes it (Close, as for any feature) once
// Done is closed and forgets it.
type Finisher interface {
	Done() <-chan struct{}
}
