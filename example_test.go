package agentalias_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sort"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage/memstore"
)

// Example is the README's quick start: register two agents, create an alias
// that canaries the second to 10% of users, create a session through the
// alias, and talk to it.
func Example() {
	ctx := context.Background()

	// The host's agents: here, each one answers with its own name.
	echo := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
		return t.Reply("hello from " + t.Session.AgentKey)
	})
	r, err := agentalias.New(memstore.New(), &agentalias.Options{
		Agents: map[string]agentalias.Agent{"support-v1": echo, "support-v2": echo},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	// A stable public name with a 90/10 split by user.
	pol, err := policy.Parse([]byte(`{"type": "routed", "rules": [{"targets": {
	  "type": "weighted", "partition_by": "get('$.session.metadata.user_id', '')",
	  "options": [{"agent_key": "support-v1", "weight": 90},
	              {"agent_key": "support-v2", "weight": 10}]}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := r.CreateAlias(ctx, alias.Params{Key: "support", Name: "Customer Support", Policy: *pol}); err != nil {
		log.Fatal(err)
	}

	// The policy picks the agent once, when the session is created.
	s, err := r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{
		Key:      "chat-1",
		Metadata: map[string]any{"user_id": "u-42"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("session", s.Key, "routed to", s.AgentKey)

	resp, err := r.Submit(ctx, agentalias.ViaAlias("support"), s.Key, agentalias.Input{
		Messages: []event.Input{event.Text("Hi!")},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range resp.Events {
		fmt.Println(ev.Type, ev.Content+textOf(ev))
	}
	// Output:
	// session chat-1 routed to support-v1
	// input_message Hi!
	// agent_output hello from support-v1
}

func textOf(ev *event.Event) string {
	if ev.Type == event.InputMessage && len(ev.Messages) > 0 {
		return ev.Messages[0].Content
	}
	return ""
}

// ExampleAliasRouter_CreateSession routes by the session's metadata: one
// tenant to its own agent, everyone else to the default.
func ExampleAliasRouter_CreateSession() {
	ctx := context.Background()
	noop := agentalias.AgentFunc(func(context.Context, *agentalias.Turn) error { return nil })
	r, err := agentalias.New(memstore.New(), &agentalias.Options{
		Agents: map[string]agentalias.Agent{"support-acme": noop, "support-v1": noop},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	pol, err := policy.Parse([]byte(`{"type":"routed","rules":[
	  {"match":"get('$.session.metadata.tenant') == 'acme'","targets":{"type":"single","agent_key":"support-acme"}},
	  {"targets":{"type":"single","agent_key":"support-v1"}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := r.CreateAlias(ctx, alias.Params{Key: "support", Name: "Support", Policy: *pol}); err != nil {
		log.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		s, err := r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{
			Key: "chat-" + tenant, Metadata: map[string]any{"tenant": tenant},
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(s.Key, "->", s.AgentKey)
	}
	// Output:
	// chat-acme -> support-acme
	// chat-globex -> support-v1
}

// ExampleAliasRouter_ReplacePolicy moves an alias to a new agent. Sessions
// created before keep their agent; new ones use the new policy.
func ExampleAliasRouter_ReplacePolicy() {
	ctx := context.Background()
	noop := agentalias.AgentFunc(func(context.Context, *agentalias.Turn) error { return nil })
	r, err := agentalias.New(memstore.New(), &agentalias.Options{
		Agents: map[string]agentalias.Agent{"v1": noop, "v2": noop},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	single := func(agent string) policy.Document {
		return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: agent}}}}
	}
	if _, err := r.CreateAlias(ctx, alias.Params{Key: "bot", Name: "Bot", Policy: single("v1")}); err != nil {
		log.Fatal(err)
	}
	before, _ := r.CreateSession(ctx, agentalias.ViaAlias("bot"), session.Params{Key: "before"})
	if _, err := r.ReplacePolicy(ctx, "bot", single("v2"), nil); err != nil {
		log.Fatal(err)
	}
	after, _ := r.CreateSession(ctx, agentalias.ViaAlias("bot"), session.Params{Key: "after"})
	before, _ = r.Session(ctx, agentalias.ViaAlias("bot"), before.Key)
	fmt.Println(before.Key, before.AgentKey)
	fmt.Println(after.Key, after.AgentKey)

	// A policy naming an agent the router does not know is refused whole.
	_, err = r.ReplacePolicy(ctx, "bot", single("v9"), nil)
	fmt.Println(agentalias.ErrorCode(err), agentalias.ErrorMessage(err))
	// Output:
	// before v1
	// after v2
	// invalid Alias references unknown agent(s): [v9]
}

// ExampleAliasRouter_Tenant shows tenant views: each tenant sees only its own
// aliases and sessions.
func ExampleAliasRouter_Tenant() {
	ctx := context.Background()
	noop := agentalias.AgentFunc(func(context.Context, *agentalias.Turn) error { return nil })
	r, err := agentalias.New(memstore.New(), &agentalias.Options{Agents: map[string]agentalias.Agent{"v1": noop}})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	pol := policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
		{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "v1"}}}}
	acme, globex := r.Tenant("acme"), r.Tenant("globex")
	if _, err := acme.CreateAlias(ctx, alias.Params{Key: "support", Name: "Acme support", Policy: pol}); err != nil {
		log.Fatal(err)
	}
	_, err = globex.Alias(ctx, "support")
	fmt.Println(errors.Is(err, agentalias.ErrNotFound))
	a, _ := acme.Alias(ctx, "support")
	fmt.Println(a.Name)
	// Output:
	// true
	// Acme support
}

// Example_invalid shows how invalid input is reported: every problem at
// once, each under the JSON path of its field.
func Example_invalid() {
	_, err := policy.Parse([]byte(`{"type":"routed","rules":[
	  {"targets":{"type":"single","agent_key":"a"}},
	  {"match":"true","targets":{"type":"weighted","partition_by":"get('$.session.key')",
	   "options":[{"agent_key":"b","weight":-1}]}}]}`))
	var fe interface{ FieldErrors() map[string]string }
	if errors.As(err, &fe) {
		for _, path := range sortedKeys(fe.FieldErrors()) {
			fmt.Printf("%s: %s\n", path, fe.FieldErrors()[path])
		}
	}
	// Output:
	// rules[1]: unreachable: rule follows the catch-all rule rules[0]
	// rules[1].targets.options: at least one weight must be greater than 0
	// rules[1].targets.options[0].weight: must be at least 0
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
