package expr

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// testInput is the routing context most cases read.
func testInput() *Input {
	return &Input{
		Agent: Object{
			Key:         "support",
			Name:        "Customer Support",
			Description: "Stable public handle for the support agent",
			Metadata:    map[string]any{"region": "us"},
		},
		Session: Object{
			Key:         "sess-1",
			Name:        "Chat",
			Description: "",
			Metadata: map[string]any{
				"tenant":  "acme",
				"tier":    "gold",
				"user_id": "u-42",
				"region":  "us-west",
				"n":       7.0,
				"zero":    0.0,
				"neg":     -2.5,
				"flag":    true,
				"off":     false,
				"nothing": nil,
				"empty":   "",
				"Upper":   "MiXeD",
				"user-id": "dash",
				"a b":     "spaced",
				"it's":    "quoted",
				"tags":    []any{"a", "b", 3.0},
				"nested":  map[string]any{"x": map[string]any{"y": true}, "list": []any{map[string]any{"id": "first"}}},
				"count":   3, // a Go int, read as a number
			},
		},
		CurrentDate: "2026-01-15T10:35:00Z",
	}
}

// withSession returns an Input whose session metadata is md.
func withSession(md map[string]any) *Input {
	in := testInput()
	in.Session.Metadata = md
	return in
}

var (
	vTrue  = Bool(true)
	vFalse = Bool(false)
	vNull  = Null()
)

