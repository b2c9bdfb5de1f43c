package main

import (
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
)

// requestFor is the routing request of a session of user, as the router
// builds it.
func requestFor(user string) *policy.Request {
	return &policy.Request{Input: expr.Input{Session: expr.Object{Metadata: map[string]any{"user_id": user}}}}
}
