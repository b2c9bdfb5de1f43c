package expr

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the type of a [Value]. The zero Kind is [KindNull].
type Kind uint8

// The kinds of values an expression can produce.
const (
	KindNull   Kind = iota // null: a missing value, or the result of a type error
	KindBool               // true or false
	KindNumber             // a finite float64
	KindString             // a string of bytes
	KindArray              // a JSON array read from metadata
	KindObject             // a JSON object read from metadata, or a part of the routing context
)

// String returns the kind's lowercase name: "null", "bool", "number",
// "string", "array" or "object".
func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindBool:
		return "bool"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	case KindArray:
		return "array"
	case KindObject:
		return "object"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is the result of evaluating an expression: null, a bool, a number, a
// string, or an array or object read from the routing context. The zero Value
// is null. Values are small (32 bytes) and are passed by value.
//
// Strings, arrays and objects read from an [Input] share its memory rather
// than copying it: treat them, and what [Value.Interface] returns for them, as
// read-only, and do not change the Input while using them.
//
// Values cannot be compared with ==; compare what the As methods return.
type Value struct {
	// Values are not comparable with ==: the same string may be held in two
	// ways, and comparing two held maps would panic. This field makes ==
	// a compile-time error (it takes no space at the front).
	_    [0]func()
	kind Kind
	num  float64 // KindNumber: the number; KindBool: 1 for true, 0 for false
	// ref holds the rest, always a value that fits in an interface without
	// allocating when it comes from an Input: for KindString a string (from
	// metadata, a literal or a computation) or a *string (a field of an
	// Input); for KindArray a []any; for KindObject a map[string]any, an
	// *Object (agent or session) or an *Input (the whole context). Keeping
	// Value at four words lets the compiler keep it in registers.
	ref any
}

// Null returns the null value (the zero Value).
func Null() Value { return Value{} }

// Bool returns the boolean value b.
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, num: 1}
	}
	return Value{kind: KindBool}
}

// Number returns the number f. Numbers are always finite: Number returns null
// when f is NaN or an infinity.
func Number(f float64) Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}
	}
	return Value{kind: KindNumber, num: f}
}

// String returns the string value s. The empty string is a value, not null.
// Unlike the other constructors, String may allocate (to box s).
func String(s string) Value { return Value{kind: KindString, ref: s} }

// stringField returns the string value of a field of an Input, without
// allocating.
func stringField(p *string) Value { return Value{kind: KindString, ref: p} }

// text returns the string of a KindString value, or "".
func (v Value) text() string {
	switch r := v.ref.(type) {
	case string:
		return r
	case *string:
		return *r
	}
	return ""
}

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// AsBool returns the boolean and true if v is a bool, or false, false.
func (v Value) AsBool() (bool, bool) {
	if v.kind != KindBool {
		return false, false
	}
	return v.num != 0, true
}

// AsNumber returns the number and true if v is a number, or 0, false.
func (v Value) AsNumber() (float64, bool) {
	if v.kind != KindNumber {
		return 0, false
	}
	return v.num, true
}

// AsString returns the string and true if v is a string, or "", false.
func (v Value) AsString() (string, bool) {
	if v.kind != KindString {
		return "", false
	}
	return v.text(), true
}

// isTrue reports whether v is the boolean true: the only value that counts
// as true in conditions.
func (v Value) isTrue() bool { return v.kind == KindBool && v.num != 0 }

// Interface returns v as a Go value of the kind encoding/json decodes into:
// nil, bool, float64, string, []any or map[string]any. Arrays and objects
// read from metadata are returned as they are, not copied; the agent, the
// session and the whole routing context are returned as new maps with the
// members "key", "name", "description" and "metadata" (and "agent",
// "session" and "currentDate").
func (v Value) Interface() any {
	switch v.kind {
	case KindBool:
		return v.num != 0
	case KindNumber:
		return v.num
	case KindString:
		return v.text()
	case KindArray, KindObject:
		switch r := v.ref.(type) {
		case *Object:
			return r.asMap()
		case *Input:
			return r.asMap()
		case map[string]any:
			if r == nil {
				return map[string]any{}
			}
			return r
		case []any:
			if r == nil {
				return []any{}
			}
			return r
		}
	}
	return nil
}

