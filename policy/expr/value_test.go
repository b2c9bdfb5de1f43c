package expr

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// TestValue_AppendText pins the partition strings. These bytes are hashed to
// pick weighted targets: a change here moves traffic, so never edit a want.
func TestValue_AppendText(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want string
	}{
		{"integer", Number(42), "42"},
		{"negative integer", Number(-3), "-3"},
		{"zero", Number(0), "0"},
		{"minus zero", Number(math.Copysign(0, -1)), "0"},
		{"negative fraction", Number(-0.5), "-0.5"},
		{"fraction", Number(0.1), "0.1"},
		{"third", Number(1.0 / 3), "0.3333333333333333"},
		{"small", Number(1e-7), "1e-07"},
		{"1e21", Number(1e21), "1e+21"},
		{"1e20", Number(1e20), "1e+20"},
		{"2^53", Number(1 << 53), "9.007199254740992e+15"},
		{"2^53-1", Number(1<<53 - 1), "9007199254740991"},
		{"-(2^53-1)", Number(-(1<<53 - 1)), "-9007199254740991"},
		{"-2^53", Number(-(1 << 53)), "-9.007199254740992e+15"},
		{"large fraction", Number(123456.789), "123456.789"},
		{"max float", Number(math.MaxFloat64), "1.7976931348623157e+308"},
		{"true", Bool(true), "true"},
		{"false", Bool(false), "false"},
		{"string", String("x"), "x"},
		{"string as is", String(`a "b" <c> 'd' é`), `a "b" <c> 'd' é`},
		{"empty string", String(""), ""},
		{"null", Null(), ""},
		{"object sorted compact", fromAny(map[string]any{"b": 1.0, "a": []any{"x", true, nil}, "c": map[string]any{}}), `{"a":["x",true,null],"b":1,"c":{}}`},
		{"array", fromAny([]any{1.0, -0.5, 1e21, 1e-7, float64(1 << 53), math.Copysign(0, -1), 1e20, 0.000001, "s"}), `[1,-0.5,1e+21,1e-7,9007199254740992,-0,100000000000000000000,0.000001,"s"]`},
		{"array escapes", fromAny([]any{"<a&b>\"\\\n\t\b\f\r\x01\x7f\u2028\u2029\xff é"}), `["\u003ca\u0026b\u003e\"\\\n\t\b\f\r\u0001` + "\x7f" + `\u2028\u2029\ufffd é"]`},
		{"nested object keys", fromAny(map[string]any{"é": 1.0, "Z": 2.0, "a": 3.0, "": 4.0}), `{"":4,"Z":2,"a":3,"é":1}`},
		{"nil map", fromAny(map[string]any(nil)), `{}`},
		{"nil slice", fromAny([]any(nil)), `[]`},
		{"go numbers in arrays", fromAny([]any{3, int64(-4), uint8(5), float32(0.5), json.Number("1.50")}), `[3,-4,5,0.5,1.5]`},
		{"unsupported types", fromAny([]any{struct{}{}, map[string]string{"a": "b"}, math.Inf(1), math.NaN()}), `[null,null,null,null]`},
		{"agent", Value{kind: KindObject, ref: &Object{Key: "k", Name: "n", Description: "d<", Metadata: map[string]any{"r": "us"}}},
			`{"description":"d\u003c","key":"k","metadata":{"r":"us"},"name":"n"}`},
	}
	for _, tt := range tests {
		if got := string(tt.v.AppendText(nil)); got != tt.want {
			t.Errorf("%s: AppendText = %q, want %q", tt.name, got, tt.want)
		}
		// Appending keeps what is already there.
		if got := string(tt.v.AppendText([]byte("p:"))); got != "p:"+tt.want {
			t.Errorf("%s: AppendText(p:) = %q", tt.name, got)
		}
	}
}

// TestAppendJSON_MatchesEncodingJSON checks that the frozen JSON of arrays
// and objects is what encoding/json writes today for JSON values.
func TestAppendJSON_MatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		x := randomJSON(r, 3)
		want, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSON(nil, x); string(got) != string(want) {
			t.Fatalf("case %d: appendJSON(%#v) = %s, encoding/json %s", i, x, got, want)
		}
	}
}

