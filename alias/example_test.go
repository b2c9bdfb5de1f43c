package alias_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
)

func ExamplePatch_UnmarshalJSON() {
	// Absent fields stay unchanged; null clears description and metadata.
	var p alias.Patch
	if err := json.Unmarshal([]byte(`{"enabled":false,"description":null}`), &p); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name == nil, *p.Description == "", *p.Enabled, p.Metadata == nil)

	// null for name is an error naming the field.
	err := json.Unmarshal([]byte(`{"name":null,"key":"other"}`), &p)
	var fe interface{ FieldErrors() map[string]string }
	if errors.As(err, &fe) {
		m := fe.FieldErrors()
		fmt.Println("key:", m["key"])
		fmt.Println("name:", m["name"])
	}
	// Output:
	// true true false true
	// key: unknown field
	// name: must not be null
}

func ExamplePatch_Apply() {
	a := &alias.Alias{
		Key:  "support",
		Name: "Customer Support",
		Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "support-v1"}},
		}},
		Enabled:   true,
		Metadata:  map[string]any{"region": "us", "tier": "gold"},
		CreatedAt: time.Date(2026, 6, 2, 10, 35, 0, 0, time.UTC),
	}
	var p alias.Patch
	if err := json.Unmarshal([]byte(`{"metadata":{"region":"eu"}}`), &p); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(p.Apply(a, time.Date(2026, 6, 3, 8, 0, 0, 0, time.UTC)))
	fmt.Println(string(b))
	// Output:
	// {"key":"support","name":"Customer Support","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]},"enabled":true,"metadata":{"region":"eu"},"created_at":"2026-06-02T10:35:00Z","updated_at":"2026-06-03T08:00:00Z"}
}