func TestEval(t *testing.T) {
	tests := []struct {
		name string
		src  string
		in   *Input // nil: testInput()
		want Value
	}{
		// Literals.
		{"number", "42", nil, Number(42)},
		{"fraction", "0.5", nil, Number(0.5)},
		{"exponent", "1.5e3", nil, Number(1500)},
		{"negative exponent", "25E-1", nil, Number(2.5)},
		{"string", "'acme'", nil, String("acme")},
		{"escaped quote", "'Vectara''s'", nil, String("Vectara's")},
		{"empty string", "''", nil, String("")},
		{"only a quote", "''''", nil, String("'")},
		{"true", "true", nil, vTrue},
		{"false", "false", nil, vFalse},
		{"null", "null", nil, vNull},
		{"blank space", " \t\r\n 1 \n", nil, Number(1)},

		// The contract's examples.
		{"contract tenant us", "get('$.session.metadata.tenant') == 'us'", withSession(map[string]any{"tenant": "us"}), vTrue},
		{"contract tenant us, other tenant", "get('$.session.metadata.tenant') == 'us'", nil, vFalse},
		{"contract tenant us, missing", "get('$.session.metadata.tenant') == 'us'", withSession(nil), vFalse},
		{"contract us gold", "(get('$.session.metadata.tenant') == 'us') and (get('$.session.metadata.tier') == 'gold')",
			withSession(map[string]any{"tenant": "us", "tier": "gold"}), vTrue},
		{"contract us gold, silver", "(get('$.session.metadata.tenant') == 'us') and (get('$.session.metadata.tier') == 'gold')",
			withSession(map[string]any{"tenant": "us", "tier": "silver"}), vFalse},
		{"contract us gold, no tier", "(get('$.session.metadata.tenant') == 'us') and (get('$.session.metadata.tier') == 'gold')",
			withSession(map[string]any{"tenant": "us"}), vFalse},
		{"contract us-west", "(get('$.session.metadata.region') == 'us-west') or (get('$.session.metadata.region') == 'us-east')", nil, vTrue},
		{"contract us-east", "(get('$.session.metadata.region') == 'us-west') or (get('$.session.metadata.region') == 'us-east')",
			withSession(map[string]any{"region": "us-east"}), vTrue},
		{"contract eu", "(get('$.session.metadata.region') == 'us-west') or (get('$.session.metadata.region') == 'us-east')",
			withSession(map[string]any{"region": "eu"}), vFalse},
		{"contract no region", "(get('$.session.metadata.region') == 'us-west') or (get('$.session.metadata.region') == 'us-east')",
			withSession(nil), vFalse},
		{"contract tier gold", "get('$.session.metadata.tier', 'free') != 'free'", nil, vTrue},
		{"contract tier free", "get('$.session.metadata.tier', 'free') != 'free'", withSession(map[string]any{"tier": "free"}), vFalse},
		{"contract tier missing", "get('$.session.metadata.tier', 'free') != 'free'", withSession(nil), vFalse},
		{"contract acme", "get('$.session.metadata.tenant') == 'acme'", nil, vTrue},
		{"contract user_id", "get('$.session.metadata.user_id', '')", nil, String("u-42")},
		{"contract user_id missing", "get('$.session.metadata.user_id', '')", withSession(nil), String("")},
		{"contract session key", "get('$.session.key')", nil, String("sess-1")},
		{"contract agent region", "get('$.agent.metadata.region') == 'us'", nil, vTrue},
		{"contract current date", "get('$.currentDate') >= '2026-01-01'", nil, vTrue},
		{"current date before", "get('$.currentDate') < '2026-01-15T10:35:01Z'", nil, vTrue},
		{"current date after", "get('$.currentDate') >= '2027-01-01'", nil, vFalse},

		// get.
		{"agent key", "get('$.agent.key')", nil, String("support")},
		{"agent name", "get('$.agent.name')", nil, String("Customer Support")},
		{"agent description", "get('$.agent.description')", nil, String("Stable public handle for the support agent")},
		{"session name", "get('$.session.name')", nil, String("Chat")},
		{"empty description is a value", "get('$.session.description')", nil, String("")},
		{"empty description, default unused", "get('$.session.description', 'x')", nil, String("")},
		{"empty metadata string", "get('$.session.metadata.empty', 'x')", nil, String("")},
		{"current date", "get('$.currentDate')", nil, String("2026-01-15T10:35:00Z")},
		{"number", "get('$.session.metadata.n')", nil, Number(7)},
		{"go int", "get('$.session.metadata.count') == 3", nil, vTrue},
		{"bool", "get('$.session.metadata.flag')", nil, vTrue},
		{"json null", "get('$.session.metadata.nothing')", nil, vNull},
		{"json null, default", "get('$.session.metadata.nothing', 'd')", nil, String("d")},
		{"missing", "get('$.session.metadata.x')", nil, vNull},
		{"missing, default", "get('$.session.metadata.x', 'd')", nil, String("d")},
		{"missing, default expression", "get('$.session.metadata.x', get('$.session.key') + '!')", nil, String("sess-1!")},
		{"missing, null default", "get('$.session.metadata.x', null)", nil, vNull},
		{"missing under a string", "get('$.session.metadata.tenant.x')", nil, vNull},
		{"index of an object", "get('$.session.metadata.nested[0]')", nil, vNull},
		{"nil metadata", "get('$.session.metadata.tenant')", withSession(nil), vNull},
		{"nested", "get('$.session.metadata.nested.x.y')", nil, vTrue},
		{"array index", "get('$.session.metadata.tags[1]')", nil, String("b")},
		{"negative index", "get('$.session.metadata.tags[-1]')", nil, Number(3)},
		{"negative index too far", "get('$.session.metadata.tags[-4]')", nil, vNull},
		{"index out of range", "get('$.session.metadata.tags[3]')", nil, vNull},
		{"index then name", "get('$.session.metadata.nested.list[0].id')", nil, String("first")},
		{"bracket single quotes", "get('$.session.metadata[''a b'']')", nil, String("spaced")},
		{"bracket double quotes", `get('$.session.metadata["a b"]')`, nil, String("spaced")},
		{"bracket with blanks", `get('$.session.metadata[ "a b" ]')`, nil, String("spaced")},
		{"bracket escaped quote", `get('$.session.metadata["it''s"]')`, nil, String("quoted")},
		{"bracket backslash escape", `get('$.session.metadata[''it\''s'']')`, nil, String("quoted")},
		{"bracket unicode escape", `get('$.session.metadata["\u0074ier"]')`, nil, String("gold")},
		{"bracket root", `get('$["session"]["metadata"]["tier"]')`, nil, String("gold")},
		{"dash in dot name", "get('$.session.metadata.user-id')", nil, String("dash")},
		{"case-sensitive names", "get('$.session.metadata.upper')", nil, vNull},
		{"metadata object", "get('$.session.metadata.nested.x')", nil, Value{kind: KindObject, ref: map[string]any{"y": true}}},

		// Equality.
		{"eq strings", "'a' == 'a'", nil, vTrue},
		{"eq strings differ", "'a' == 'b'", nil, vFalse},
		{"eq strings case", "'a' == 'A'", nil, vFalse},
		{"eq numbers", "1 == 1.0", nil, vTrue},
		{"eq zero and minus zero", "0 == -0", nil, vTrue},
		{"eq bools", "true == true", nil, vTrue},
		{"eq bools differ", "true == false", nil, vFalse},
		{"eq kinds differ", "'a' == 1", nil, vFalse},
		{"ne kinds differ", "'a' != 1", nil, vTrue},
		{"eq number and string", "1 == '1'", nil, vFalse},
		{"ne strings", "'a' != 'b'", nil, vTrue},
		{"ne same", "'a' != 'a'", nil, vFalse},
		{"eq bool and number", "true == 1", nil, vFalse},

		// Null semantics.
		{"missing == 'a'", "get('$.session.metadata.x') == 'a'", nil, vFalse},
		{"missing != 'a'", "get('$.session.metadata.x') != 'a'", nil, vFalse},
		{"missing < 'a'", "get('$.session.metadata.x') < 'a'", nil, vFalse},
		{"missing >= 'a'", "get('$.session.metadata.x') >= 'a'", nil, vFalse},
		{"null == null", "null == null", nil, vFalse},
		{"null != null", "null != null", nil, vFalse},
		{"null != 1", "null != 1", nil, vFalse},
		{"1 != null", "1 != null", nil, vFalse},
		{"null <= null", "null <= null", nil, vFalse},
		{"not of a null comparison", "not (get('$.session.metadata.x') == 'a')", nil, vTrue},
		{"not null", "not null", nil, vNull},
		{"null and true", "null and true", nil, vFalse},
		{"null or true", "null or true", nil, vTrue},
		{"null or null", "null or null", nil, vFalse},
		{"if null", "if (null) 1 else 2", nil, Number(2)},

		// Arrays and objects.
		{"object == object", "get('$.session.metadata.nested') == get('$.session.metadata.nested')", nil, vFalse},
		{"object != object", "get('$.session.metadata.nested') != get('$.session.metadata.nested')", nil, vTrue},
		{"array != string", "get('$.session.metadata.tags') != 'a'", nil, vTrue},
		{"array < array", "get('$.session.metadata.tags') < get('$.session.metadata.tags')", nil, vFalse},
		{"object != null", "get('$.session.metadata') != null", nil, vFalse},

		// Ordering.
		{"lt numbers", "1 < 2", nil, vTrue},
		{"lt numbers false", "2 < 1", nil, vFalse},
		{"le equal", "2 <= 2", nil, vTrue},
		{"le less", "1 <= 2", nil, vTrue},
		{"le more", "3 <= 2", nil, vFalse},
		{"gt", "3 > 2", nil, vTrue},
		{"gt equal", "2 > 2", nil, vFalse},
		{"ge equal", "2 >= 2", nil, vTrue},
		{"ge less", "1 >= 2", nil, vFalse},
		{"lt strings", "'apple' < 'banana'", nil, vTrue},
		{"lt strings by bytes", "'Z' < 'a'", nil, vTrue},
		{"lt prefix", "'ab' < 'abc'", nil, vTrue},
		{"ge strings", "'b' >= 'a'", nil, vTrue},
		{"lt mixed kinds", "1 < '2'", nil, vFalse},
		{"ge mixed kinds", "'2' >= 1", nil, vFalse},
		{"lt bools", "false < true", nil, vFalse},
		{"negative numbers", "-3 < -2", nil, vTrue},

		// Logic.
		{"and tt", "true and true", nil, vTrue},
		{"and tf", "true and false", nil, vFalse},
		{"and ft", "false and true", nil, vFalse},
		{"and ff", "false && false", nil, vFalse},
		{"and symbol", "true && true", nil, vTrue},
		{"or tt", "true or true", nil, vTrue},
		{"or tf", "true or false", nil, vTrue},
		{"or ft", "false || true", nil, vTrue},
		{"or ff", "false or false", nil, vFalse},
		{"and returns bool", "true and 'x'", nil, vFalse},
		{"or returns bool", "'x' or 1", nil, vFalse},
		{"and short-circuits", "false and get('$.session.metadata.tenant') == 'acme'", nil, vFalse},
		{"or short-circuits", "true or get('$.session.metadata.tenant') == 'acme'", nil, vTrue},
		{"not true", "not true", nil, vFalse},
		{"not false", "not false", nil, vTrue},
		{"bang true", "!true", nil, vFalse},
		{"bang bang", "!!true", nil, vTrue},
		{"not not", "not not false", nil, vFalse},
		{"not string", "not 'x'", nil, vNull},
		{"not number", "!0", nil, vNull},

		// Arithmetic.
		{"add", "1 + 2", nil, Number(3)},
		{"sub", "5 - 7", nil, Number(-2)},
		{"mul", "2.5 * 4", nil, Number(10)},
		{"div", "7 / 2", nil, Number(3.5)},
		{"mod", "7 % 3", nil, Number(1)},
		{"mod negative dividend", "-7 % 3", nil, Number(-1)},
		{"mod fraction", "5.5 % 2", nil, Number(1.5)},
		{"div by zero", "1 / 0", nil, vNull},
		{"mod by zero", "1 % 0", nil, vNull},
		{"zero div by zero", "0 / 0", nil, vNull},
		{"overflow", "1e308 * 10", nil, vNull},
		{"overflow add", "1.7e308 + 1.7e308", nil, vNull},
		{"concat", "'a' + 'b'", nil, String("ab")},
		{"concat too long", "get('$.session.metadata.big') + 'x'", withSession(map[string]any{"big": strings.Repeat("a", maxConcat)}), vNull},
		{"concat at the limit", "get('$.session.metadata.big') + 'x' == get('$.session.metadata.big2')",
			withSession(map[string]any{"big": strings.Repeat("a", maxConcat-1), "big2": strings.Repeat("a", maxConcat-1) + "x"}), vTrue},
		{"concat empty", "'' + get('$.session.key')", nil, String("sess-1")},
		{"concat get", "get('$.session.metadata.tenant') + '/' + get('$.session.metadata.tier')", nil, String("acme/gold")},
		{"add string and number", "'a' + 1", nil, vNull},
		{"sub strings", "'a' - 'b'", nil, vNull},
		{"add null", "get('$.session.metadata.x') + 1", nil, vNull},
		{"mul bool", "true * 2", nil, vNull},
		{"neg", "-get('$.session.metadata.n')", nil, Number(-7)},
		{"neg neg", "- -3", nil, Number(3)},
		{"neg string", "-'a'", nil, vNull},
		{"arith on get", "get('$.session.metadata.n') * 2 + 1 > 10", nil, vTrue},
		{"arith on get false", "get('$.session.metadata.n') * 2 + 1 > 15", nil, vFalse},

		// Functions.
		{"abs", "abs(-2.5)", nil, Number(2.5)},
		{"abs get", "abs(get('$.session.metadata.neg'))", nil, Number(2.5)},
		{"abs string", "abs('x')", nil, vNull},
		{"min", "min(3, 2)", nil, Number(2)},
		{"max", "max(3, 2)", nil, Number(3)},
		{"min strings", "min('a', 'b')", nil, vNull},
		{"max null", "max(get('$.session.metadata.x'), 1)", nil, vNull},
		{"trunc", "trunc(2.7)", nil, Number(2)},
		{"trunc negative", "trunc(-2.7)", nil, Number(-2)},
		{"trunc null", "trunc(null)", nil, vNull},
		{"lower", "lower(get('$.session.metadata.Upper'))", nil, String("mixed")},
		{"upper", "upper('MiXeD')", nil, String("MIXED")},
		{"lower unicode", "lower('ÄÖ')", nil, String("äö")},
		{"lower number", "lower(1)", nil, vNull},
		{"lower for comparison", "lower(get('$.session.metadata.Upper')) == 'mixed'", nil, vTrue},

		// if.
		{"if true", "if (true) 'a' else 'b'", nil, String("a")},
		{"if false", "if (false) 'a' else 'b'", nil, String("b")},
		{"if non-bool", "if (1) 'a' else 'b'", nil, String("b")},
		{"if on get", "if (get('$.session.metadata.tier') == 'gold') get('$.session.key') else 'x'", nil, String("sess-1")},
		{"if as operand", "1 + if (true) 2 else 3", nil, Number(3)},
		{"if else extends right", "if (false) 1 else 2 + 3", nil, Number(5)},
		{"if parenthesised", "(if (false) 1 else 2) + 3", nil, Number(5)},
		{"if nested in then", "if (true) if (false) 1 else 2 else 3", nil, Number(2)},
		{"if nested in else", "if (false) 1 else if (true) 2 else 3", nil, Number(2)},
		{"if branch not evaluated", "if (true) 1 else 1 / 0", nil, Number(1)},

		// Precedence.
		{"mul before add", "1 + 2 * 3", nil, Number(7)},
		{"parens", "(1 + 2) * 3", nil, Number(9)},
		{"sub left assoc", "10 - 4 - 3", nil, Number(3)},
		{"div left assoc", "12 / 2 / 3", nil, Number(2)},
		{"mod with mul", "2 * 7 % 4", nil, Number(2)},
		{"unary minus binds tight", "-2 * 3", nil, Number(-6)},
		{"minus with mul", "2 - -3 * 2", nil, Number(8)},
		{"add before compare", "1 + 1 == 2", nil, vTrue},
		{"compare before and", "1 == 1 and 2 == 2", nil, vTrue},
		{"and before or", "true or false and false", nil, vTrue},
		{"and before or 2", "false and true or true", nil, vTrue},
		{"not looser than compare", "not 1 == 2", nil, vTrue},
		{"bang looser than compare", "!1 == 2", nil, vTrue},
		{"not tighter than and", "not false and false", nil, vFalse},
		{"not tighter than or", "not true or true", nil, vTrue},
		{"keywords and symbols mix", "true && false || !false", nil, vTrue},
		{"parenthesised not", "1 == 1 and (not false)", nil, vTrue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			in := tt.in
			if in == nil {
				in = testInput()
			}
			got := e.Eval(in)
			if !sameValue(got, tt.want) {
				t.Errorf("Eval(%q) = %v (%v), want %v (%v)", tt.src, got, got.Kind(), tt.want, tt.want.Kind())
			}
			if m, want := e.Matches(in), tt.want.isTrue(); m != want {
				t.Errorf("Matches(%q) = %v, want %v", tt.src, m, want)
			}
		})
	}
}

