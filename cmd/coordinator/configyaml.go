package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// configError is one problem with the configuration, tied to its key so that
// check-config can list every problem at once.
type configError struct {
	Key  string
	Line int // 0 when the problem is not from the file
	Msg  string
}

func (e *configError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (line %d)", e.Key, e.Msg, e.Line)
	}
	return fmt.Sprintf("%s: %s", e.Key, e.Msg)
}

// decodeYAML applies a YAML document onto cfg. Instead of yaml's own struct
// decoding it walks the node tree, so that every unknown key and every badly
// typed value is reported with its full dotted key, not only the first.
func decodeYAML(data []byte, cfg *Config) []error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file configures nothing
		}
		return []error{&configError{Key: "(file)", Msg: err.Error()}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return []error{&configError{Key: "(file)", Msg: "more than one YAML document"}}
	}
	var errs []error
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	decodeStruct(root, reflect.ValueOf(cfg).Elem(), "", &errs)
	return errs
}

func decodeStruct(n *yaml.Node, v reflect.Value, prefix string, errs *[]error) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		*errs = append(*errs, &configError{Key: keyOrRoot(prefix), Line: n.Line, Msg: "must be a mapping of keys to values"})
		return
	}
	t := v.Type()
	byName := map[string]int{}
	for i := range t.NumField() {
		byName[t.Field(i).Tag.Get("yaml")] = i
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		key := prefix + kn.Value
		if seen[kn.Value] {
			*errs = append(*errs, &configError{Key: key, Line: kn.Line, Msg: "duplicate key"})
			continue
		}
		seen[kn.Value] = true
		idx, ok := byName[kn.Value]
		if !ok {
			*errs = append(*errs, &configError{Key: key, Line: kn.Line, Msg: "unknown key"})
			continue
		}
		fv := v.Field(idx)
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			decodeStruct(vn, fv, key+".", errs)
			continue
		}
		if err := decodeLeaf(vn, fv); err != nil {
			*errs = append(*errs, &configError{Key: key, Line: vn.Line, Msg: err.Error()})
		}
	}
}

func decodeLeaf(n *yaml.Node, v reflect.Value) error {
	n = deref(n)
	if isNull(n) {
		v.SetZero()
		return nil
	}
	switch {
	case v.Type() == durationType:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return fmt.Errorf("must be a duration with a unit, e.g. 30s, 5m, 1h")
		}
		d, err := parseDuration(n.Value)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("must be a single value")
		}
		v.SetString(n.Value)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			return fmt.Errorf("must be true or false")
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			return fmt.Errorf("must be a whole number")
		}
		v.SetInt(int64(i))
	case v.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil {
			return fmt.Errorf("must be a number")
		}
		v.SetFloat(x)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("must be a list")
		}
		list := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			item = deref(item)
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("list items must be single values (line %d)", item.Line)
			}
			list = append(list, item.Value)
		}
		v.Set(reflect.ValueOf(list))
	case v.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("must be a mapping")
		}
		m := make(map[string]string, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], deref(n.Content[i+1])
			if kn.Kind != yaml.ScalarNode || vn.Kind != yaml.ScalarNode {
				return fmt.Errorf("entries must map a name to a single value (line %d)", kn.Line)
			}
			if _, dup := m[kn.Value]; dup {
				return fmt.Errorf("duplicate entry %q (line %d)", kn.Value, kn.Line)
			}
			m[kn.Value] = vn.Value
		}
		v.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("unsupported config type %s", v.Type())
	}
	return nil
}

// deref follows YAML aliases (*name) to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func keyOrRoot(prefix string) string {
	if prefix == "" {
		return "(file)"
	}
	return prefix[:len(prefix)-1]
}
