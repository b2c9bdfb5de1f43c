// Command canary shows a canary rollout with stickiness: 10,000 sessions
// from 2,000 users through a 90/10 split, then the split moves to 50/50.
// Pinned users keep their agent; new users follow the new weights; and the
// ramp-safe split moves only the keys it must.
//
//	go run ./examples/canary
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage/memstore"
)

const (
	users    = 2000
	sessions = 10000
)

func split(v1, v2 int64) policy.Document {
	return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{
		Type:        policy.TargetWeighted,
		PartitionBy: "get('$.session.metadata.user_id')",
		Options:     []policy.Option{{AgentKey: "stable", Weight: v1}, {AgentKey: "canary", Weight: v2}},
	}}}}
}

func main() {
	ctx := context.Background()
	noop := agentalias.AgentFunc(func(context.Context, *agentalias.Turn) error { return nil })
	r, err := agentalias.New(memstore.New(), &agentalias.Options{
		Agents: map[string]agentalias.Agent{"stable": noop, "canary": noop},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	// Pin each user to the agent first chosen for them, for a day.
	sticky := &policy.Stickiness{Key: "get('$.session.metadata.user_id')", TTLMinutes: 24 * 60}
	if _, err := r.CreateAlias(ctx, alias.Params{Key: "assistant", Name: "Assistant", Policy: split(90, 10), Stickiness: sticky}); err != nil {
		log.Fatal(err)
	}
	create := func(user string) string {
		s, err := r.CreateSession(ctx, agentalias.ViaAlias("assistant"), session.Params{
			Metadata: map[string]any{"user_id": user},
		})
		if err != nil {
			log.Fatal(err)
		}
		return s.AgentKey
	}

	first := map[string]string{} // user -> agent
	count := map[string]int{}
	for i := range sessions {
		user := fmt.Sprintf("user-%d", i%users)
		agent := create(user)
		if prev, ok := first[user]; ok && prev != agent {
			log.Fatalf("%s moved from %s to %s under a fixed policy", user, prev, agent)
		}
		first[user] = agent
		count[agent]++
	}
	fmt.Printf("90/10 split, %d sessions from %d users:\n", sessions, users)
	fmt.Printf("  stable %5d (%.1f%%)  canary %5d (%.1f%%)\n",
		count["stable"], pct(count["stable"], sessions), count["canary"], pct(count["canary"], sessions))

	// Ramp the canary to 50%.
	if _, err := r.ReplacePolicy(ctx, "assistant", split(50, 50), sticky); err != nil {
		log.Fatal(err)
	}
	kept := 0
	for u := range users {
		user := fmt.Sprintf("user-%d", u)
		if create(user) == first[user] {
			kept++
		}
	}
	fmt.Printf("after moving to 50/50:\n")
	fmt.Printf("  returning users who kept their agent: %d of %d (%.1f%%), thanks to their pins\n", kept, users, pct(kept, users))

	fresh := map[string]int{}
	for u := range users {
		fresh[create(fmt.Sprintf("new-user-%d", u))]++
	}
	fmt.Printf("  new users: stable %d (%.1f%%)  canary %d (%.1f%%)\n",
		fresh["stable"], pct(fresh["stable"], users), fresh["canary"], pct(fresh["canary"], users))

	// Without pins, the weighted split alone is ramp-safe: raising the
	// canary's weight moves keys only into the canary.
	bare, err := policy.Compile(ptr(split(50, 50)), nil)
	if err != nil {
		log.Fatal(err)
	}
	moved, wrong := 0, 0
	for user, agent := range first {
		d, err := bare.Choose(ctx, requestFor(user))
		if err != nil {
			log.Fatal(err)
		}
		if d.AgentKey != agent {
			moved++
			if d.AgentKey != "canary" {
				wrong++
			}
		}
	}
	fmt.Printf("without stickiness, 50/50 would move %d of %d users (%.1f%%), all of them to the canary (%d elsewhere)\n",
		moved, users, pct(moved, users), wrong)
}

func pct(n, of int) float64 { return 100 * float64(n) / float64(of) }

func ptr[T any](v T) *T { return &v }