// sameValue compares values for tests: arrays and objects by their JSON.
func sameValue(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case KindArray, KindObject:
		return string(a.AppendText(nil)) == string(b.AppendText(nil))
	case KindNumber:
		return a.num == b.num && math.Signbit(a.num) == math.Signbit(b.num)
	case KindString:
		return a.text() == b.text()
	}
	return a.num == b.num
}

func TestEval_WholeObjects(t *testing.T) {
	in := &Input{
		Agent:       Object{Key: "a", Name: "A", Description: "d", Metadata: map[string]any{"region": "us"}},
		Session:     Object{Key: "s"},
		CurrentDate: "2026-01-15T10:35:00Z",
	}
	tests := []struct{ src, want string }{
		{"get('$')", `{"agent":{"description":"d","key":"a","metadata":{"region":"us"},"name":"A"},"currentDate":"2026-01-15T10:35:00Z","session":{"description":"","key":"s","metadata":{},"name":""}}`},
		{"get('$.agent')", `{"description":"d","key":"a","metadata":{"region":"us"},"name":"A"}`},
		{"get('$.session')", `{"description":"","key":"s","metadata":{},"name":""}`},
		{"get('$.session.metadata')", `{}`},
		{"get('$.agent.metadata')", `{"region":"us"}`},
	}
	for _, tt := range tests {
		v := MustCompile(tt.src).Eval(in)
		if v.Kind() != KindObject {
			t.Errorf("%s: kind %v, want object", tt.src, v.Kind())
		}
		if got := string(v.AppendText(nil)); got != tt.want {
			t.Errorf("%s: AppendText = %s, want %s", tt.src, got, tt.want)
		}
		if got := v.String(); got != tt.want {
			t.Errorf("%s: String = %s, want %s", tt.src, got, tt.want)
		}
	}
	// Interface builds maps with the contract's member names.
	m, ok := MustCompile("get('$')").Eval(in).Interface().(map[string]any)
	if !ok {
		t.Fatalf("Interface of $ is not a map")
	}
	agent := m["agent"].(map[string]any)
	if agent["key"] != "a" || agent["metadata"].(map[string]any)["region"] != "us" || m["currentDate"] != in.CurrentDate {
		t.Errorf("Interface of $ = %v", m)
	}
	if md := m["session"].(map[string]any)["metadata"].(map[string]any); md == nil || len(md) != 0 {
		t.Errorf("session metadata = %#v, want an empty map", md)
	}
}

