package expr_test

import (
	"fmt"

	"github.com/agentalias/agentalias/policy/expr"
)

func ExampleCompile() {
	match, err := expr.Compile("(get('$.session.metadata.tenant') == 'us') and (get('$.session.metadata.tier', 'free') != 'free')")
	if err != nil {
		panic(err)
	}
	partition := expr.MustCompile("get('$.session.metadata.user_id', '')")

	in := &expr.Input{
		Agent:       expr.Object{Key: "support", Metadata: map[string]any{"region": "us"}},
		Session:     expr.Object{Key: "sess-1", Metadata: map[string]any{"tenant": "us", "tier": "gold", "user_id": "u-42"}},
		CurrentDate: "2026-01-15T10:35:00Z",
	}
	fmt.Println(match.Matches(in))
	fmt.Printf("%q\n", partition.Eval(in).AppendText(nil))

	delete(in.Session.Metadata, "tier") // a missing tier defaults to 'free'
	fmt.Println(match.Matches(in))

	_, err = expr.Compile(`get('$.session.metadata.tenant') == "us"`)
	fmt.Println(err)
	// Output:
	// true
	// "u-42"
	// false
	// syntax error at position 37: double-quoted strings are not supported; strings use single quotes, as in 'text' (write '' for a quote inside)
}

func ExampleValue_AppendText() {
	for _, src := range []string{"'acme'", "42", "-0.5", "2 * 1e20", "true", "get('$.session.metadata')"} {
		v := expr.MustCompile(src).Eval(&expr.Input{Session: expr.Object{Metadata: map[string]any{"b": 1.0, "a": []any{"x", nil}}}})
		fmt.Printf("%-27s %-8v %s\n", src, v.Kind(), v.AppendText(nil))
	}
	// Output:
	// 'acme'                      string   acme
	// 42                          number   42
	// -0.5                        number   -0.5
	// 2 * 1e20                    number   2e+20
	// true                        bool     true
	// get('$.session.metadata')   object   {"a":["x",null],"b":1}
}
