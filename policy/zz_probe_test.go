package policy_test

import (
	"context"
	"testing"

	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
)

func TestZZProbe(t *testing.T) {
	doc, err := policy.Parse([]byte(`{"type":"routed","rules":[{"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"support-acme"}},{"targets":{"type":"weighted","partition_by":"get('$.session.metadata.user_id', '')","options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := doc.Compile()
	if err != nil {
		t.Fatal(err)
	}
	req := &policy.Request{Input: expr.Input{Session: expr.Object{Metadata: map[string]any{"tenant": "x", "user_id": "u-1"}}}}
	ctx := context.Background()
	n := testing.AllocsPerRun(100, func() { r.Choose(ctx, req) })
	t.Log("routed allocs", n)
	func() {
		defer func() { t.Log("recover:", recover()) }()
		_, err := policy.Compile(&policy.Document{}, &policy.Stickiness{Key: "get('$.session.key')"})
		t.Log(err)
	}()
}
