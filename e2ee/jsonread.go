package e2ee

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// object is a decoded JSON object whose numbers are still json.Number.
type object map[string]any

// readContent decodes content as one JSON object within MaxContentBytes.
func readContent(content []byte) (object, error) {
	if len(content) > MaxContentBytes {
		return nil, fmt.Errorf("%w: content is %d bytes, limit %d", ErrTooLarge, len(content), MaxContentBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(content))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: content is not JSON: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the content object", ErrMalformed)
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: content must be a JSON object", ErrMalformed)
	}
	return o, nil
}

// sub returns o[name] as an object; absent (or null when optional) gives nil.
func (o object) sub(name string, required bool) (object, error) {
	v, ok := o[name]
	if !ok || (v == nil && !required) {
		if required {
			return nil, fmt.Errorf("%w: %s is required", ErrMalformed, name)
		}
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s must be an object", ErrMalformed, name)
	}
	return m, nil
}

// text returns o[name] as a string of at most MaxIDLen bytes. Absent gives
// def unless required; present values must be strings (null too is refused,
// as both SDKs' casts refuse it).
func (o object) text(name string, required bool, def string) (string, error) {
	v, ok := o[name]
	if !ok {
		if required {
			return "", fmt.Errorf("%w: %s is required", ErrMalformed, name)
		}
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s must be a string", ErrMalformed, name)
	}
	if len(s) > MaxIDLen {
		return "", fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, name, len(s), MaxIDLen)
	}
	return s, nil
}

// nonEmpty is text for a required string that must not be empty.
func (o object) nonEmpty(name string) (string, error) {
	s, err := o.text(name, true, "")
	if err == nil && s == "" {
		err = fmt.Errorf("%w: %s is empty", ErrMalformed, name)
	}
	return s, err
}

// integer returns o[name] as a JSON integer literal (no fraction, exponent
// or quotes) in [lo, hi].
func (o object) integer(name string, lo, hi int64) (int64, error) {
	v, ok := o[name]
	if !ok {
		return 0, fmt.Errorf("%w: %s is required", ErrMalformed, name)
	}
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(string(n), ".eE") {
		return 0, fmt.Errorf("%w: %s must be an integer", ErrMalformed, name)
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || i < lo || i > hi {
		return 0, fmt.Errorf("%w: %s out of range %d..%d", ErrMalformed, name, lo, hi)
	}
	return i, nil
}

// roomID returns o[name] as a room id: a non-empty string starting with '!'.
func (o object) roomID(name string) (string, error) {
	s, err := o.nonEmpty(name)
	if err == nil && s[0] != '!' {
		err = fmt.Errorf("%w: %s does not start with '!'", ErrMalformed, name)
	}
	return s, err
}

// writeJSON encodes v like the SDKs do: no HTML escaping, no trailing newline.
func writeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