func TestEval_NilInput(t *testing.T) {
	tests := []struct {
		src  string
		want Value
	}{
		{"get('$.session.key')", String("")},
		{"get('$.session.metadata.x', 'd')", String("d")},
		{"get('$.currentDate')", String("")},
		{"1 + 1", Number(2)},
	}
	for _, tt := range tests {
		if got := MustCompile(tt.src).Eval(nil); !sameValue(got, tt.want) {
			t.Errorf("Eval(%q, nil) = %v, want %v", tt.src, got, tt.want)
		}
	}
	var e *Expr
	if v := e.Eval(testInput()); !v.IsNull() {
		t.Errorf("nil Expr: Eval = %v, want null", v)
	}
	if e.Matches(nil) || e.String() != "" {
		t.Errorf("nil Expr: Matches or String misbehave")
	}
}

func TestEval_DefaultOnlyWhenNeeded(t *testing.T) {
	// lower() allocates; when the path is present the default must not run,
	// so evaluation stays allocation-free.
	e := MustCompile("get('$.session.metadata.tenant', lower('X' + get('$.session.key')))")
	in := testInput()
	if got := e.Eval(in); !sameValue(got, String("acme")) {
		t.Fatalf("Eval = %v", got)
	}
	if n := testing.AllocsPerRun(100, func() { e.Eval(in) }); n != 0 {
		t.Errorf("default evaluated although not needed: %v allocs", n)
	}
}

