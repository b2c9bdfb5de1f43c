// Package jsonvalue copies and checks the free-form JSON values that domain
// types carry, such as metadata objects.
//
// A JSON value in Go is nil, bool, float64, string, []any or map[string]any,
// the types encoding/json produces when it decodes into an interface. Values
// built in Go may also hold other numeric types and json.Number; Normalize
// turns those into float64, so a value reads back the same from every store,
// whether it was kept in memory or encoded to disk.
package jsonvalue

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// MaxDepth bounds how deeply values may nest.
const MaxDepth = 64

// Object returns m normalized: m itself when it already is (holding only
// the types encoding/json decodes into, finite numbers, and nesting within
// MaxDepth), or else a deep, normalized copy. A nil m yields nil. It fails if
// a value is not a JSON value (a channel, a struct, NaN, ...). Callers that
// need a copy in any case use Clone.
func Object(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	if normalized(m, 0) {
		return m, nil
	}
	v, err := normalize(m, 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// Normalize returns a deep, normalized copy of v.
func Normalize(v any) (any, error) {
	return normalize(v, 0)
}

// Clone returns a deep copy of m, which must already be normalized. It never
// fails; values of unexpected types are copied by assignment.
func Clone(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return cloneValue(m).(map[string]any)
}

// CloneValue returns a deep copy of a normalized value.
func CloneValue(v any) any { return cloneValue(v) }

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = cloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}

// normalized reports whether v needs no normalizing, without allocating.
func normalized(v any, depth int) bool {
	if depth > MaxDepth {
		return false
	}
	switch t := v.(type) {
	case nil, bool, string:
		return true
	case float64:
		return !math.IsNaN(t) && !math.IsInf(t, 0)
	case map[string]any:
		for _, e := range t {
			if !normalized(e, depth+1) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range t {
			if !normalized(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

func normalize(v any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("nested more than %d levels deep", MaxDepth)
	}
	switch t := v.(type) {
	case nil, bool, string:
		return t, nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", t)
		}
		return t, nil
	case float32:
		return normalize(float64(t), depth)
	case int:
		return float64(t), nil
	case int8:
		return float64(t), nil
	case int16:
		return float64(t), nil
	case int32:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint:
		return float64(t), nil
	case uint8:
		return float64(t), nil
	case uint16:
		return float64(t), nil
	case uint32:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a JSON number", string(t))
		}
		return f, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%T is not a JSON value", v)
	}
}

// Metadata returns a normalized deep copy of the metadata object m, or an
// error (worded for a field error) if m holds something that is not JSON or
// encodes to more than maxBytes. A nil m is valid and yields nil.
func Metadata(m map[string]any, maxBytes int) (map[string]any, error) {
	n, err := Object(m)
	if err != nil {
		return nil, fmt.Errorf("must be a JSON object: %v", err)
	}
	if n != nil && encodedSize(n, maxBytes) > maxBytes {
		return nil, fmt.Errorf("must be at most %d bytes of JSON", maxBytes)
	}
	return n, nil
}

// encodedSize returns the length of the JSON encoding of the normalized
// value v as encoding/json writes it (escaping <, > and &), or any number
// above limit once it knows the size exceeds limit. It does not allocate.
func encodedSize(v any, limit int) int {
	switch t := v.(type) {
	case nil:
		return 4
	case bool:
		if t {
			return 4
		}
		return 5
	case string:
		return stringSize(t)
	case float64:
		// As encoding/json formats numbers.
		var buf [32]byte
		format := byte('f')
		if a := math.Abs(t); a != 0 && (a < 1e-6 || a >= 1e21) {
			format = 'e'
		}
		return len(strconv.AppendFloat(buf[:0], t, format, -1, 64))
	case map[string]any:
		n := 1 // {, then a comma or } after each member
		for k, e := range t {
			n += stringSize(k) + 1 + encodedSize(e, limit-n) + 1
			if n > limit {
				return n
			}
		}
		if len(t) == 0 {
			n++
		}
		return n
	case []any:
		n := 1 // [, then a comma or ] after each element
		for _, e := range t {
			n += encodedSize(e, limit-n) + 1
			if n > limit {
				return n
			}
		}
		if len(t) == 0 {
			n++
		}
		return n
	}
	return limit + 1
}

// stringSize is the length of s as a JSON string, an upper bound: bytes that
// encoding/json escapes are counted at their longest escape, and so are
// U+2028, U+2029 and invalid UTF-8 bytes, which it writes as \u2028, \u2029
// and \ufffd.
func stringSize(s string) int {
	n := 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			n += 6
		case c == '"' || c == '\\':
			n += 2
		case c < utf8.RuneSelf:
			n++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				n += 6
			} else {
				n += size
			}
			i += size - 1
		}
	}
	return n
}
