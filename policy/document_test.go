package policy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/agentalias/agentalias/internal/validate"
	"github.com/agentalias/agentalias/policy"
)

// The contract's examples (vectara-api.md §2.2 and §2.3), compacted.
const (
	exampleDirect   = `{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]}`
	exampleTenant   = `{"type":"routed","rules":[{"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"support-acme"}},{"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id', '')","options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}`
	exampleSession  = `{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.key')","options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}`
	exampleFallback = `{"type":"routed","rules":[{"match":"get('$.x') >= 1 && true","targets":{"type":"fallback","agent_keys":["primary","secondary"]}},{"targets":{"type":"single","agent_key":"support-v1"}}]}`
)

// examplePretty is exampleTenant as the contract prints it.
const examplePretty = `{
    "type": "routed",
    "rules": [
      {
        "match": "get('$.session.metadata.tenant') == 'acme'",
        "targets": { "type": "single", "agent_key": "support-acme" }
      },
      {
        "targets": {
          "type": "weighted",
          "partition_by": "get('$.session.metadata.user_id', '')",
          "options": [
            { "agent_key": "support-v1", "weight": 90 },
            { "agent_key": "support-v2", "weight": 10 }
          ]
        }
      }
    ]
  }`

var examples = []string{exampleDirect, exampleTenant, exampleSession, exampleFallback}

// fieldErrors returns err as *validate.Errors, failing the test if it is not one.
func fieldErrors(tb testing.TB, err error) *validate.Errors {
	tb.Helper()
	var ve *validate.Errors
	if !errors.As(err, &ve) {
		tb.Fatalf("error %v (%T) is not a *validate.Errors", err, err)
	}
	return ve
}

// checkErrors checks that err reports exactly the paths in want, each with a
// message containing want's value.
func checkErrors(tb testing.TB, err error, want map[string]string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err = nil, want errors at %v", want)
	}
	ve := fieldErrors(tb, err)
	var wantPaths []string
	for p := range want {
		wantPaths = append(wantPaths, p)
	}
	slices.Sort(wantPaths)
	if got := ve.Paths(); !reflect.DeepEqual(wantPaths, got) {
		tb.Fatalf("paths = %q, want %q\nerror: %v", got, wantPaths, err)
	}
	fe := ve.FieldErrors()
	for p, sub := range want {
		if !strings.Contains(fe[p], sub) {
			tb.Errorf("%s: message %q does not contain %q", p, fe[p], sub)
		}
	}
}

func single(key string) policy.Targets {
	return policy.Targets{Type: policy.TargetSingle, AgentKey: key}
}

func weighted(partition string, opts ...policy.Option) policy.Targets {
	return policy.Targets{Type: policy.TargetWeighted, PartitionBy: partition, Options: opts}
}

func fallback(keys ...string) policy.Targets {
	return policy.Targets{Type: policy.TargetFallback, AgentKeys: keys}
}

func routed(rules ...policy.Rule) *policy.Document {
	return &policy.Document{Type: policy.TypeRouted, Rules: rules}
}

