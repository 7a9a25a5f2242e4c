package mesh

import "errors"

// Sentinel errors of the signalling codecs. Every error of Decode, Encode,
// ParseCandidate and ParseEventType wraps exactly one of them (test with
// errors.Is); the message names the field and the reason.
var (
	// ErrMalformed: a required field is missing, has the wrong JSON type or
	// an invalid value (a non-integer lifetime, an offer whose type is not
	// "offer", SDP that does not parse).
	ErrMalformed = errors.New("malformed call event")
	// ErrTooLarge: the content exceeds a hostile-input bound (content size,
	// SDP length, candidates per event, streams per event, string length).
	ErrTooLarge = errors.New("call event too large")
	// ErrUnsupported: the event type is not a call event we speak, or the
	// content names a protocol version or stream purpose we do not know.
	ErrUnsupported = errors.New("unsupported call event")
	// ErrInvalid: Encode was given a value it cannot send as complete, fully
	// typed content (one bad field aborts a whole sync batch in the SDK).
	ErrInvalid = errors.New("call event cannot be encoded")
)

// Bounds applied to untrusted content (and to what we send).
const (
	MaxContentBytes   = 96 << 10  // whole event content
	MaxSDPBytes       = 64 << 10  // one session description
	MaxCandidates     = 64        // candidates per event
	MaxCandidateBytes = 1024      // one candidate attribute
	MaxStreams        = 16        // sdp_stream_metadata entries
	MaxIDLen          = 255       // bytes of ids, reasons, purposes, msids, names
	MaxURLLen         = 2048      // bytes of asserted_identity avatar_url
	MaxMLineIndex     = 1023      // sdpMLineIndex; no real offer has more media lines
	MaxLifetime       = 3_600_000 // ms of an invite's or negotiate's lifetime (the SDK sends 60000 and 10000)
	maxSafeInteger    = 1<<53 - 1 // JSON numbers beyond this are not exact in JS clients
)