func (o *Object) asMap() map[string]any {
	md := o.Metadata
	if md == nil {
		md = map[string]any{}
	}
	return map[string]any{"key": o.Key, "name": o.Name, "description": o.Description, "metadata": md}
}

func (in *Input) asMap() map[string]any {
	return map[string]any{"agent": in.Agent.asMap(), "session": in.Session.asMap(), "currentDate": in.CurrentDate}
}

// String returns v as it would be written in an expression, for
// explanations and debugging: a string single-quoted with inner quotes
// doubled ('acme'), 42, 0.5, true, null; arrays and objects as compact JSON.
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return "null"
	case KindString:
		return "'" + strings.ReplaceAll(v.text(), "'", "''") + "'"
	}
	return string(v.AppendText(nil))
}

// AppendText appends v's partition string to dst and returns the extended
// buffer. The partition string is what a weighted target hashes, so this
// format is FROZEN: it must produce the same bytes in every version, on every
// platform, and the tests pin it. It is:
//
//   - a string: its bytes, as they are (no quotes, no escaping);
//   - a number x: if x is integral and |x| < 2^53, the decimal integer with a
//     leading '-' when negative ("42", "-3", and "0" for both 0 and -0);
//     otherwise strconv.FormatFloat(x, 'g', -1, 64) ("-0.5", "1e+21",
//     "9.007199254740992e+15");
//   - a bool: "true" or "false";
//   - an array or object: its compact JSON, exactly as encoding/json's
//     Marshal wrote it in Go 1.26 (see "Partition strings" in the package
//     documentation);
//   - null: nothing. Callers reject null before hashing.
func (v Value) AppendText(dst []byte) []byte {
	switch v.kind {
	case KindString:
		return append(dst, v.text()...)
	case KindNumber:
		return appendNumber(dst, v.num)
	case KindBool:
		if v.num != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case KindArray, KindObject:
		return appendJSON(dst, v.ref)
	}
	return dst
}

// maxSafeInteger is 2^53: below it every integer is exactly representable.
const maxSafeInteger = 1 << 53

