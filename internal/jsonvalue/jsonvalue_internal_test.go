package jsonvalue

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestEncodedSize checks that encodedSize is never below the length
// encoding/json produces, and equal to it for values without escapes.
func TestEncodedSize(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := r.IntN(7); {
		case k == 0:
			return nil
		case k == 1:
			return r.IntN(2) == 0
		case k == 2:
			return []float64{0, 1, -1.5, 1e21, 1e-7, 123456789, math.MaxFloat64, 3.14159}[r.IntN(8)]
		case k == 3 || depth > 3:
			return []string{"", "plain", "quote\"", "tab\t", "<&>", "ünï", strings.Repeat("x", 50)}[r.IntN(7)]
		case k == 4 || k == 5:
			m := map[string]any{}
			for i := range r.IntN(4) {
				m[string(rune('a'+i))+"<"] = gen(depth + 1)
			}
			return m
		default:
			a := make([]any, r.IntN(4))
			for i := range a {
				a[i] = gen(depth + 1)
			}
			return a
		}
	}
	for range 2000 {
		v := gen(0)
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodedSize(v, 1<<30); got < len(b) {
			t.Fatalf("encodedSize(%s) = %d, below the encoded length %d", b, got, len(b))
		}
	}
	plain := map[string]any{"a": "b", "n": 12.5, "l": []any{true, nil, "x"}}
	b, _ := json.Marshal(plain)
	if got := encodedSize(plain, 1<<30); got != len(b) {
		t.Errorf("encodedSize(%s) = %d, want %d", b, got, len(b))
	}
}

// TestObject_NoCopyWhenNormalized checks that Object returns an already
// normalized map itself, and copies one that needs normalizing.
func TestObject_NoCopyWhenNormalized(t *testing.T) {
	m := map[string]any{"a": 1.5, "b": []any{"x"}}
	got, err := Object(m)
	if err != nil {
		t.Fatal(err)
	}
	got["c"] = true
	if _, ok := m["c"]; !ok {
		t.Error("Object copied a map that was already normalized")
	}
	n := map[string]any{"a": 1}
	got, err = Object(n)
	if err != nil {
		t.Fatal(err)
	}
	if got["a"] != 1.0 {
		t.Errorf("Object did not normalize: %v", got)
	}
	if n["a"] != 1 {
		t.Error("Object changed its input while normalizing")
	}
}
