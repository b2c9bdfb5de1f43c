package jsonvalue_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/validate"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any
	}{
		{name: "Nil", in: nil, want: nil},
		{name: "Bool", in: true, want: true},
		{name: "String", in: "x", want: "x"},
		{name: "Float64", in: 1.5, want: 1.5},
		{name: "Float32", in: float32(0.5), want: 0.5},
		{name: "Int", in: 42, want: 42.0},
		{name: "Int8", in: int8(-8), want: -8.0},
		{name: "Int16", in: int16(16), want: 16.0},
		{name: "Int32", in: int32(-32), want: -32.0},
		{name: "Int64", in: int64(1 << 40), want: float64(1 << 40)},
		{name: "Uint", in: uint(7), want: 7.0},
		{name: "Uint8", in: uint8(255), want: 255.0},
		{name: "Uint16", in: uint16(65535), want: 65535.0},
		{name: "Uint32", in: uint32(1 << 31), want: float64(1 << 31)},
		{name: "Uint64", in: uint64(1 << 50), want: float64(1 << 50)},
		{name: "JSONNumber", in: json.Number("12.25"), want: 12.25},
		{name: "JSONNumberExp", in: json.Number("1e3"), want: 1000.0},
		{
			name: "NestedMap",
			in:   map[string]any{"a": 1, "b": map[string]any{"c": int64(2), "d": []any{uint8(3), "x", nil}}},
			want: map[string]any{"a": 1.0, "b": map[string]any{"c": 2.0, "d": []any{3.0, "x", nil}}},
		},
		{name: "MapOfStrings", in: map[string]string{"a": "b"}, want: map[string]any{"a": "b"}},
		{name: "SliceOfStrings", in: []string{"a", "b"}, want: []any{"a", "b"}},
		{name: "EmptyMap", in: map[string]any{}, want: map[string]any{}},
		{name: "EmptySlice", in: []any{}, want: []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonvalue.Normalize(tt.in)
			if err != nil {
				t.Fatalf("Normalize(%#v) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Normalize(%#v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// nest wraps leaf in n maps, so that leaf sits at depth n.
func nest(n int, leaf any) any {
	v := leaf
	for i := 0; i < n; i++ {
		v = map[string]any{"k": v}
	}
	return v
}

func TestNormalize_Errors(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // substring of the error
	}{
		{name: "NaN", in: math.NaN(), want: "not a JSON number"},
		{name: "PosInf", in: math.Inf(1), want: "not a JSON number"},
		{name: "NegInf", in: math.Inf(-1), want: "not a JSON number"},
		{name: "Float32NaN", in: float32(math.NaN()), want: "not a JSON number"},
		{name: "NaNInMap", in: map[string]any{"a": []any{math.NaN()}}, want: "not a JSON number"},
		{name: "JSONNumberGarbage", in: json.Number("abc"), want: "not a JSON number"},
		{name: "JSONNumberOverflow", in: json.Number("1e400"), want: "not a JSON number"},
		{name: "Channel", in: make(chan int), want: "chan int is not a JSON value"},
		{name: "ChannelInMap", in: map[string]any{"c": make(chan int)}, want: "is not a JSON value"},
		{name: "ChannelInSlice", in: []any{1, make(chan int)}, want: "is not a JSON value"},
		{name: "Func", in: func() {}, want: "is not a JSON value"},
		{name: "Struct", in: struct{ A int }{1}, want: "is not a JSON value"},
		{name: "Pointer", in: new(int), want: "is not a JSON value"},
		{name: "TooDeep", in: nest(jsonvalue.MaxDepth+1, "leaf"), want: "nested more than 64 levels deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonvalue.Normalize(tt.in)
			if err == nil {
				t.Fatalf("Normalize() = %#v, want an error containing %q", got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Normalize() error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNormalize_DepthLimit(t *testing.T) {
	if _, err := jsonvalue.Normalize(nest(jsonvalue.MaxDepth, "leaf")); err != nil {
		t.Errorf("Normalize(%d levels) error: %v, want nil", jsonvalue.MaxDepth, err)
	}
	if _, err := jsonvalue.Normalize(nest(jsonvalue.MaxDepth+1, "leaf")); err == nil {
		t.Errorf("Normalize(%d levels) = nil error, want one", jsonvalue.MaxDepth+1)
	}
	// Arrays count as levels too.
	var v any = "leaf"
	for i := 0; i < jsonvalue.MaxDepth+1; i++ {
		v = []any{v}
	}
	if _, err := jsonvalue.Normalize(v); err == nil {
		t.Errorf("Normalize(%d nested arrays) = nil error, want one", jsonvalue.MaxDepth+1)
	}
}

func TestNormalize_DoesNotAliasInput(t *testing.T) {
	inner := []any{"a"}
	in := map[string]any{"m": map[string]any{"x": "y"}, "s": inner}
	out, err := jsonvalue.Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(map[string]any)
	m["m"].(map[string]any)["x"] = "changed"
	m["s"].([]any)[0] = "changed"
	m["new"] = true
	want := map[string]any{"m": map[string]any{"x": "y"}, "s": []any{"a"}}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("input changed through the normalized copy (-want +got):\n%s", diff)
	}
}

func TestObject(t *testing.T) {
	t.Run("Nil", func(t *testing.T) {
		got, err := jsonvalue.Object(nil)
		if err != nil || got != nil {
			t.Errorf("Object(nil) = %#v, %v; want nil, nil", got, err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		got, err := jsonvalue.Object(map[string]any{"n": 3, "s": []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"n": 3.0, "s": []any{"a"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Object() (-want +got):\n%s", diff)
		}
	})
	t.Run("Channel", func(t *testing.T) {
		if _, err := jsonvalue.Object(map[string]any{"c": make(chan struct{})}); err == nil {
			t.Error("Object(with channel) error = nil, want one")
		}
	})
}

func TestClone(t *testing.T) {
	if got := jsonvalue.Clone(nil); got != nil {
		t.Errorf("Clone(nil) = %#v, want nil", got)
	}

	orig := map[string]any{
		"a": map[string]any{"b": []any{1.0, map[string]any{"c": "d"}}},
		"e": "f",
	}
	want := map[string]any{
		"a": map[string]any{"b": []any{1.0, map[string]any{"c": "d"}}},
		"e": "f",
	}
	c := jsonvalue.Clone(orig)
	if diff := cmp.Diff(want, c); diff != "" {
		t.Fatalf("Clone() (-want +got):\n%s", diff)
	}
	// Mutate every level of the clone; the original must not change.
	c["e"] = "changed"
	c["new"] = 1.0
	a := c["a"].(map[string]any)
	a["x"] = "y"
	b := a["b"].([]any)
	b[0] = 2.0
	b[1].(map[string]any)["c"] = "changed"
	if diff := cmp.Diff(want, orig); diff != "" {
		t.Errorf("original changed through the clone (-want +got):\n%s", diff)
	}
}

func TestCloneValue(t *testing.T) {
	orig := []any{map[string]any{"k": "v"}, []any{"x"}}
	c := jsonvalue.CloneValue(orig).([]any)
	c[0].(map[string]any)["k"] = "changed"
	c[1].([]any)[0] = "changed"
	want := []any{map[string]any{"k": "v"}, []any{"x"}}
	if diff := cmp.Diff(want, orig); diff != "" {
		t.Errorf("original changed through CloneValue (-want +got):\n%s", diff)
	}
	if got := jsonvalue.CloneValue("s"); got != "s" {
		t.Errorf("CloneValue(%q) = %#v", "s", got)
	}
}

func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{name: "NoHTMLEscape", in: map[string]any{"match": "a < b && c > d"}, want: `{"match":"a < b && c > d"}`},
		{name: "NoTrailingNewline", in: []int{1, 2}, want: `[1,2]`},
		{name: "Null", in: nil, want: `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonvalue.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Marshal() (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := jsonvalue.Marshal(make(chan int)); err == nil {
		t.Error("Marshal(chan) error = nil, want one")
	}
}

func TestFields(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		fields, names, err := jsonvalue.Fields([]byte(`{"name":"x","enabled":true,"a":null}`))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a", "enabled", "name"}, names); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
		got := map[string]string{}
		for k, v := range fields {
			got[k] = string(v)
		}
		want := map[string]string{"name": `"x"`, "enabled": `true`, "a": `null`}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("fields (-want +got):\n%s", diff)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		_, names, err := jsonvalue.Fields([]byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{}, names); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})
	for _, body := range []string{`null`, `[]`, `"x"`, `1`, `true`, ``, `{`, `{"a":1} {}`} {
		t.Run("NotAnObject/"+body, func(t *testing.T) {
			_, _, err := jsonvalue.Fields([]byte(body))
			var ve *validate.Errors
			if !errors.As(err, &ve) {
				t.Fatalf("Fields(%q) error = %v, want *validate.Errors", body, err)
			}
			want := map[string]string{"": "must be a JSON object"}
			if diff := cmp.Diff(want, ve.FieldErrors()); diff != "" {
				t.Errorf("FieldErrors() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsNull(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "Null", in: `null`, want: true},
		{name: "NullSpaces", in: " null\n", want: true},
		{name: "String", in: `"null"`, want: false},
		{name: "Object", in: `{}`, want: false},
		{name: "Empty", in: ``, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, jsonvalue.IsNull(json.RawMessage(tt.in))); diff != "" {
				t.Errorf("IsNull(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	var errs validate.Errors
	var s string
	if !jsonvalue.Decode(&errs, "name", json.RawMessage(`"x"`), &s, "must be a string") {
		t.Error(`Decode("x") = false, want true`)
	}
	if s != "x" {
		t.Errorf("decoded %q, want %q", s, "x")
	}
	var b bool
	if jsonvalue.Decode(&errs, "enabled", json.RawMessage(`"yes"`), &b, "must be a boolean") {
		t.Error(`Decode("yes" into bool) = true, want false`)
	}
	want := []validate.Field{{Path: "enabled", Message: "must be a boolean"}}
	if diff := cmp.Diff(want, errs.Fields); diff != "" {
		t.Errorf("recorded errors (-want +got):\n%s", diff)
	}
}