// appendNumber writes a top-level number of a partition string (frozen).
func appendNumber(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < maxSafeInteger {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// fromAny converts a metadata value into a Value without allocating. It
// accepts what encoding/json decodes into (nil, bool, float64, string, []any,
// map[string]any), plus json.Number and Go's integer and float32 types for
// callers that build metadata by hand. Anything else, and non-finite numbers,
// are null.
func fromAny(x any) Value {
	switch t := x.(type) {
	case string:
		return Value{kind: KindString, ref: x}
	case float64:
		return Number(t)
	case bool:
		return Bool(t)
	case map[string]any:
		return Value{kind: KindObject, ref: x}
	case []any:
		return Value{kind: KindArray, ref: x}
	case nil:
		return Value{}
	}
	if f, ok := otherNumber(x); ok {
		return Number(f)
	}
	return Value{}
}

// otherNumber converts the less common numeric types metadata may hold.
func otherNumber(x any) (float64, bool) {
	switch t := x.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		return f, err == nil
	case int:
		return float64(t), true
	case int8:
		return float64(t), true
	case int16:
		return float64(t), true
	case int32:
		return float64(t), true
	case int64:
		return float64(t), true
	case uint:
		return float64(t), true
	case uint8:
		return float64(t), true
	case uint16:
		return float64(t), true
	case uint32:
		return float64(t), true
	case uint64:
		return float64(t), true
	case uintptr:
		return float64(t), true
	case float32:
		return float64(t), true
	}
	return 0, false
}

// maxJSONDepth bounds the nesting appendJSON follows. encoding/json decodes
// at most 10000 levels, so this matters only for values built in Go.
const maxJSONDepth = 10000

// appendJSON writes x as compact JSON with sorted object keys (frozen; see
// "Partition strings" in the package documentation).
func appendJSON(dst []byte, x any) []byte {
	var w jsonWriter
	return w.append(dst, x)
}

// jsonWriter writes JSON. It tracks the maps and slices being written, so
// that one nested inside itself (only Go code can build that; JSON cannot)
// is written as null rather than followed forever.
type jsonWriter struct {
	stack []nodeID        // the enclosing maps and slices
	set   map[nodeID]bool // the same, once the stack is deep
}

// nodeID identifies a map (by pointer) or a slice (by pointer and length, as
// encoding/json does: a shorter slice of the same array is another value).
type nodeID struct {
	ptr uintptr
	n   int
}

// push enters a non-empty map or slice. It reports false when the value is
// already being written (a cycle) or nesting would exceed maxJSONDepth.
func (w *jsonWriter) push(id nodeID) bool {
	if len(w.stack) >= maxJSONDepth {
		return false
	}
	if w.set != nil {
		if w.set[id] {
			return false
		}
		w.set[id] = true
	} else if slices.Contains(w.stack, id) {
		return false
	}
	w.stack = append(w.stack, id)
	if w.set == nil && len(w.stack) > 32 {
		w.set = make(map[nodeID]bool, 2*len(w.stack))
		for _, id := range w.stack {
			w.set[id] = true
		}
	}
	return true
}

func (w *jsonWriter) pop() {
	last := len(w.stack) - 1
	if w.set != nil {
		delete(w.set, w.stack[last])
	}
	w.stack = w.stack[:last]
}

func (w *jsonWriter) append(dst []byte, x any) []byte {
	switch t := x.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		if t {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case string:
		return appendJSONString(dst, t)
	case float64:
		return appendJSONFloat(dst, t)
	case []any:
		if len(t) == 0 {
			return append(dst, "[]"...)
		}
		if !w.push(nodeID{reflect.ValueOf(t).Pointer(), len(t)}) {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = w.append(dst, e)
		}
		w.pop()
		return append(dst, ']')
	case map[string]any:
		if len(t) == 0 {
			return append(dst, "{}"...)
		}
		if !w.push(nodeID{ptr: reflect.ValueOf(t).Pointer()}) {
			return append(dst, "null"...)
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = w.append(dst, t[k])
		}
		w.pop()
		return append(dst, '}')
	case *Object:
		// Members in sorted order: description, key, metadata, name.
		dst = append(dst, `{"description":`...)
		dst = appendJSONString(dst, t.Description)
		dst = append(dst, `,"key":`...)
		dst = appendJSONString(dst, t.Key)
		dst = append(dst, `,"metadata":`...)
		dst = w.append(dst, t.Metadata)
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, t.Name)
		return append(dst, '}')
	case *Input:
		// Members in sorted order: agent, currentDate, session.
		dst = append(dst, `{"agent":`...)
		dst = w.append(dst, &t.Agent)
		dst = append(dst, `,"currentDate":`...)
		dst = appendJSONString(dst, t.CurrentDate)
		dst = append(dst, `,"session":`...)
		dst = w.append(dst, &t.Session)
		return append(dst, '}')
	}
	if f, ok := otherNumber(x); ok {
		return appendJSONFloat(dst, f)
	}
	return append(dst, "null"...)
}

// appendJSONFloat writes f as encoding/json writes a float64 (frozen), and
// null for NaN and infinities (which encoding/json refuses).
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Shorten a two-digit negative exponent: 1e-07 becomes 1e-7.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string the way encoding/json does with
// HTML escaping on (frozen): '"' and '\\' escaped with a backslash; \b, \f,
// \n, \r, \t; other bytes below 0x20 and '<', '>', '&' as \u00XX (lowercase
// hex); U+2028 and U+2029 as \u2028 and \u2029; each byte of invalid UTF-8
// as \ufffd; everything else as it is.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
