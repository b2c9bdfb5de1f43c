package expr

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// fuzzSeeds are the examples of the contract and the tests.
var fuzzSeeds = []string{
	"get('$.session.metadata.tenant') == 'us'",
	"(get('$.session.metadata.tenant') == 'us') and (get('$.session.metadata.tier') == 'gold')",
	"(get('$.session.metadata.region') == 'us-west') or (get('$.session.metadata.region') == 'us-east')",
	"get('$.session.metadata.tier', 'free') != 'free'",
	"get('$.session.metadata.tenant') == 'acme'",
	"get('$.session.metadata.user_id', '')",
	"get('$.session.key')",
	"get('$.agent.metadata.region') == 'us'",
	"get('$.currentDate') >= '2026-01-01'",
	"get('$.session.metadata.n') * 2 + 1 > 10",
	"get('$.session.metadata.x') != 'a'",
	"'Vectara''s'",
	"if (get('$.session.metadata.tier') == 'gold') get('$.session.key') else ''",
	"not get('$.session.metadata.flag') == true || !false && 1 < 2",
	"abs(-1) + min(1, 2) - max(3, 4) * trunc(2.5) / 7 % 3",
	"lower(get('$.session.metadata.Upper')) + upper('x')",
	`get('$.session.metadata["a b"][0][-1].x', null)`,
	"get('$[''session''].metadata[''it\\''s'']')",
	"get('$')",
	"get('$.agent')",
	"1e308 * 10",
	"- - -1.5e-3",
	"(((true)))",
	"1 < 2 < 3",
	"if (true) 1",
	"get(1)",
	"get('$.foo')",
	`"a"`,
	"'unterminated",
}

// fuzzInputs are the contexts each compiled expression is evaluated on.
func fuzzInputs() []*Input {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	return []*Input{
		nil,
		{},
		testInput(),
		{Session: Object{Metadata: map[string]any{
			"tenant": 1.0, "tier": []any{}, "n": "7", "a b": []any{[]any{map[string]any{"x": "deep"}}},
			"Upper": nil, "flag": map[string]any{}, "cyc": cyclic,
		}}},
	}
}

func FuzzCompileEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range benchExprs {
		f.Add(s.src)
	}
	inputs := fuzzInputs()
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src)
		unfolded, uerr := compile(src, true)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q): error %T, want *SyntaxError", src, err)
			}
			if e != nil {
				t.Fatalf("Compile(%q) returned both an Expr and an error", src)
			}
			if se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("Compile(%q): offset %d outside the source", src, se.Offset)
			}
			if se.Msg == "" || !strings.HasPrefix(se.Error(), "syntax error at position ") {
				t.Fatalf("Compile(%q): bad error %q", src, se.Error())
			}
			if uerr == nil || uerr.Error() != err.Error() {
				t.Fatalf("Compile(%q) = %v, but without folding %v", src, err, uerr)
			}
			return
		}
		if uerr != nil {
			t.Fatalf("Compile(%q) succeeded, but without folding: %v", src, uerr)
		}
		if e.String() != src {
			t.Fatalf("String() = %q, want %q", e.String(), src)
		}
		for i, in := range inputs {
			v := e.Eval(in)
			if v.Kind() > KindObject {
				t.Fatalf("Eval(%q): bad kind %d", src, v.Kind())
			}
			if f, ok := v.AsNumber(); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				t.Fatalf("Eval(%q) = non-finite %v", src, f)
			}
			if e.Matches(in) != v.isTrue() {
				t.Fatalf("Matches(%q) disagrees with Eval", src)
			}
			// Evaluation is deterministic, and folding constants changes
			// no result.
			if w := e.Eval(in); !sameText(v, w) {
				t.Fatalf("Eval(%q) on input %d: %v, then %v", src, i, v, w)
			}
			if w := unfolded.Eval(in); !sameText(v, w) {
				t.Fatalf("Eval(%q) on input %d: %v, but without folding %v", src, i, v, w)
			}
			_ = v.Interface()
			// A scalar's String is an expression for it (unless too long:
			// upper and lower turn each byte of invalid UTF-8 into three).
			if v.Kind() <= KindString && len(v.String()) <= MaxLength {
				back, err := Compile(v.String())
				if err != nil {
					t.Fatalf("Eval(%.200q) = %.200v, which does not compile: %v", src, v, err)
				}
				if w := back.Eval(nil); !sameText(v, w) {
					t.Fatalf("Eval(%q) = %v, which evaluates to %v", src, v, w)
				}
			}
		}
	})
}

// sameText reports whether two values have the same kind and partition
// string.
func sameText(a, b Value) bool {
	return a.Kind() == b.Kind() && string(a.AppendText(nil)) == string(b.AppendText(nil))
}
