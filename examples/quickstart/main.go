// Command quickstart is the shortest complete program: an in-memory router
// with two agents, an alias that canaries the second to 10% of users, a few
// sessions created through the alias, and one conversation turn.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage/memstore"
)

func main() {
	ctx := context.Background()

	// Your agents: anything with a Run method. These answer with their name.
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

	// One stable name, two agents behind it: 90/10 by user.
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

	// Sessions are routed once, at creation.
	for _, user := range []string{"u-1", "u-5", "u-42"} {
		s, err := r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{
			Name:     "chat with " + user,
			Metadata: map[string]any{"user_id": user},
		})
		if err != nil {
			log.Fatal(err)
		}
		resp, err := r.Submit(ctx, agentalias.ViaAlias("support"), s.Key, agentalias.Input{
			Messages: []event.Input{event.Text("Hi!")},
		}, nil)
		if err != nil {
			log.Fatal(err)
		}
		last := resp.Events[len(resp.Events)-1]
		fmt.Printf("%-5s session %-28s -> %-10s says %q\n", user, s.Key, s.AgentKey, last.Content)
	}
}
