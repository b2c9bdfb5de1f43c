package jsonvalue

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/agentalias/agentalias/internal/validate"
)

// Marshal encodes v like json.Marshal, without escaping <, > and & (policy
// expressions are full of them) and without a trailing newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Fields splits the JSON object b into its members and returns them with
// their names in sorted order, so that errors come out in a stable order.
// Anything but an object is an error at path "" (the whole body).
func Fields(b []byte) (map[string]json.RawMessage, []string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		var errs validate.Errors
		errs.Add("", "must be a JSON object")
		return nil, nil, &errs
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return fields, names, nil
}

// IsNull reports whether raw is the JSON literal null.
func IsNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// Decode decodes raw into dst and records msg at path on failure. It reports
// whether decoding succeeded.
func Decode(errs *validate.Errors, path string, raw json.RawMessage, dst any, msg string) bool {
	if err := json.Unmarshal(raw, dst); err != nil {
		errs.Add(path, msg)
		return false
	}
	return true
}
