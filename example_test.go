package agentalias_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sort"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/memstore"
)

// Example validates an alias with a 90/10 canary policy, stores it in the
// in-memory store, and finds it again by one of its agents. It is the
// README's quick start.
func Example() {
	ctx := context.Background()
	store := memstore.New()
	defer store.Close()

	pol, err := policy.Parse([]byte(`{
	  "type": "routed",
	  "rules": [
	    {"match": "get('$.session.metadata.tenant') == 'acme'",
	     "targets": {"type": "single", "agent_key": "support-acme"}},
	    {"targets": {"type": "weighted",
	                 "partition_by": "get('$.session.metadata.user_id', '')",
	                 "options": [{"agent_key": "support-v1", "weight": 90},
	                             {"agent_key": "support-v2", "weight": 10}]}}
	  ]}`))
	if err != nil {
		log.Fatal(err)
	}

	a := &alias.Alias{
		Key:       "support",
		Name:      "Customer Support",
		Policy:    *pol,
		Enabled:   true,
		CreatedAt: time.Now(),
	}
	if err := a.Validate(); err != nil {
		log.Fatal(err) // every problem, each with its JSON path
	}
	if _, err := store.CreateAlias(ctx, "", a); err != nil {
		log.Fatal(err)
	}

	page, err := store.ListAliases(ctx, "", storage.AliasQuery{AgentKey: "support-v2"})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range page.Items {
		fmt.Println(a.Key, a.Policy.AgentKeys())
	}
	// Output: support [support-acme support-v1 support-v2]
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
