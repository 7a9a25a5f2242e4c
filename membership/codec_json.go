package membership

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// jsonObject is one decoded JSON object whose values are still raw.
type jsonObject map[string]json.RawMessage

// decodeObject checks the content bounds and decodes a top-level JSON object.
func decodeObject(content []byte) (jsonObject, error) {
	if len(content) > MaxContentBytes {
		return nil, fmt.Errorf("%w: content is %d bytes, limit %d", ErrTooLarge, len(content), MaxContentBytes)
	}
	if d := jsonDepth(content); d > MaxNesting {
		return nil, fmt.Errorf("%w: content nests deeper than %d", ErrTooLarge, MaxNesting)
	}
	return asObject(content, "content")
}

// jsonDepth returns the maximum object/array nesting of (possibly invalid)
// JSON, ignoring brackets inside strings.
func jsonDepth(b []byte) int {
	depth, maxDepth := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			maxDepth = max(maxDepth, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return maxDepth
}

func kindOf(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func isNull(raw json.RawMessage) bool { return kindOf(raw) == 'n' }

// asObject decodes raw as a JSON object; what names the value in errors.
func asObject(raw json.RawMessage, what string) (jsonObject, error) {
	if kindOf(raw) != '{' {
		return nil, fmt.Errorf("%w: %s must be a JSON object", ErrMalformed, what)
	}
	var o jsonObject
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return o, nil
}

// asArray decodes raw as a JSON array of at most limit elements.
func asArray(raw json.RawMessage, what string, limit int) ([]json.RawMessage, error) {
	if kindOf(raw) != '[' {
		return nil, fmt.Errorf("%w: %s must be a JSON array", ErrMalformed, what)
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if limit > 0 && len(a) > limit {
		return nil, fmt.Errorf("%w: %s has %d elements, limit %d", ErrTooLarge, what, len(a), limit)
	}
	return a, nil
}

// asString decodes raw as a JSON string of at most limit bytes.
func asString(raw json.RawMessage, what string, limit int) (string, error) {
	if kindOf(raw) != '"' {
		return "", fmt.Errorf("%w: %s must be a string", ErrMalformed, what)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if len(s) > limit {
		return "", fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, what, len(s), limit)
	}
	return s, nil
}

// stringField returns o[key] as a string. Absent yields (def, nil); null
// yields def when nullOK, else an error; any other type is an error.
func (o jsonObject) stringField(key string, limit int, def string, required, nullOK bool) (string, error) {
	raw, ok := o[key]
	if !ok || (nullOK && isNull(raw)) {
		if required {
			return "", fmt.Errorf("%w: %s is required", ErrMalformed, key)
		}
		return def, nil
	}
	return asString(raw, key, limit)
}

// asInteger decodes raw as a JSON integer literal (no fraction, no
// exponent, no string) within the JS safe-integer range.
func asInteger(raw json.RawMessage, what string) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if digits == "" || len(digits) > 16 {
		return 0, fmt.Errorf("%w: %s must be a JSON integer", ErrMalformed, what)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("%w: %s must be a JSON integer", ErrMalformed, what)
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v > maxSafeInteger || v < -maxSafeInteger {
		return 0, fmt.Errorf("%w: %s out of range", ErrMalformed, what)
	}
	return v, nil
}

// asNumber decodes raw as any JSON number (JS typeof "number") within the
// safe-integer range, truncated toward zero to an integer.
func asNumber(raw json.RawMessage, what string) (int64, error) {
	k := kindOf(raw)
	if k != '-' && (k < '0' || k > '9') {
		return 0, fmt.Errorf("%w: %s must be a number", ErrMalformed, what)
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if math.IsNaN(f) || math.Abs(f) > float64(maxSafeInteger) {
		return 0, fmt.Errorf("%w: %s out of range", ErrMalformed, what)
	}
	return int64(f), nil
}

// msTime converts milliseconds since the epoch to a UTC time.
func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// marshalNoEscape encodes v without HTML escaping (the SDKs do not escape
// '<', '>' or '&') and without a trailing newline.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