func TestDocument_Validate(t *testing.T) {
	long := strings.Repeat("x", policy.MaxExpressionLength+1)
	manyOptions := make([]policy.Option, policy.MaxOptions+1)
	manyKeys := make([]string, policy.MaxOptions+1)
	for i := range manyOptions {
		manyOptions[i] = policy.Option{AgentKey: fmt.Sprintf("a%d", i), Weight: 1}
		manyKeys[i] = fmt.Sprintf("a%d", i)
	}
	manyRules := make([]policy.Rule, policy.MaxRules+1)
	for i := range manyRules {
		manyRules[i] = policy.Rule{Match: "true", Targets: single("a")}
	}

	tests := []struct {
		name string
		doc  *policy.Document
		want map[string]string // path -> message substring; nil means valid
	}{
		{"OK", routed(policy.Rule{Targets: single("support-v1")}), nil},
		{"OKWeighted", routed(policy.Rule{Targets: weighted("get('$.session.key')",
			policy.Option{AgentKey: "a", Weight: 0}, policy.Option{AgentKey: "b", Weight: policy.MaxWeight})}), nil},
		{"OKFallback", routed(policy.Rule{Targets: fallback("a", "b", "c")}), nil},
		{"OKNoCatchAll", routed(policy.Rule{Match: "true", Targets: single("a")}), nil},
		{"OKLimits", routed(
			policy.Rule{Match: strings.Repeat("x", policy.MaxExpressionLength), Targets: weighted("k", manyOptions[:policy.MaxOptions]...)},
			policy.Rule{Targets: fallback(manyKeys[:policy.MaxOptions]...)},
		), nil},
		{"ErrNil", nil, map[string]string{"": "is required"}},
		{"ErrTypeMissing", &policy.Document{Rules: []policy.Rule{{Targets: single("a")}}},
			map[string]string{"type": "is required"}},
		{"ErrTypeUnknown", &policy.Document{Type: "x", Rules: []policy.Rule{{Targets: single("a")}}},
			map[string]string{"type": `unknown policy type "x"; the only type is routed`}},
		{"ErrRulesMissing", routed(), map[string]string{"rules": "at least one rule is required"}},
		{"ErrRulesEmpty", &policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{}},
			map[string]string{"rules": "at least one rule is required"}},
		{"ErrTooManyRules", routed(manyRules...), map[string]string{"rules": "at most 100 rules"}},
		{"ErrUnreachable", routed(
			policy.Rule{Match: "true", Targets: single("a")},
			policy.Rule{Targets: single("b")},
			policy.Rule{Match: "true", Targets: single("c")},
			policy.Rule{Targets: single("d")},
		), map[string]string{
			"rules[2]": "unreachable: rule follows the catch-all rule rules[1]",
			"rules[3]": "unreachable: rule follows the catch-all rule rules[1]",
		}},
		{"ErrMatchBlank", routed(policy.Rule{Match: " \t\n", Targets: single("a")}),
			map[string]string{"rules[0].match": "must not be blank; omit match for a catch-all"}},
		{"ErrMatchTooLong", routed(policy.Rule{Match: long, Targets: single("a")}),
			map[string]string{"rules[0].match": "at most 4096 bytes"}},
		{"ErrTargetTypeMissing", routed(policy.Rule{Targets: policy.Targets{AgentKey: "a"}}),
			map[string]string{"rules[0].targets.type": "is required"}},
		{"ErrTargetTypeUnknown", routed(policy.Rule{Targets: policy.Targets{Type: "x", AgentKey: "a"}}),
			map[string]string{"rules[0].targets.type": `unknown target type "x"; want single, weighted or fallback`}},
		{"ErrSingleExtraFields", routed(policy.Rule{Targets: policy.Targets{
			Type: policy.TargetSingle, AgentKey: "a", PartitionBy: "k",
			Options: []policy.Option{{AgentKey: "b", Weight: 1}}, AgentKeys: []string{"c"},
		}}), map[string]string{
			"rules[0].targets.partition_by": "not allowed with type single",
			"rules[0].targets.options":      "not allowed with type single",
			"rules[0].targets.agent_keys":   "not allowed with type single",
		}},
		{"ErrSingleAgentKeyMissing", routed(policy.Rule{Targets: single("")}),
			map[string]string{"rules[0].targets.agent_key": "is required"}},
		{"ErrSingleAgentKeyInvalid", routed(policy.Rule{Targets: single("a b")}),
			map[string]string{"rules[0].targets.agent_key": "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters"}},
		{"ErrSingleAgentKeyTooLong", routed(policy.Rule{Targets: single(strings.Repeat("a", 51))}),
			map[string]string{"rules[0].targets.agent_key": "1-50 characters"}},
		{"ErrWeightedExtraFields", routed(policy.Rule{Targets: policy.Targets{
			Type: policy.TargetWeighted, AgentKey: "a", PartitionBy: "k",
			Options: []policy.Option{{AgentKey: "b", Weight: 1}}, AgentKeys: []string{"c"},
		}}), map[string]string{
			"rules[0].targets.agent_key":  "not allowed with type weighted",
			"rules[0].targets.agent_keys": "not allowed with type weighted",
		}},
		{"ErrPartitionByMissing", routed(policy.Rule{Targets: weighted("", policy.Option{AgentKey: "a", Weight: 1})}),
			map[string]string{"rules[0].targets.partition_by": "is required"}},
		{"ErrPartitionByBlank", routed(policy.Rule{Targets: weighted("  ", policy.Option{AgentKey: "a", Weight: 1})}),
			map[string]string{"rules[0].targets.partition_by": "must not be blank"}},
		{"ErrPartitionByTooLong", routed(policy.Rule{Targets: weighted(long, policy.Option{AgentKey: "a", Weight: 1})}),
			map[string]string{"rules[0].targets.partition_by": "at most 4096 bytes"}},
		{"ErrOptionsMissing", routed(policy.Rule{Targets: weighted("k")}),
			map[string]string{"rules[0].targets.options": "is required"}},
		{"ErrOptionsEmpty", routed(policy.Rule{Targets: weighted("k", []policy.Option{}...)}),
			map[string]string{"rules[0].targets.options": "at least one option is required"}},
		{"ErrTooManyOptions", routed(policy.Rule{Targets: weighted("k", manyOptions...)}),
			map[string]string{"rules[0].targets.options": "at most 100 options"}},
		{"ErrOptionAgentKey", routed(policy.Rule{Targets: weighted("k",
			policy.Option{Weight: 1}, policy.Option{AgentKey: "no/slash", Weight: 1})}),
			map[string]string{
				"rules[0].targets.options[0].agent_key": "is required",
				"rules[0].targets.options[1].agent_key": "must match",
			}},
		{"ErrWeightRange", routed(policy.Rule{Targets: weighted("k",
			policy.Option{AgentKey: "a", Weight: -1},
			policy.Option{AgentKey: "b", Weight: policy.MaxWeight + 1},
			policy.Option{AgentKey: "c", Weight: 1})}),
			map[string]string{
				"rules[0].targets.options[0].weight": "must be at least 0",
				"rules[0].targets.options[1].weight": "must be at most 1000000",
			}},
		{"ErrWeightsAllZero", routed(policy.Rule{Targets: weighted("k",
			policy.Option{AgentKey: "a"}, policy.Option{AgentKey: "b"})}),
			map[string]string{"rules[0].targets.options": "at least one weight must be greater than 0"}},
		{"ErrOptionDuplicate", routed(policy.Rule{Targets: weighted("k",
			policy.Option{AgentKey: "a", Weight: 1}, policy.Option{AgentKey: "b", Weight: 1},
			policy.Option{AgentKey: "a", Weight: 2})}),
			map[string]string{"rules[0].targets.options[2].agent_key": `duplicate agent "a" in this target`}},
		{"OKSameAgentInTwoTargets", routed(
			policy.Rule{Match: "true", Targets: weighted("k", policy.Option{AgentKey: "a", Weight: 1})},
			policy.Rule{Targets: weighted("k", policy.Option{AgentKey: "a", Weight: 1})},
		), nil},
		{"ErrFallbackExtraFields", routed(policy.Rule{Targets: policy.Targets{
			Type: policy.TargetFallback, AgentKey: "a", PartitionBy: "k",
			Options: []policy.Option{{AgentKey: "b", Weight: 1}}, AgentKeys: []string{"c"},
		}}), map[string]string{
			"rules[0].targets.agent_key":    "not allowed with type fallback",
			"rules[0].targets.partition_by": "not allowed with type fallback",
			"rules[0].targets.options":      "not allowed with type fallback",
		}},
		{"ErrFallbackMissing", routed(policy.Rule{Targets: fallback()}),
			map[string]string{"rules[0].targets.agent_keys": "is required"}},
		{"ErrFallbackEmpty", routed(policy.Rule{Targets: fallback([]string{}...)}),
			map[string]string{"rules[0].targets.agent_keys": "at least one agent key is required"}},
		{"ErrFallbackTooMany", routed(policy.Rule{Targets: fallback(manyKeys...)}),
			map[string]string{"rules[0].targets.agent_keys": "at most 100 agent keys"}},
		{"ErrFallbackKeys", routed(policy.Rule{Targets: fallback("a", "", "b", "a", "é")}),
			map[string]string{
				"rules[0].targets.agent_keys[1]": "is required",
				"rules[0].targets.agent_keys[3]": `duplicate agent "a" in this target`,
				"rules[0].targets.agent_keys[4]": "must match",
			}},
		{"ErrCollectsAll", &policy.Document{Type: "x", Rules: []policy.Rule{
			{Targets: single("")},
			{Match: " ", Targets: weighted("", policy.Option{AgentKey: "a"})},
			{Targets: policy.Targets{Type: "y"}},
		}}, map[string]string{
			"type":                          "unknown policy type",
			"rules[0].targets.agent_key":    "is required",
			"rules[1]":                      "unreachable",
			"rules[1].match":                "must not be blank",
			"rules[1].targets.partition_by": "is required",
			"rules[1].targets.options":      "at least one weight",
			"rules[2]":                      "unreachable",
			"rules[2].targets.type":         "unknown target type",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.doc.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			checkErrors(t, err, tt.want)
		})
	}
}

