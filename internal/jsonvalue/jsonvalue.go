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
)

// MaxDepth bounds how deeply values may nest.
const MaxDepth = 64

// Object returns a deep, normalized copy of m. A nil m yields nil.
// It fails if a value is not a JSON value (a channel, a struct, NaN, ...).
func Object(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
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
	if n != nil {
		b, err := json.Marshal(n)
		if err != nil {
			return nil, fmt.Errorf("must be a JSON object: %v", err)
		}
		if len(b) > maxBytes {
			return nil, fmt.Errorf("must be at most %d bytes of JSON", maxBytes)
		}
	}
	return n, nil
}
