package policy_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sort"
	"time"

	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
)

func Example() {
	doc, err := policy.Parse([]byte(`{
	  "type": "routed",
	  "rules": [
	    {"match": "get('$.session.metadata.tenant') == 'acme'",
	     "targets": {"type": "single", "agent_key": "support-acme"}},
	    {"targets": {"type": "weighted", "partition_by": "get('$.session.key')",
	     "options": [{"agent_key": "support-v1", "weight": 90},
	                 {"agent_key": "support-v2", "weight": 10}]}}
	  ]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(doc.AgentKeys())
	b, _ := doc.MarshalJSON()
	fmt.Println(string(b))
	// Output:
	// [support-acme support-v1 support-v2]
	// {"type":"routed","rules":[{"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"support-acme"}},{"targets":{"type":"weighted","partition_by":"get('$.session.key')","options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}
}

func ExampleDocument_Validate() {
	doc := &policy.Document{
		Type: policy.TypeRouted,
		Rules: []policy.Rule{
			{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "support-v1"}},
			{Match: "get('$.session.metadata.tier') == 'gold'", Targets: policy.Targets{
				Type:    policy.TargetWeighted,
				Options: []policy.Option{{AgentKey: "gold", Weight: 0}},
			}},
		},
	}
	err := doc.Validate()
	var fe interface{ FieldErrors() map[string]string }
	if errors.As(err, &fe) {
		m := fe.FieldErrors()
		paths := make([]string, 0, len(m))
		for p := range m {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Printf("%s: %s\n", p, m[p])
		}
	}
	// Output:
	// rules[1]: unreachable: rule follows the catch-all rule rules[0]
	// rules[1].targets.options: at least one weight must be greater than 0
	// rules[1].targets.partition_by: is required
}

func ExampleParse_error() {
	_, err := policy.Parse([]byte(`{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.key')","options":[{"agent_key":"a","weight":"90"}]}}]}`))
	fmt.Println(err)
	// Output:
	// rules[0].targets.options[0].weight: must be an integer
}

// ExampleCompile compiles the contract's canary policy and resolves two
// sessions, printing each decision's explanation.
func ExampleCompile() {
	doc, err := policy.Parse([]byte(`{"type":"routed","rules":[
	  {"match":"get('$.session.metadata.tenant') == 'acme'",
	   "targets":{"type":"single","agent_key":"support-acme"}},
	  {"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id', '')",
	   "options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	p, err := policy.Compile(doc, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, md := range []map[string]any{
		{"tenant": "acme"},
		{"tenant": "globex", "user_id": "u-42"},
	} {
		req := &policy.Request{Input: expr.Input{Session: expr.Object{Key: "s", Metadata: md}}}
		d, err := p.Choose(context.Background(), req)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(d)
	}
	// Output:
	// agent support-acme via rule: rules[0] matched
	// agent support-v1 via rule: rules[0] false, rules[1] matched; weighted on 'u-42' chose option 0
}

// ExampleFallback shows a primary/fallback target skipping an agent that is
// down, and failing rather than picking a down agent.
func ExampleFallback() {
	f, err := policy.NewFallback([]string{"primary", "secondary"})
	if err != nil {
		log.Fatal(err)
	}
	down := map[string]bool{"primary": true}
	req := &policy.Request{Available: func(agent string) bool { return !down[agent] }}
	d, err := f.Choose(context.Background(), req)
	fmt.Println(d.AgentKey, d.Via, err)

	down["secondary"] = true
	_, err = f.Choose(context.Background(), req)
	fmt.Println(errors.Is(err, policy.ErrUnavailable))
	// Output:
	// secondary fallback <nil>
	// true
}

// ExampleFunc plugs a host's own Go policy into a routed policy as the
// target of a rule.
func ExampleFunc() {
	byHour := policy.Func(func(ctx context.Context, req *policy.Request) (policy.Decision, error) {
		if req.Now.Hour() < 12 {
			return policy.Decision{AgentKey: "morning", Rule: -1, Option: -1}, nil
		}
		return policy.Decision{AgentKey: "afternoon", Rule: -1, Option: -1}, nil
	})
	p, err := policy.NewRouted([]policy.Case{
		{Match: expr.MustCompile("get('$.session.metadata.vip') == true"), Target: &policy.Single{AgentKey: "vip"}},
		{Target: byHour},
	})
	if err != nil {
		log.Fatal(err)
	}
	req := &policy.Request{Now: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
	d, _ := p.Choose(context.Background(), req)
	fmt.Println(d.AgentKey, d.Rule)
	// Output: morning 1
}
