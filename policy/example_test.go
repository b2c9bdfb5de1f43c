package policy_test

import (
	"errors"
	"fmt"
	"sort"

	"github.com/agentalias/agentalias/policy"
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
