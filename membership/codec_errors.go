package membership

import (
	"errors"
	"time"
)

// Sentinel errors of the membership codecs. Every refusal returned by a
// Parse* function wraps exactly one of them (test with errors.Is); the
// message says which entry and field and why.
var (
	// ErrMalformed: the content (or one entry of it) does not match the
	// dialect's schema: a required field is missing or has the wrong JSON type.
	ErrMalformed = errors.New("malformed membership")
	// ErrTooLarge: the content exceeds a hostile-input bound (size, nesting,
	// entries per event, string length, list length).
	ErrTooLarge = errors.New("membership content too large")
	// ErrStateKey: the state key (or sticky key) is malformed or does not
	// match the content.
	ErrStateKey = errors.New("membership state key invalid")
	// ErrSenderMismatch: the state key or content names a user other than the
	// event's sender.
	ErrSenderMismatch = errors.New("membership names another user than the sender")
	// ErrInvalidMember: a Build* function was given a Member it cannot encode
	// so that it parses back to the same Member.
	ErrInvalidMember = errors.New("member cannot be encoded")
)

// Bounds applied to untrusted content.
const (
	MaxContentBytes         = 64 << 10  // whole event content
	MaxNesting              = 16        // JSON object/array depth
	MaxFamedlyEntries       = 64        // memberships per Famedly event; the rest are refused
	MaxIDLen                = 255       // bytes of ids: call_id, device_id, application, scope, membershipID, alias, slot, user
	MaxURLLen               = 2048      // bytes of livekit_service_url
	MaxFoci                 = 16        // foci_preferred / rtc_transports elements
	MaxFeeds                = 16        // Famedly feeds elements
	maxSafeInteger    int64 = 1<<53 - 1 // JSON numbers beyond this are not exact in JS clients
)

// Expiry constants of the dialects.
const (
	// FamedlyExpiryGrace is the Famedly SDK's expireTsBumpDuration: a
	// membership stays live until expires_ts plus this grace.
	FamedlyExpiryGrace = 6 * time.Minute
	// DefaultMatrixRTCExpiry is the js-sdk DEFAULT_EXPIRE_DURATION used when
	// a session membership has no "expires".
	DefaultMatrixRTCExpiry = 4 * time.Hour
	// MaxStickyTTL caps the stickiness of an rtc.member sticky event.
	MaxStickyTTL = time.Hour
)

// famedlyMissingMembershipID is the Famedly SDK's fallback membershipID.
const famedlyMissingMembershipID = "someone_forgot_to_set_the_membershipID"