func randomJSON(r *rand.Rand, depth int) any {
	k := r.IntN(7)
	if depth == 0 {
		k = r.IntN(4)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return randomFloat(r)
	case 3:
		return randomString(r)
	case 4, 5:
		m := map[string]any{}
		for range r.IntN(5) {
			m[randomString(r)] = randomJSON(r, depth-1)
		}
		return m
	}
	a := make([]any, r.IntN(5))
	for i := range a {
		a[i] = randomJSON(r, depth-1)
	}
	return a
}

func randomFloat(r *rand.Rand) float64 {
	switch r.IntN(6) {
	case 0:
		return float64(r.IntN(2000) - 1000)
	case 1:
		return r.NormFloat64()
	case 2:
		return math.Ldexp(r.Float64(), r.IntN(200)-100)
	case 3:
		return []float64{0, math.Copysign(0, -1), 1e21, 1e-6, 9.99e-7, 1e20, 1 << 53, math.MaxFloat64, math.SmallestNonzeroFloat64, -1e-7}[r.IntN(10)]
	case 4:
		return math.Float64frombits(r.Uint64()&^(0x7ff<<52) | uint64(r.IntN(0x7ff))<<52)
	}
	return float64(r.Int64()) * math.Pow(10, float64(r.IntN(40)-20))
}

func randomString(r *rand.Rand) string {
	const pieces = "ab\"\\/\n\r\t\b\f\x00\x1f\x7f<>&'é\u2028\u2029\xff\xc3 \U0001F600"
	var b strings.Builder
	for range r.IntN(8) {
		if r.IntN(3) == 0 {
			b.WriteByte(pieces[r.IntN(len(pieces))]) // may split UTF-8
		} else {
			b.WriteString(string([]rune(pieces)[r.IntN(len([]rune(pieces)))]))
		}
	}
	return b.String()
}

func TestValue_Accessors(t *testing.T) {
	if v := Null(); !v.IsNull() || v.Kind() != KindNull || v.num != 0 || v.ref != nil || v.Interface() != nil {
		t.Errorf("Null() = %#v", v)
	}
	if b, ok := Bool(true).AsBool(); !b || !ok {
		t.Errorf("Bool(true).AsBool() = %v, %v", b, ok)
	}
	if b, ok := Bool(false).AsBool(); b || !ok {
		t.Errorf("Bool(false).AsBool() = %v, %v", b, ok)
	}
	if _, ok := Number(1).AsBool(); ok {
		t.Errorf("Number(1).AsBool() ok")
	}
	if f, ok := Number(2.5).AsNumber(); f != 2.5 || !ok {
		t.Errorf("Number(2.5).AsNumber() = %v, %v", f, ok)
	}
	if _, ok := String("1").AsNumber(); ok {
		t.Errorf(`String("1").AsNumber() ok`)
	}
	if s, ok := String("").AsString(); s != "" || !ok {
		t.Errorf(`String("").AsString() = %q, %v`, s, ok)
	}
	if _, ok := Null().AsString(); ok {
		t.Errorf("Null().AsString() ok")
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if v := Number(f); !v.IsNull() {
			t.Errorf("Number(%v) = %v, want null", f, v)
		}
	}
	if Bool(true).Interface() != true || Number(3).Interface() != 3.0 || String("s").Interface() != "s" {
		t.Errorf("Interface of scalars")
	}
	md := map[string]any{"a": []any{1.0}}
	obj := fromAny(md)
	if m, ok := obj.Interface().(map[string]any); !ok || len(m) != 1 {
		t.Errorf("object Interface = %#v", obj.Interface())
	}
	if a, ok := fromAny(md["a"]).Interface().([]any); !ok || len(a) != 1 || fromAny(md["a"]).Kind() != KindArray {
		t.Errorf("array Interface = %#v", a)
	}
	if m, ok := fromAny(map[string]any(nil)).Interface().(map[string]any); !ok || m == nil {
		t.Errorf("nil map Interface = %#v", m)
	}
	if a, ok := fromAny([]any(nil)).Interface().([]any); !ok || a == nil {
		t.Errorf("nil slice Interface = %#v", a)
	}
}

