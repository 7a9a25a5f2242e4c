// Package secret holds a string type for credentials that refuses to be
// printed: logs, fmt verbs and JSON all show a placeholder instead of the value.
package secret

import (
	"fmt"
	"log/slog"
)

// Value is a credential (password, API secret, access token). Use Reveal to
// get the bytes where they are really needed; everywhere else it prints as
// "[redacted]" so a careless log line cannot leak it.
type Value string

const redacted = "[redacted]"

// Reveal returns the secret itself.
func (v Value) Reveal() string { return string(v) }

// IsZero reports whether no secret is set.
func (v Value) IsZero() bool { return v == "" }

// String implements fmt.Stringer.
func (v Value) String() string {
	if v == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (v Value) GoString() string { return fmt.Sprintf("secret.Value(%q)", v.String()) }

// Format makes every fmt verb (including %s, %v, %q, %x) print the placeholder.
func (v Value) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", v.String())
	default:
		fmt.Fprint(f, v.String())
	}
}

// LogValue implements slog.LogValuer.
func (v Value) LogValue() slog.Value { return slog.StringValue(v.String()) }

// MarshalText keeps encoding/json and YAML encoders from writing the value.
func (v Value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }
