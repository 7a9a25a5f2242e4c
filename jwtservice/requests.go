package jwtservice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a client may send. Matrix ids are at most 255 bytes; the
// anchor accepted 10 MiB device ids and turned them into 27 MiB tokens.
const (
	maxBodyBytes  = 64 << 10
	maxIDBytes    = 255
	maxTokenBytes = 2048
	// maxDelayTimeout bounds delegated delayed-leave timeouts (ms), as the
	// anchor clamps job deadlines to an hour.
	maxDelayTimeout = int64(time.Hour / time.Millisecond)
)

// OpenIDToken is the token a client obtained from its homeserver.
type OpenIDToken struct {
	AccessToken      string
	MatrixServerName string
	ExpiresIn        time.Duration // client-claimed; only caps our cache
}

// Member is the MatrixRTC member a /get_token request is for.
type Member struct {
	ID, ClaimedUserID, ClaimedDeviceID string
}

// Delay is an optional delegated delayed leave (MSC4140).
type Delay struct {
	ID      string
	Timeout time.Duration
}

// TokenRequest is a /get_token or /delegate_delayed_leave body.
type TokenRequest struct {
	RoomID, SlotID string
	OpenID         OpenIDToken
	Member         Member
	Delay          Delay
}

// LegacyRequest is a /sfu/get body.
type LegacyRequest struct {
	Room     string
	OpenID   OpenIDToken
	DeviceID string // may be empty, as in lk-jwt-service
	Delay    Delay
}

// object is one JSON object whose keys are matched exactly. encoding/json
// matches struct fields case-insensitively, which let the anchor accept
// "ROOM_ID" for "room_id"; unknown keys are ignored, as Matrix practice and
// Element X need.
type object map[string]json.RawMessage

// parseBody reads one JSON object and nothing after it.
func parseBody(r io.Reader) (object, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrNotJSON, maxBodyBytes)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: body is not UTF-8", ErrNotJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var o object
	if err := dec.Decode(&o); err != nil || o == nil {
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrNotJSON)
	}
	return o, nil
}

// str returns a string field; absent or null is "", another type an error.
func (o object) str(key string) (string, error) {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrNotJSON, key)
	}
	return s, nil
}

// integer returns an integer field; floats and other types are errors, as in
// the anchor (a float delay_timeout is refused).
func (o object) integer(key string) (int64, error) {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		return 0, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("%w: %s is not an integer", ErrNotJSON, key)
	}
	return n, nil
}

// obj returns a nested object; absent or null is an empty object.
func (o object) obj(key string) (object, error) {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		return object{}, nil
	}
	var inner object
	if err := json.Unmarshal(raw, &inner); err != nil || inner == nil {
		return nil, fmt.Errorf("%w: %s is not an object", ErrNotJSON, key)
	}
	return inner, nil
}

// fields reads several string fields, stopping at the first bad one.
func (o object) fields(dst map[string]*string) error {
	for key, p := range dst {
		s, err := o.str(key)
		if err != nil {
			return err
		}
		*p = s
	}
	return nil
}

func parseOpenID(o object) (OpenIDToken, error) {
	ot, err := o.obj("openid_token")
	if err != nil {
		return OpenIDToken{}, err
	}
	var t OpenIDToken
	if err := ot.fields(map[string]*string{"access_token": &t.AccessToken, "matrix_server_name": &t.MatrixServerName}); err != nil {
		return t, err
	}
	if _, err := ot.str("token_type"); err != nil {
		return t, err
	}
	secs, err := ot.integer("expires_in")
	if err != nil {
		return t, err
	}
	if secs > 0 && secs < int64(24*time.Hour/time.Second) {
		t.ExpiresIn = time.Duration(secs) * time.Second
	}
	return t, nil
}

func parseDelay(o object) (Delay, error) {
	var d Delay
	if err := o.fields(map[string]*string{"delay_id": &d.ID}); err != nil {
		return d, err
	}
	// Accepted and ignored, as upstream since #188: a client must not choose
	// where the service sends requests.
	if _, err := o.str("delay_cs_api_url"); err != nil {
		return d, err
	}
	ms, err := o.integer("delay_timeout")
	if err != nil {
		return d, err
	}
	if ms > maxDelayTimeout {
		ms = maxDelayTimeout
	}
	if ms > 0 {
		d.Timeout = time.Duration(ms) * time.Millisecond
	}
	return d, nil
}

// checkDelay: both delay fields or neither.
func (d Delay) present() bool { return d.ID != "" && d.Timeout > 0 }
func (d Delay) partial() bool { return (d.ID != "") != (d.Timeout > 0) }

// validIdentifier bounds and cleans identifiers that end up in tokens, room
// names and logs: no control characters (a newline would let a client write
// log lines), no replacement characters (two different invalid inputs would
// map to one identity), at most max bytes.
func validIdentifier(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// checkIdentifiers reports the first invalid id by position only: the value
// may be a token, and is hostile by assumption.
func checkIdentifiers(max int, ids ...string) error {
	for i, id := range ids {
		if !validIdentifier(id, max) {
			return fmt.Errorf("%w: field %d (%d bytes)", ErrBadIdentifier, i, len(id))
		}
	}
	return nil
}