func TestCompile_Errors(t *testing.T) {
	deep := strings.Repeat("(", MaxDepth+1) + "1" + strings.Repeat(")", MaxDepth+1)
	tests := []struct {
		name   string
		src    string
		offset int
		msg    string
	}{
		{"empty", "", 0, "empty expression"},
		{"blank", "   \n", 0, "empty expression"},
		{"too long", "'" + strings.Repeat("a", MaxLength) + "'", MaxLength, "longer than 4096 bytes"},
		{"too deep parens", deep, MaxDepth, "nested too deeply"},
		{"too deep not", strings.Repeat("!", 200) + "true", MaxDepth - 1, "nested too deeply"},
		{"too deep minus", strings.Repeat("-", 200) + "1", MaxDepth - 1, "nested too deeply"},
		{"too deep calls", strings.Repeat("abs(", 200) + "1" + strings.Repeat(")", 200), 4 * (MaxDepth / 2), "nested too deeply"},
		{"unterminated string", "get('$.session.key') == 'a", 24, "unterminated string"},
		{"unterminated string at end", "'abc", 0, "unterminated string"},
		{"unterminated after escape", "'abc''", 0, "unterminated string"},
		{"double-quoted string", `get('$.session.key') == "a"`, 24, "double-quoted strings are not supported"},
		{"unknown function", "foo(1)", 0, "unknown function 'foo'"},
		{"unknown function later", "1 + sqrt(4)", 4, "unknown function 'sqrt'"},
		{"function case", "GET('$.session.key')", 0, "unknown function 'GET'"},
		{"unknown identifier", "tenant == 'a'", 0, "unknown identifier 'tenant'"},
		{"uppercase keyword", "true AND false", 5, "unexpected 'AND' after the end of the expression (keywords are lowercase)"},
		{"uppercase literal", "TRUE", 0, "keywords are lowercase"},
		{"unknown root", "get('$.foo')", 7, `unknown root "foo"`},
		{"unknown root bracket", `get('$["foo"]')`, 7, `unknown root "foo"`},
		{"unknown member", "get('$.agent.region')", 13, `unknown member "region" of agent`},
		{"member of a string", "get('$.session.key.x')", 19, "session.key is a string"},
		{"member of currentDate", "get('$.currentDate.x')", 19, "currentDate is a string"},
		{"index of root", "get('$[0]')", 7, "cannot be indexed"},
		{"index of session", "get('$.session[0]')", 15, "session is an object and cannot be indexed"},
		{"path without $", "get('session.key')", 5, "starts with '$'"},
		{"empty path", "get('')", 5, "empty JSONPath"},
		{"path wildcard", "get('$.session.metadata.*')", 24, "wildcard"},
		{"path bracket wildcard", "get('$.session.metadata[*]')", 24, "wildcard"},
		{"path descent", "get('$..tenant')", 6, "recursive descent"},
		{"path filter", "get('$.session.metadata[?(@.a)]')", 24, "filter"},
		{"path slice", "get('$.session.metadata.tags[0:2]')", 30, "slices"},
		{"path union", "get('$.session.metadata[''a'',''b'']')", 29, "unions"},
		{"path empty name", "get('$.session.')", 15, "expected a member name"},
		{"path bad char", "get('$.session.metadata.a b')", 26, "expected '.' or '['"},
		{"path trailing blank", "get('$.session.key ')", 18, "blank space at the end"},
		{"path unterminated bracket", "get('$.session.metadata[''a''')", 23, "unterminated '['"},
		{"path unterminated quoted", `get('$.session.metadata["a')`, 24, "unterminated quoted name"},
		{"path missing close bracket", `get('$.session.metadata["a" x]')`, 28, "expected ']'"},
		{"path leading zero", "get('$.session.metadata.tags[01]')", 29, "leading zeros"},
		{"path minus zero", "get('$.session.metadata.tags[-0]')", 29, "-0"},
		{"path bad escape", `get('$.session.metadata["a\x"]')`, 26, "invalid escape"},
		{"path bad unicode escape", `get('$.session.metadata["\u12"]')`, 25, `invalid \u escape`},
		{"path lone surrogate", `get('$.session.metadata["\ud800"]')`, 25, `invalid \u escape`},
		{"path offset after doubled quote", "get('$[''session''].x')", 20, `unknown member "x"`},
		{"non-literal path", "get(1)", 4, "string literal"},
		{"computed path", "get('$.session.' + 'key')", 4, "cannot be computed"},
		{"get no args", "get()", 0, "get takes 1 or 2 arguments, got 0"},
		{"get three args", "get('$.session.key', 1, 2)", 0, "get takes 1 or 2 arguments"},
		{"get unclosed", "get('$.session.key', 1", 22, "expected ')'"},
		{"abs no args", "abs()", 0, "abs takes 1 argument, got 0"},
		{"min one arg", "min(1)", 0, "min takes 2 arguments, got 1"},
		{"upper two args", "upper('a', 'b')", 0, "upper takes 1 argument, got 2"},
		{"missing comma", "min(1 2)", 6, "expected ',' or ')'"},
		{"trailing tokens", "1 2", 2, "unexpected number 2 after the end"},
		{"trailing long string", "1 'ééééééééééééééééééééééééé'", 2, "unexpected string 'éééééééééééééééééé... after the end"},
		{"trailing paren", "(1))", 3, "unexpected ')'"},
		{"trailing else", "1 else 2", 2, "unexpected 'else'"},
		{"unbalanced parens", "(1 + 2", 6, "expected ')' to close the '(' at position 1"},
		{"unbalanced nested", "((1)", 4, "expected ')'"},
		{"chained comparison", "1 < 2 < 3", 6, "cannot be chained"},
		{"chained equality", "1 == 1 == true", 7, "cannot be chained"},
		{"missing else", "if (true) 1", 11, "expected 'else'"},
		{"missing if parens", "if true 1 else 2", 3, "expected '(' after if"},
		{"if unclosed condition", "if (true 1 else 2", 9, "expected ')'"},
		{"missing operand", "1 +", 3, "unexpected end of expression"},
		{"missing left operand", "== 1", 0, "expected a value"},
		{"operator after and", "true and or false", 9, "expected a value, found 'or'"},
		{"not after comparison", "1 == not true", 5, "must be parenthesised"},
		{"bang after comparison", "1 == !true", 5, "must be parenthesised"},
		{"single equals", "get('$.session.key') = 'a'", 21, "compare with =="},
		{"single ampersand", "true & false", 5, "write && or and"},
		{"single bar", "true | false", 5, "write || or or"},
		{"bare path", "$.session.key == 'a'", 0, "read with get()"},
		{"unexpected character", "1 # 2", 2, "unexpected character '#'"},
		{"unicode character", "1 ≠ 2", 2, `unexpected character '\u2260'`},
		{"leading dot number", ".5", 0, "starts with a digit"},
		{"trailing dot number", "5.", 2, "digit after the decimal point"},
		{"exponent without digits", "1e+", 3, "digit in the exponent"},
		{"number then letter", "2and true", 1, "in a number"},
		{"number out of range", "1e400", 0, "out of range"},
		{"unary plus", "+1", 0, "expected a value"},
		{"empty parens", "()", 1, "expected a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(tt.src)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want an error", tt.src, e)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) error %T %v, want *SyntaxError", tt.src, err, err)
			}
			if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Compile(%q) = offset %d %q, want offset %d and a message containing %q", tt.src, se.Offset, se.Msg, tt.offset, tt.msg)
			}
			if se.Offset < 0 || se.Offset > len(tt.src) {
				t.Errorf("offset %d outside the source (length %d)", se.Offset, len(tt.src))
			}
		})
	}
}