func TestDocument_Validate_Examples(t *testing.T) {
	for _, ex := range examples {
		var d policy.Document
		if err := json.Unmarshal([]byte(ex), &d); err != nil {
			t.Fatalf("Unmarshal(%s): %v", ex, err)
		}
		if err := d.Validate(); err != nil {
			t.Errorf("Validate(%s) = %v", ex, err)
		}
	}
}

func TestDocument_UnmarshalJSON(t *testing.T) {
	// opt builds a document with one weighted rule whose second option has
	// the weight w, given as JSON.
	opt := func(w string) string {
		return `{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"k",` +
			`"options":[{"agent_key":"a","weight":1},{"agent_key":"b","weight":` + w + `}]}}]}`
	}
	withWeight := func(w int64) *policy.Document {
		return routed(policy.Rule{Targets: weighted("k",
			policy.Option{AgentKey: "a", Weight: 1}, policy.Option{AgentKey: "b", Weight: w})})
	}
	const weightPath = "rules[0].targets.options[1].weight"

	tests := []struct {
		name    string
		in      string
		want    *policy.Document  // when the input decodes
		wantErr map[string]string // when it does not
	}{
		{"OKDirect", exampleDirect, routed(policy.Rule{Targets: single("support-v1")}), nil},
		{"OKTenant", examplePretty, routed(
			policy.Rule{Match: "get('$.session.metadata.tenant') == 'acme'", Targets: single("support-acme")},
			policy.Rule{Targets: weighted("get('$.session.metadata.user_id', '')",
				policy.Option{AgentKey: "support-v1", Weight: 90}, policy.Option{AgentKey: "support-v2", Weight: 10})},
		), nil},
		{"OKFallback", `{"type":"routed","rules":[{"targets":{"type":"fallback","agent_keys":["a","b"]}}]}`,
			routed(policy.Rule{Targets: fallback("a", "b")}), nil},
		{"OKNullMembersAbsent", `{"type":"routed","rules":[{"match":null,"targets":{"type":"single","agent_key":"a","options":null,"partition_by":null}}]}`,
			routed(policy.Rule{Targets: single("a")}), nil},
		{"OKEmptyArrays", `{"type":"routed","rules":[{"targets":{"type":"fallback","agent_keys":[]}}]}`,
			routed(policy.Rule{Targets: fallback([]string{}...)}), nil},
		{"OKEmptyRules", `{"type":"routed","rules":[]}`,
			&policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{}}, nil},
		{"OKEmptyObject", `{}`, &policy.Document{}, nil},
		{"OKNotValidated", `{"type":"other","rules":[{"targets":{"type":"single"}}]}`,
			&policy.Document{Type: "other", Rules: []policy.Rule{{Targets: policy.Targets{Type: "single"}}}}, nil},

		{"OKWeightInteger", opt("90"), withWeight(90), nil},
		{"OKWeightPointZero", opt("1.0"), withWeight(1), nil},
		{"OKWeightExponent", opt("1e3"), withWeight(1000), nil},
		{"OKWeightExponentPlus", opt("1E+3"), withWeight(1000), nil},
		{"OKWeightFractionExponent", opt("0.5e1"), withWeight(5), nil},
		{"OKWeightNegativeExponent", opt("100e-2"), withWeight(1), nil},
		{"OKWeightZero", opt("0"), withWeight(0), nil},
		{"OKWeightNegativeZero", opt("-0.0e5"), withWeight(0), nil},
		{"OKWeightZeroHugeExponent", opt("0e999999999999999999999"), withWeight(0), nil},
		{"OKWeightNegative", opt("-1"), withWeight(-1), nil}, // Validate rejects it
		{"OKWeightMaxInt64", opt("9223372036854775807"), withWeight(1<<63 - 1), nil},
		{"OKWeightMinInt64", opt("-9223372036854775808"), withWeight(-1 << 63), nil},

		{"ErrWeightFraction", opt("1.5"), nil, map[string]string{weightPath: "must be an integer"}},
		{"ErrWeightTiny", opt("1e-400"), nil, map[string]string{weightPath: "must be an integer"}},
		{"ErrWeightString", opt(`"90"`), nil, map[string]string{weightPath: "must be an integer"}},
		{"ErrWeightBool", opt("true"), nil, map[string]string{weightPath: "must be an integer"}},
		{"ErrWeightObject", opt("{}"), nil, map[string]string{weightPath: "must be an integer"}},
		{"ErrWeightHuge", opt("1e30"), nil, map[string]string{weightPath: "must be an integer between 0 and 1000000"}},
		{"ErrWeightHugeNegative", opt("-1e30"), nil, map[string]string{weightPath: "must be an integer between 0 and 1000000"}},
		{"ErrWeightHugeExponent", opt("1e999999999999999999999"), nil, map[string]string{weightPath: "between 0 and 1000000"}},
		{"ErrWeightInt64Overflow", opt("9223372036854775808"), nil, map[string]string{weightPath: "between 0 and 1000000"}},
		{"ErrWeightNull", opt("null"), nil, map[string]string{weightPath: "is required"}},
		{"ErrWeightMissing", `{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"k","options":[{"agent_key":"a"}]}}]}`,
			nil, map[string]string{"rules[0].targets.options[0].weight": "is required"}},

		{"ErrNull", `null`, nil, map[string]string{"": "must be an object"}},
		{"ErrArray", `[]`, nil, map[string]string{"": "must be an object"}},
		{"ErrString", `"routed"`, nil, map[string]string{"": "must be an object"}},
		{"ErrInvalidJSON", `{"type":`, nil, map[string]string{"": "invalid JSON"}},
		{"ErrEmpty", ``, nil, map[string]string{"": "invalid JSON"}},
		{"ErrTrailingData", exampleDirect + `{}`, nil, map[string]string{"": "invalid JSON"}},
		{"ErrUnknownField", `{"type":"routed","rules":[],"version":2}`, nil,
			map[string]string{"version": "unknown field"}},
		{"ErrFieldCase", `{"Type":"routed","rules":[]}`, nil, map[string]string{"Type": "unknown field"}},
		{"ErrUnknownNested", `{"type":"routed","rules":[{"when":"x","targets":{"type":"single","agent_key":"a","weight":1,"options":[{"agent_key":"b","weight":1,"extra":true}]}}]}`,
			nil, map[string]string{
				"rules[0].when":                     "unknown field",
				"rules[0].targets.weight":           "unknown field",
				"rules[0].targets.options[0].extra": "unknown field",
			}},
		{"ErrDuplicateField", `{"type":"routed","type":"routed","rules":[]}`, nil,
			map[string]string{"type": "duplicate field"}},
		{"ErrRulesNotArray", `{"type":"routed","rules":{}}`, nil, map[string]string{"rules": "must be an array"}},
		{"ErrTypeNotString", `{"type":1,"rules":[]}`, nil, map[string]string{"type": "must be a string"}},
		{"ErrRuleNull", `{"type":"routed","rules":[null]}`, nil, map[string]string{"rules[0]": "must be an object"}},
		{"ErrRuleNotObject", `{"type":"routed","rules":["x"]}`, nil, map[string]string{"rules[0]": "must be an object"}},
		{"ErrMatchNotString", `{"type":"routed","rules":[{"match":true,"targets":{"type":"single","agent_key":"a"}}]}`,
			nil, map[string]string{"rules[0].match": "must be a string"}},
		{"ErrTargetsNotObject", `{"type":"routed","rules":[{"targets":"a"}]}`,
			nil, map[string]string{"rules[0].targets": "must be an object"}},
		{"ErrTargetFields", `{"type":"routed","rules":[{"targets":{"type":["single"],"agent_key":1,"partition_by":{},"options":{},"agent_keys":"a"}}]}`,
			nil, map[string]string{
				"rules[0].targets.type":         "must be a string",
				"rules[0].targets.agent_key":    "must be a string",
				"rules[0].targets.partition_by": "must be a string",
				"rules[0].targets.options":      "must be an array",
				"rules[0].targets.agent_keys":   "must be an array",
			}},
		{"ErrOptionNotObject", `{"type":"routed","rules":[{"targets":{"type":"weighted","options":[1]}}]}`,
			nil, map[string]string{"rules[0].targets.options[0]": "must be an object"}},
		{"ErrOptionAgentKey", `{"type":"routed","rules":[{"targets":{"type":"weighted","options":[{"agent_key":5,"weight":1}]}}]}`,
			nil, map[string]string{"rules[0].targets.options[0].agent_key": "must be a string"}},
		{"ErrAgentKeysElement", `{"type":"routed","rules":[{"targets":{"type":"fallback","agent_keys":["a",null,2]}}]}`,
			nil, map[string]string{
				"rules[0].targets.agent_keys[1]": "must be a string",
				"rules[0].targets.agent_keys[2]": "must be a string",
			}},
		{"ErrCollectsAll", `{"type":"routed","rules":[{"targets":{"type":"weighted","options":[{"agent_key":"a","weight":1.5},{"agent_key":"b","weight":"2"}]}},{"targets":{"type":2}}],"x":1}`,
			nil, map[string]string{
				"rules[0].targets.options[0].weight": "must be an integer",
				"rules[0].targets.options[1].weight": "must be an integer",
				"rules[1].targets.type":              "must be a string",
				"x":                                  "unknown field",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := policy.Document{Type: "untouched"}
			d := orig
			err := d.UnmarshalJSON([]byte(tt.in))
			if tt.wantErr != nil {
				checkErrors(t, err, tt.wantErr)
				if !reflect.DeepEqual(d, orig) {
					t.Errorf("UnmarshalJSON changed the document on error: %+v", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalJSON: %v", err)
			}
			if !reflect.DeepEqual(&d, tt.want) {
				t.Errorf("UnmarshalJSON =\n%#v\nwant\n%#v", d, *tt.want)
			}
		})
	}
}

func TestDocument_UnmarshalJSON_Nested(t *testing.T) {
	// The document's strictness holds inside an enclosing value decoded by
	// encoding/json, where DisallowUnknownFields does not reach.
	var alias struct {
		Key    string          `json:"key"`
		Policy policy.Document `json:"policy"`
	}
	in := `{"key":"support","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"a","typo":1}}]}}`
	dec := json.NewDecoder(strings.NewReader(in))
	dec.DisallowUnknownFields()
	err := dec.Decode(&alias)
	checkErrors(t, err, map[string]string{"rules[0].targets.typo": "unknown field"})

	// A null policy member of an enclosing struct is a document error.
	err = json.Unmarshal([]byte(`{"key":"support","policy":null}`), &alias)
	checkErrors(t, err, map[string]string{"": "must be an object"})

	// Through a pointer, encoding/json handles null itself.
	var withPtr struct {
		Policy *policy.Document `json:"policy"`
	}
	if err := json.Unmarshal([]byte(`{"policy":null}`), &withPtr); err != nil || withPtr.Policy != nil {
		t.Errorf("null *Document: %v, %v", withPtr.Policy, err)
	}
	if err := json.Unmarshal([]byte(`{"policy":`+exampleDirect+`}`), &withPtr); err != nil {
		t.Fatal(err)
	}
	if got := withPtr.Policy.AgentKeys(); !reflect.DeepEqual(got, []string{"support-v1"}) {
		t.Errorf("AgentKeys() = %q", got)
	}
}

func TestDocument_MarshalJSON(t *testing.T) {
	for _, ex := range examples {
		d, err := policy.Parse([]byte(ex))
		if err != nil {
			t.Fatalf("Parse(%s): %v", ex, err)
		}
		for _, marshal := range []func(any) ([]byte, error){
			func(v any) ([]byte, error) { return v.(*policy.Document).MarshalJSON() },
			func(v any) ([]byte, error) {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				err := enc.Encode(v)
				return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
			},
		} {
			got, err := marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != ex {
				t.Errorf("round trip:\n got %s\nwant %s", got, ex)
			}
		}
	}

	// The contract prints the example indented; compacting it gives the same bytes.
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(examplePretty)); err != nil {
		t.Fatal(err)
	}
	d, err := policy.Parse([]byte(examplePretty))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := d.MarshalJSON(); !bytes.Equal(got, compact.Bytes()) {
		t.Errorf("pretty example:\n got %s\nwant %s", got, compact.Bytes())
	}
}