func TestValue_String(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Null(), "null"},
		{Bool(true), "true"},
		{Bool(false), "false"},
		{Number(42), "42"},
		{Number(0.5), "0.5"},
		{String("acme"), "'acme'"},
		{String("Vectara's"), "'Vectara''s'"},
		{String(""), "''"},
		{fromAny([]any{"a", 1.0}), `["a",1]`},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("String() = %s, want %s", got, tt.want)
		}
		// The String of a string, number, bool or null compiles back to it.
		if tt.v.Kind() <= KindString {
			if got := MustCompile(tt.v.String()).Eval(nil); !sameValue(got, tt.v) {
				t.Errorf("%s compiles to %v", tt.want, got)
			}
		}
	}
}

// TestValue_Size guards evaluation speed: the compiler keeps a Value in
// registers only while it is at most four words.
func TestValue_Size(t *testing.T) {
	if n := unsafe.Sizeof(Value{}); n > 4*unsafe.Sizeof(uintptr(0)) {
		t.Errorf("a Value takes %d bytes, more than four words", n)
	}
}

func TestKind_String(t *testing.T) {
	want := []string{"null", "bool", "number", "string", "array", "object", "Kind(6)"}
	for k, w := range want {
		if got := Kind(k).String(); got != w {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, w)
		}
	}
}

func TestFromAny(t *testing.T) {
	tests := []struct {
		x    any
		want Value
	}{
		{nil, Null()},
		{"s", String("s")},
		{1.5, Number(1.5)},
		{true, Bool(true)},
		{7, Number(7)},
		{int8(-1), Number(-1)},
		{int16(2), Number(2)},
		{int32(3), Number(3)},
		{int64(4), Number(4)},
		{uint(5), Number(5)},
		{uint16(6), Number(6)},
		{uint32(7), Number(7)},
		{uint64(8), Number(8)},
		{uintptr(9), Number(9)},
		{float32(0.25), Number(0.25)},
		{json.Number("12"), Number(12)},
		{json.Number("bad"), Null()},
		{json.Number("1e999"), Null()},
		{math.NaN(), Null()},
		{math.Inf(-1), Null()},
		{struct{}{}, Null()},
		{[]string{"a"}, Null()},
	}
	for _, tt := range tests {
		if got := fromAny(tt.x); !sameValue(got, tt.want) {
			t.Errorf("fromAny(%#v) = %v, want %v", tt.x, got, tt.want)
		}
	}
}

func TestAppendJSON_Cycles(t *testing.T) {
	m := map[string]any{"a": 1.0}
	m["b"], m["c"] = m, m // exponential if followed
	if got, want := string(fromAny(m).AppendText(nil)), `{"a":1,"b":null,"c":null}`; got != want {
		t.Errorf("cyclic map: %s, want %s", got, want)
	}
	a := []any{1.0, nil}
	a[1] = a
	if got, want := string(fromAny(a).AppendText(nil)), `[1,null]`; got != want {
		t.Errorf("cyclic slice: %s, want %s", got, want)
	}
	// A shorter slice of the same array is another value.
	b := []any{1.0, nil}
	b[1] = b[:1]
	if got, want := string(fromAny(b).AppendText(nil)), `[1,[1]]`; got != want {
		t.Errorf("sub-slice: %s, want %s", got, want)
	}
	// A value seen twice, but not nested in itself, is written twice.
	shared := map[string]any{"x": 1.0}
	if got, want := string(fromAny([]any{shared, shared}).AppendText(nil)), `[{"x":1},{"x":1}]`; got != want {
		t.Errorf("shared map: %s, want %s", got, want)
	}
}

func TestAppendJSON_Deep(t *testing.T) {
	var x any = "leaf"
	for range maxJSONDepth {
		x = []any{x}
	}
	got := string(fromAny(x).AppendText(nil))
	if want := strings.Repeat("[", maxJSONDepth) + `"leaf"` + strings.Repeat("]", maxJSONDepth); got != want {
		t.Errorf("%d levels not written in full", maxJSONDepth)
	}
	x = []any{x}
	got = string(fromAny(x).AppendText(nil))
	if want := strings.Repeat("[", maxJSONDepth) + "null" + strings.Repeat("]", maxJSONDepth); got != want {
		t.Errorf("%d levels: want null at the limit", maxJSONDepth+1)
	}
}
