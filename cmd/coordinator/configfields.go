package main

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// field is one leaf of Config, found by reflection so that the YAML decoder,
// the environment overrides and the documentation all agree on the key set.
type field struct {
	key     string   // dotted YAML path, e.g. "livekit.url"
	env     string   // generated SWITCHBOARD_ variable
	aliases []string // compatible variables (lk-jwt-service), handled in configenv.go
	doc     string
	index   []int // reflect field index path from Config
	typ     reflect.Type
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[secret.Value]()
)

// configFields lists every leaf of Config in declaration order.
func configFields() []field {
	var out []field
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name := sf.Tag.Get("yaml")
			key := prefix + name
			idx := append(append([]int(nil), index...), i)
			if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
				walk(sf.Type, key+".", idx)
				continue
			}
			var aliases []string
			if a := sf.Tag.Get("env"); a != "" {
				aliases = strings.Split(a, ",")
			}
			out = append(out, field{
				key:     key,
				env:     "SWITCHBOARD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
				aliases: aliases,
				doc:     sf.Tag.Get("doc"),
				index:   idx,
				typ:     sf.Type,
			})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// value returns the settable reflect.Value of f inside cfg.
func (f field) value(cfg *Config) reflect.Value {
	return reflect.ValueOf(cfg).Elem().FieldByIndex(f.index)
}

// setString parses s as this field's type and stores it. It is the one parser
// for values that arrive as text (environment variables).
func (f field) setString(cfg *Config, s string) error {
	v := f.value(cfg)
	switch {
	case f.typ == durationType:
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case f.typ.Kind() == reflect.String:
		v.SetString(s)
	case f.typ.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case f.typ.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(int64(n))
	case f.typ.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(x)
	case f.typ.Kind() == reflect.Slice:
		v.Set(reflect.ValueOf(splitList(s)))
	case f.typ.Kind() == reflect.Map:
		m, err := parseMap(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("unsupported config type %s", f.typ)
	}
	return nil
}

// display renders the field's value in cfg for documentation (defaults).
func (f field) display(cfg *Config) string {
	v := f.value(cfg)
	switch {
	case f.typ == secretType:
		return ""
	case f.typ == durationType:
		if v.Int() == 0 {
			return "0"
		}
		return time.Duration(v.Int()).String()
	case f.typ.Kind() == reflect.Slice, f.typ.Kind() == reflect.Map:
		if v.Len() == 0 {
			return ""
		}
		return fmt.Sprint(v.Interface())
	default:
		return fmt.Sprint(v.Interface())
	}
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use a unit, e.g. 30s, 5m, 1h)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// splitList splits on commas and whitespace, dropping empty items, as
// lk-jwt-service does for LIVEKIT_FULL_ACCESS_HOMESERVERS.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// parseMap parses "k=v,k2=v2" strictly: whitespace around items is trimmed,
// an empty key or value is an error (the LIVEKIT_CS_API_URL_OVERRIDES rules).
func parseMap(s string) (map[string]string, error) {
	m := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not of the form name=value", strings.TrimSpace(item))
		}
		m[k] = v
	}
	return m, nil
}

// sortedKeys returns a map's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