func TestSyntaxError_Error(t *testing.T) {
	_, err := Compile("1 < 2 < 3")
	if got, want := err.Error(), "syntax error at position 7: comparisons cannot be chained: write (a < b) and (b < c)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestCompile_Limits(t *testing.T) {
	// Exactly MaxLength bytes compile.
	src := "'" + strings.Repeat("a", MaxLength-2) + "'"
	if _, err := Compile(src); err != nil {
		t.Errorf("a source of MaxLength bytes: %v", err)
	}
	// Nesting just within the limit compiles.
	n := MaxDepth - 1
	src = strings.Repeat("(", n) + "1" + strings.Repeat(")", n)
	if _, err := Compile(src); err != nil {
		t.Errorf("%d nested parentheses: %v", n, err)
	}
	// Long flat chains are not nesting.
	src = "1" + strings.Repeat(" + 1", 1000)
	e, err := Compile(src)
	if err != nil {
		t.Fatalf("a long chain: %v", err)
	}
	if v := e.Eval(nil); !sameValue(v, Number(1001)) {
		t.Errorf("a long chain = %v", v)
	}
	src = "get('$.session.key') == 'k'" + strings.Repeat(" or get('$.session.key') == 'k'", 100)
	if e, err := Compile(src); err != nil || !e.Matches(&Input{Session: Object{Key: "k"}}) {
		t.Errorf("a long or chain: %v", err)
	}
}