func TestDocument_MarshalJSON_NoHTMLEscape(t *testing.T) {
	d := routed(policy.Rule{Match: "get('$.x') >= 1 && true", Targets: single("a")},
		policy.Rule{Match: "get('$.y') < 2", Targets: single("b")})
	const want = `{"type":"routed","rules":[{"match":"get('$.x') >= 1 && true","targets":{"type":"single","agent_key":"a"}},{"match":"get('$.y') < 2","targets":{"type":"single","agent_key":"b"}}]}`
	got, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("MarshalJSON() =\n%s\nwant\n%s", got, want)
	}
	back, err := policy.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := back.MarshalJSON(); string(again) != want {
		t.Errorf("second round trip = %s", again)
	}
}

func TestDocument_MarshalJSON_Zero(t *testing.T) {
	got, err := json.Marshal(policy.Document{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"","rules":[]}`; string(got) != want {
		t.Errorf("Marshal(Document{}) = %s, want %s", got, want)
	}
}

func TestParse(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		d, err := policy.Parse([]byte(exampleTenant))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Rules) != 2 || d.Rules[1].Targets.Options[1].Weight != 10 {
			t.Errorf("Parse = %+v", d)
		}
	})
	t.Run("OKWhiteSpace", func(t *testing.T) {
		if _, err := policy.Parse([]byte(" \n" + exampleDirect + "\n")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrTrailingData", func(t *testing.T) {
		_, err := policy.Parse([]byte(exampleDirect + " {}"))
		checkErrors(t, err, map[string]string{"": "invalid JSON"})
	})
	t.Run("ErrDecode", func(t *testing.T) {
		// Decoding problems are reported without validating.
		_, err := policy.Parse([]byte(`{"type":"x","rules":[{"targets":{"type":"single","agent_key":"a","weight":1}}]}`))
		checkErrors(t, err, map[string]string{"rules[0].targets.weight": "unknown field"})
	})
	t.Run("ErrValidate", func(t *testing.T) {
		_, err := policy.Parse([]byte(`{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}},{"match":"true","targets":{"type":"single","agent_key":"b"}}]}`))
		checkErrors(t, err, map[string]string{"rules[1]": "unreachable: rule follows the catch-all rule rules[0]"})
	})
}

func TestStickiness_UnmarshalJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    policy.Stickiness
		wantErr map[string]string
	}{
		{"OK", `{"key":"get('$.session.metadata.user_id')","ttl_minutes":60}`,
			policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 60}, nil},
		{"OKNoTTL", `{"key":"k"}`, policy.Stickiness{Key: "k"}, nil},
		{"OKTTLExponent", `{"key":"k","ttl_minutes":1.44e3}`, policy.Stickiness{Key: "k", TTLMinutes: 1440}, nil},
		{"ErrNull", `null`, policy.Stickiness{}, map[string]string{"": "must be an object"}},
		{"ErrUnknownField", `{"key":"k","ttl":5}`, policy.Stickiness{}, map[string]string{"ttl": "unknown field"}},
		{"ErrTypes", `{"key":1,"ttl_minutes":"5"}`, policy.Stickiness{}, map[string]string{
			"key":         "must be a string",
			"ttl_minutes": "must be an integer",
		}},
		{"ErrTTLFraction", `{"key":"k","ttl_minutes":0.5}`, policy.Stickiness{}, map[string]string{"ttl_minutes": "must be an integer"}},
		{"ErrTTLHuge", `{"key":"k","ttl_minutes":1e19}`, policy.Stickiness{}, map[string]string{"ttl_minutes": "must be an integer between 0 and 5256000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s policy.Stickiness
			err := json.Unmarshal([]byte(tt.in), &s)
			if tt.wantErr != nil {
				checkErrors(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s != tt.want {
				t.Errorf("got %+v, want %+v", s, tt.want)
			}
		})
	}
}

func TestStickiness_MarshalJSON(t *testing.T) {
	const in = `{"key":"get('$.session.metadata.user_id', '') + '<&>'","ttl_minutes":0}`
	var s policy.Stickiness
	if err := s.UnmarshalJSON([]byte(in)); err != nil {
		t.Fatal(err)
	}
	got, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != in {
		t.Errorf("round trip:\n got %s\nwant %s", got, in)
	}
}

func TestStickiness_Validate(t *testing.T) {
	tests := []struct {
		name string
		in   *policy.Stickiness
		want map[string]string
	}{
		{"OK", &policy.Stickiness{Key: "get('$.session.key')", TTLMinutes: 60}, nil},
		{"OKNeverExpires", &policy.Stickiness{Key: "k"}, nil},
		{"OKMaxTTL", &policy.Stickiness{Key: "k", TTLMinutes: policy.MaxTTLMinutes}, nil},
		{"ErrNil", nil, map[string]string{"": "is required"}},
		{"ErrKeyMissing", &policy.Stickiness{}, map[string]string{"key": "is required"}},
		{"ErrKeyBlank", &policy.Stickiness{Key: "\t"}, map[string]string{"key": "must not be blank"}},
		{"ErrKeyTooLong", &policy.Stickiness{Key: strings.Repeat("k", policy.MaxExpressionLength+1)},
			map[string]string{"key": "at most 4096 bytes"}},
		{"ErrTTLNegative", &policy.Stickiness{Key: "k", TTLMinutes: -1},
			map[string]string{"ttl_minutes": "must be at least 0"}},
		{"ErrTTLTooLarge", &policy.Stickiness{TTLMinutes: policy.MaxTTLMinutes + 1},
			map[string]string{"key": "is required", "ttl_minutes": "must be at most 5256000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			checkErrors(t, err, tt.want)
		})
	}
}

func TestStickiness_Clone(t *testing.T) {
	if (*policy.Stickiness)(nil).Clone() != nil {
		t.Error("nil.Clone() != nil")
	}
	s := &policy.Stickiness{Key: "k", TTLMinutes: 5}
	c := s.Clone()
	c.Key, c.TTLMinutes = "x", 6
	if *s != (policy.Stickiness{Key: "k", TTLMinutes: 5}) {
		t.Errorf("original changed: %+v", s)
	}
}

func TestDocument_AgentKeys(t *testing.T) {
	tests := []struct {
		name string
		doc  *policy.Document
		want []string
	}{
		{"Nil", nil, nil},
		{"Empty", &policy.Document{}, nil},
		{"Single", routed(policy.Rule{Targets: single("a")}), []string{"a"}},
		{"Mixed", routed(
			policy.Rule{Match: "x", Targets: weighted("k", policy.Option{AgentKey: "b", Weight: 1}, policy.Option{AgentKey: "a", Weight: 0})},
			policy.Rule{Match: "y", Targets: fallback("c", "b", "d")},
			policy.Rule{Match: "z", Targets: single("a")},
			policy.Rule{Targets: single("e")},
		), []string{"b", "a", "c", "d", "e"}},
		{"SkipsEmpty", routed(policy.Rule{Targets: single("")}, policy.Rule{Targets: fallback("", "f")}), []string{"f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.doc.AgentKeys()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AgentKeys() = %q, want %q", got, tt.want)
			}
			for _, k := range tt.want {
				if !tt.doc.References(k) {
					t.Errorf("References(%q) = false", k)
				}
			}
			for _, k := range []string{"", "zz"} {
				if tt.doc.References(k) {
					t.Errorf("References(%q) = true", k)
				}
			}
		})
	}
}

func TestDocument_Clone(t *testing.T) {
	if (*policy.Document)(nil).Clone() != nil {
		t.Error("nil.Clone() != nil")
	}
	orig, err := policy.Parse([]byte(exampleTenant))
	if err != nil {
		t.Fatal(err)
	}
	orig.Rules = append(orig.Rules[:1:1], policy.Rule{Targets: fallback("x", "y")}, orig.Rules[1])
	orig.Rules[1].Match = "true"
	want, _ := orig.MarshalJSON()

	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) || !c.Equal(orig) {
		t.Fatalf("Clone() = %+v, want %+v", c, orig)
	}
	c.Type = "changed"
	c.Rules[0].Match = "changed"
	c.Rules[0].Targets.AgentKey = "changed"
	c.Rules[1].Targets.AgentKeys[0] = "changed"
	c.Rules[2].Targets.Options[0].Weight = 7
	c.Rules[2].Targets.Options[1].AgentKey = "changed"
	c.Rules = append(c.Rules, policy.Rule{})
	if got, _ := orig.MarshalJSON(); !bytes.Equal(got, want) {
		t.Errorf("mutating the clone changed the original:\n got %s\nwant %s", got, want)
	}
	if c.Equal(orig) {
		t.Error("Equal reports the changed clone equal")
	}

	// Nil and empty slices are kept apart.
	empty := &policy.Document{Rules: []policy.Rule{{Targets: policy.Targets{Options: []policy.Option{}}}}}
	if got := empty.Clone(); got.Rules[0].Targets.Options == nil || got.Rules[0].Targets.AgentKeys != nil {
		t.Errorf("Clone() = %#v", got)
	}
}

func TestDocument_Equal(t *testing.T) {
	a := routed(policy.Rule{Targets: weighted("k", policy.Option{AgentKey: "a", Weight: 1})})
	tests := []struct {
		name string
		x, y *policy.Document
		want bool
	}{
		{"BothNil", nil, nil, true},
		{"OneNil", a, nil, false},
		{"Same", a, a.Clone(), true},
		{"NilEqualsEmpty", &policy.Document{}, &policy.Document{Rules: []policy.Rule{}}, true},
		{"Weight", a, routed(policy.Rule{Targets: weighted("k", policy.Option{AgentKey: "a", Weight: 2})}), false},
		{"Partition", a, routed(policy.Rule{Targets: weighted("j", policy.Option{AgentKey: "a", Weight: 1})}), false},
		{"Match", a, routed(policy.Rule{Match: "m", Targets: weighted("k", policy.Option{AgentKey: "a", Weight: 1})}), false},
		{"Type", a, &policy.Document{Rules: a.Rules}, false},
		{"Fallback", routed(policy.Rule{Targets: fallback("a", "b")}), routed(policy.Rule{Targets: fallback("b", "a")}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.x.Equal(tt.y); got != tt.want {
				t.Errorf("x.Equal(y) = %v, want %v", got, tt.want)
			}
			if got := tt.y.Equal(tt.x); got != tt.want {
				t.Errorf("y.Equal(x) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidAgentKey(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"a", true},
		{"support-v1", true},
		{"Agent_09-x", true},
		{strings.Repeat("a", 50), true},
		{"", false},
		{strings.Repeat("a", 51), false},
		{"a b", false},
		{"a.b", false},
		{"agt/1", false},
		{"é", false},
		{"a\n", false},
	}
	for _, tt := range tests {
		if got := policy.ValidAgentKey(tt.in); got != tt.want {
			t.Errorf("ValidAgentKey(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, ex := range examples {
		f.Add([]byte(ex))
	}
	f.Add([]byte(examplePretty))
	f.Add([]byte(`{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"k","options":[{"agent_key":"a","weight":1e3},{"agent_key":"b","weight":-0.0}]}}]}`))
	f.Add([]byte(`{"type":"routed","rules":[{"match":"\u003c\u0026","targets":{"type":"fallback","agent_keys":["a","b"]}}]}`))
	f.Add([]byte(`{"type":"routed","rules":[{"match":null,"targets":{"type":"single","agent_key":"a","options":[]}}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := policy.Parse(b)
		if err != nil {
			if fieldErrors(t, err).Len() == 0 {
				t.Fatalf("Parse returned an empty *validate.Errors")
			}
			return
		}
		out, err := d.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		d2, err := policy.Parse(out)
		if err != nil {
			t.Fatalf("Parse(MarshalJSON(Parse(%q))) = %v\nencoded: %s", b, err, out)
		}
		if !d.Equal(d2) {
			t.Fatalf("round trip changed the document:\n%#v\n%#v", d, d2)
		}
		out2, err := d2.MarshalJSON()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("encoding is not stable:\n%s\n%s (%v)", out, out2, err)
		}
		if c := d.Clone(); !c.Equal(d) || !reflect.DeepEqual(c, d) {
			t.Fatalf("Clone differs: %#v", c)
		}
		for _, k := range d.AgentKeys() {
			if !policy.ValidAgentKey(k) || !d.References(k) {
				t.Fatalf("AgentKeys() has %q", k)
			}
		}
	})
}

