package mesh

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// object is one JSON object with its values still raw. Keys are matched
// exactly, as the Dart SDK matches them (encoding/json's struct decoding
// would also match "Call_ID" for call_id).
type object map[string]json.RawMessage

// toObject decodes raw as a JSON object; what names it in errors.
func toObject(raw json.RawMessage, what string) (object, error) {
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w: %s must be a JSON object", ErrMalformed, what)
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return o, nil
}

// has says whether key is present and not null (the SDK reads null as
// absent).
func (o object) has(key string) bool {
	raw, ok := o[key]
	return ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// scalar is a JSON value type a field may have.
type scalar interface {
	string | bool | int64 | float64
}

// field decodes o[key] into a T. Absent or null yields ok false. An
// int64 field takes only an integer literal within the JS safe range.
func field[T scalar](o object, key string) (v T, ok bool, err error) {
	if !o.has(key) {
		return v, false, nil
	}
	raw := bytes.TrimSpace(o[key])
	var want string
	switch any(v).(type) {
	case string:
		want = "a string"
		ok = raw[0] == '"'
	case bool:
		want = "a boolean"
		ok = raw[0] == 't' || raw[0] == 'f'
	case int64:
		want = "an integer"
		ok = raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')
	case float64:
		want = "a number"
		ok = raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')
	}
	if ok && json.Unmarshal(raw, &v) != nil {
		ok = false
	}
	if i, isInt := any(v).(int64); ok && isInt && (i > maxSafeInteger || i < -maxSafeInteger) {
		ok = false
	}
	if !ok {
		var zero T
		return zero, false, fmt.Errorf("%w: %s must be %s", ErrMalformed, key, want)
	}
	return v, true, nil
}

// text is a string field of at most limit bytes; required says whether
// absence is an error. Absent yields "".
func (o object) text(key string, limit int, required bool) (string, error) {
	s, ok, err := field[string](o, key)
	switch {
	case err != nil:
		return "", err
	case !ok && required:
		return "", fmt.Errorf("%w: %s is required", ErrMalformed, key)
	case len(s) > limit:
		return "", fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, key, len(s), limit)
	}
	return s, nil
}

// id is a required, non-empty string of at most MaxIDLen bytes.
func (o object) id(key string) (string, error) {
	s, err := o.text(key, MaxIDLen, true)
	if err == nil && s == "" {
		err = fmt.Errorf("%w: %s is empty", ErrMalformed, key)
	}
	return s, err
}

// flag is an optional boolean, false when absent (as the SDK defaults it).
func (o object) flag(key string) (bool, error) {
	b, _, err := field[bool](o, key)
	return b, err
}

// sub is the object at key; absent or null yields nil.
func (o object) sub(key string, required bool) (object, error) {
	if !o.has(key) {
		if required {
			return nil, fmt.Errorf("%w: %s is required", ErrMalformed, key)
		}
		return nil, nil
	}
	return toObject(o[key], key)
}