func TestExpr_String(t *testing.T) {
	src := " get('$.session.key')  == 'a' "
	if got := MustCompile(src).String(); got != src {
		t.Errorf("String() = %q, want %q", got, src)
	}
}

func TestMustCompile_Panics(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "syntax error at position 1") {
			t.Errorf("recover() = %v", r)
		}
	}()
	MustCompile("")
}

func TestEval_Allocations(t *testing.T) {
	in := testInput()
	in.Agent.Metadata["region"] = "us"
	for _, src := range benchExprs {
		e := MustCompile(src.src)
		if n := testing.AllocsPerRun(200, func() { e.Eval(in) }); n != 0 {
			t.Errorf("Eval(%q): %v allocations, want 0", src.src, n)
		}
	}
	// Other common shapes.
	for _, src := range []string{
		"get('$.session.metadata.tags[0]') == 'a'",
		"get('$.session.metadata[''a b'']')",
		"if (get('$.session.metadata.tier') == 'gold') get('$.session.key') else ''",
		"get('$.session.metadata.nested')",
		"get('$')",
		"lower(get('$.session.metadata.tenant'))", // already lowercase: no copy
		"get('$.session.metadata.tenant') + ''",
		"abs(get('$.session.metadata.neg')) % 2 / 1 - 1",
		"get('$.currentDate') >= '2026-01-01'",
	} {
		e := MustCompile(src)
		if n := testing.AllocsPerRun(200, func() { e.Eval(in) }); n != 0 {
			t.Errorf("Eval(%q): %v allocations, want 0", src, n)
		}
	}
}

func TestConcurrentEval(t *testing.T) {
	e := MustCompile("(get('$.session.metadata.tier', 'free') != 'free') and (get('$.agent.metadata.region') == 'us')")
	in := testInput()
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 1000 {
				ok = ok && e.Matches(in)
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("a concurrent evaluation did not match")
		}
	}
}