func FuzzStickiness(f *testing.F) {
	f.Add([]byte(`{"key":"get('$.session.key')","ttl_minutes":60}`))
	f.Add([]byte(`{"key":"k","ttl_minutes":1.5e2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s policy.Stickiness
		if err := s.UnmarshalJSON(b); err != nil {
			fieldErrors(t, err)
			return
		}
		if s.Validate() != nil {
			return
		}
		out, err := s.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var s2 policy.Stickiness
		if err := s2.UnmarshalJSON(out); err != nil || s2 != s {
			t.Fatalf("round trip: %+v -> %s -> %+v (%v)", s, out, s2, err)
		}
	})
}

// FuzzWeight checks the exact integer parsing of weights against math/big.
func FuzzWeight(f *testing.F) {
	for _, s := range []string{"1", "1.0", "1e3", "1.5", "-1", "1e30", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "0.000e-5", "12.50e1", "1e-400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := `{"type":"routed","rules":[{"targets":{"type":"weighted","options":[{"agent_key":"a","weight":` + s + `}]}}]}`
		if !json.Valid([]byte(in)) {
			return
		}
		var d policy.Document
		err := d.UnmarshalJSON([]byte(in))
		var want *big.Int
		if r, ok := new(big.Rat).SetString(strings.TrimSpace(s)); ok && exponentBelow(s, 1000) && r.IsInt() && r.Num().IsInt64() {
			want = r.Num()
		}
		switch {
		case want == nil && err == nil:
			// Only a huge exponent on a zero may decode without math/big's agreement.
			if exponentBelow(s, 1000) && json.Valid([]byte(s)) {
				t.Fatalf("weight %s decoded as %d, want an error", s, d.Rules[0].Targets.Options[0].Weight)
			}
		case want != nil && err != nil:
			t.Fatalf("weight %s: %v, want %v", s, err, want)
		case want != nil && d.Rules[0].Targets.Options[0].Weight != want.Int64():
			t.Fatalf("weight %s decoded as %d, want %v", s, d.Rules[0].Targets.Options[0].Weight, want)
		}
	})
}

// exponentBelow reports whether the JSON number s has an exponent whose
// absolute value is below limit, so that math/big can handle it quickly.
func exponentBelow(s string, limit int) bool {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return true
	}
	e, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(s[i+1:], "+")))
	return err == nil && e > -limit && e < limit
}
