package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/pgstore"
)

// The tests in this file run several AliasRouters on one database, each
// with a store of its own that owns its own connection pool, as replicas of
// a host service would.

// replicas opens n stores on one fresh schema, each with its own pool, and
// a router over each.
func replicas(t *testing.T, n int) ([]*agentalias.AliasRouter, []*pgstore.Store) {
	t.Helper()
	dsn, schema := testDSN(t), newSchema(t)
	echo := agentalias.AgentFunc(func(ctx context.Context, turn *agentalias.Turn) error {
		return turn.Reply("hello")
	})
	var routers []*agentalias.AliasRouter
	var stores []*pgstore.Store
	for range n {
		st, err := pgstore.Open(context.Background(), dsn, &pgstore.Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		r, err := agentalias.New(st, &agentalias.Options{
			Agents:        map[string]agentalias.Agent{"v1": echo, "v2": echo, "v3": echo},
			SweepInterval: -1,
			InterruptPoll: 20 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		routers = append(routers, r)
		stores = append(stores, st)
	}
	return routers, stores
}

func single(agent string) policy.Document {
	return policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
		{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: agent}},
	}}
}

// TestRouters_StickyKeys creates the first sessions of many users at once
// through three routers, with a 50/50 split by session key and stickiness
// by user: every user's sessions must land on one agent, the one its pin
// names, whichever router created them.
func TestRouters_StickyKeys(t *testing.T) {
	ctx := context.Background()
	routers, stores := replicas(t, 3)
	doc := policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
		{Targets: policy.Targets{Type: policy.TargetWeighted, PartitionBy: "get('$.session.key')",
			Options: []policy.Option{{AgentKey: "v1", Weight: 50}, {AgentKey: "v2", Weight: 50}}}},
	}}
	_, err := routers[0].CreateAlias(ctx, alias.Params{Key: "canary", Name: "canary", Policy: doc,
		Stickiness: &policy.Stickiness{Key: "get('$.session.metadata.user')", TTLMinutes: 60}})
	if err != nil {
		t.Fatal(err)
	}
	const users, perUser = 30, 6
	got := make([][]string, users)
	for u := range users {
		got[u] = make([]string, perUser)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range perUser {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := routers[i%len(routers)]
				s, err := r.CreateSession(ctx, agentalias.ViaAlias("canary"), session.Params{
					Key: fmt.Sprintf("u%d-s%d", u, i), Metadata: map[string]any{"user": fmt.Sprint(u)}})
				if err != nil {
					t.Errorf("user %d session %d: %v", u, i, err)
					return
				}
				got[u][i] = s.AgentKey
			}()
		}
		close(start)
		wg.Wait()
	}
	agentsUsed := map[string]bool{}
	for u := range users {
		pin, err := stores[u%len(stores)].Pin(ctx, "", "canary", fmt.Sprint(u))
		if err != nil {
			t.Errorf("user %d: no pin: %v", u, err)
			continue
		}
		agentsUsed[pin.AgentKey] = true
		for i, a := range got[u] {
			if a != pin.AgentKey {
				t.Errorf("user %d session %d went to %s; the user is pinned to %s", u, i, a, pin.AgentKey)
			}
		}
		// What the routers returned is what the database holds.
		for i := range perUser {
			s, err := routers[(i+1)%len(routers)].Session(ctx, agentalias.ViaAlias("canary"), fmt.Sprintf("u%d-s%d", u, i))
			if err != nil || s.AgentKey != pin.AgentKey {
				t.Errorf("user %d session %d as stored: %v, %v; want agent %s", u, i, s, err, pin.AgentKey)
			}
		}
	}
	if len(agentsUsed) != 2 {
		t.Errorf("users were pinned to %v; want both agents used", agentsUsed)
	}
}

// TestRouters_PolicyReplaced replaces a policy through one router and
// creates the next session through another: it must follow the new policy.
func TestRouters_PolicyReplaced(t *testing.T) {
	ctx := context.Background()
	routers, _ := replicas(t, 2)
	a, b := routers[0], routers[1]
	if _, err := a.CreateAlias(ctx, alias.Params{Key: "support", Name: "support", Policy: single("v1")}); err != nil {
		t.Fatal(err)
	}
	agents := []string{"v1", "v2", "v3"}
	for i := range 12 {
		// Alternate which router replaces and which creates.
		writer, reader := a, b
		if i%2 == 1 {
			writer, reader = b, a
		}
		want := agents[i%len(agents)]
		if _, err := writer.ReplacePolicy(ctx, "support", single(want), nil); err != nil {
			t.Fatalf("round %d: ReplacePolicy: %v", i, err)
		}
		s, err := reader.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{Key: fmt.Sprintf("s%d", i)})
		if err != nil {
			t.Fatalf("round %d: CreateSession: %v", i, err)
		}
		if s.AgentKey != want {
			t.Errorf("round %d: session created through the other router went to %s; the policy now names %s", i, s.AgentKey, want)
		}
	}
}

// TestRouters_DeleteAliasRace deletes an alias through one router while
// other routers create sessions through it, many rounds over. In every
// round either the deletion wins, and then no session was created through
// the alias, or a session wins, and then the deletion is refused and the
// alias is still there.
func TestRouters_DeleteAliasRace(t *testing.T) {
	ctx := context.Background()
	routers, stores := replicas(t, 3)
	deleter, creators := routers[0], routers[1:]
	const rounds, perCreator = 40, 3
	deleted := 0
	for round := range rounds {
		key := fmt.Sprintf("doomed-%d", round)
		if _, err := deleter.CreateAlias(ctx, alias.Params{Key: key, Name: key, Policy: single("v1")}); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var created []string
		var deleteErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			deleteErr = deleter.DeleteAlias(ctx, key)
		}()
		for c, r := range creators {
			for i := range perCreator {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					sk := fmt.Sprintf("r%d-c%d-s%d", round, c, i)
					_, err := r.CreateSession(ctx, agentalias.ViaAlias(key), session.Params{Key: sk})
					switch {
					case err == nil:
						mu.Lock()
						created = append(created, sk)
						mu.Unlock()
					case agentalias.ErrorCode(err) != agentalias.NotFound:
						t.Errorf("round %d: CreateSession: %v, want success or NotFound", round, err)
					}
				}()
			}
		}
		close(start)
		wg.Wait()

		stored := sessionsOf(t, stores[round%len(stores)], key)
		_, aliasErr := stores[0].Alias(ctx, "", key)
		switch {
		case deleteErr == nil:
			deleted++
			if len(created) != 0 || len(stored) != 0 {
				t.Errorf("round %d: the alias was deleted, yet sessions %v were created through it (stored: %v)", round, created, stored)
			}
			if !errors.Is(aliasErr, storage.ErrNotFound) {
				t.Errorf("round %d: the alias was deleted but reads back: %v", round, aliasErr)
			}
		case agentalias.ErrorCode(deleteErr) == agentalias.Conflict:
			if len(created) == 0 {
				t.Errorf("round %d: the deletion was refused, but no session was created", round)
			}
			if aliasErr != nil {
				t.Errorf("round %d: the deletion was refused, but the alias is gone: %v", round, aliasErr)
			}
		default:
			t.Errorf("round %d: DeleteAlias: %v, want nil or Conflict", round, deleteErr)
		}
		// Every acknowledged session is stored, and nothing else.
		if !slices.Equal(slices.Sorted(slices.Values(created)), slices.Sorted(slices.Values(stored))) {
			t.Errorf("round %d: created %v, stored %v", round, slices.Sorted(slices.Values(created)), slices.Sorted(slices.Values(stored)))
		}
	}
	t.Logf("the deletion won %d of %d rounds", deleted, rounds)
}

// TestRouters_Turns sends inputs to one session from many goroutines
// through three routers: no two turns overlap, inputs refused while a turn
// runs are Conflict and store nothing, and each turn stores exactly its
// input and its reply.
func TestRouters_Turns(t *testing.T) {
	ctx := context.Background()
	routers, stores := replicas(t, 3)
	if _, err := routers[0].CreateSession(ctx, agentalias.ViaAgent("v1"), session.Params{Key: "s1"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	running, overlaps, turns := 0, 0, 0
	slow := agentalias.AgentFunc(func(ctx context.Context, turn *agentalias.Turn) error {
		mu.Lock()
		running++
		if running > 1 {
			overlaps++
		}
		turns++
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return turn.Reply("ok")
	})
	for _, r := range routers {
		if err := r.RegisterAgent("v1", slow); err != nil {
			t.Fatal(err)
		}
	}
	in := agentalias.Input{Messages: []event.Input{event.Text("hi")}}
	var wg sync.WaitGroup
	for g := range 9 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 8 {
				_, err := routers[g%3].Submit(ctx, agentalias.ViaAgent("v1"), "s1", in, nil)
				if err != nil && agentalias.ErrorCode(err) != agentalias.Conflict {
					t.Errorf("Submit: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if overlaps != 0 || turns == 0 {
		t.Errorf("%d turns, %d of them overlapping another; want some, none overlapping", turns, overlaps)
	}
	page, err := stores[1].ListEvents(ctx, "", "s1", storage.EventQuery{Limit: storage.MaxLimit, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2*turns {
		t.Errorf("%d events stored for %d turns; want %d", len(page.Items), turns, 2*turns)
	}
	s, err := stores[2].Session(ctx, "", "s1")
	if err != nil || s.Status != session.Stopped {
		t.Errorf("session after the turns: %+v, %v; want stopped", s, err)
	}
}

// TestRouters_Interrupt interrupts, through one router, a turn another
// router runs: the turn ends with session_interrupted, and the interrupt
// returns once it has.
func TestRouters_Interrupt(t *testing.T) {
	ctx := context.Background()
	routers, stores := replicas(t, 2)
	started := make(chan struct{}, 1)
	waiter := agentalias.AgentFunc(func(ctx context.Context, turn *agentalias.Turn) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	if err := routers[0].RegisterAgent("waiter", waiter); err != nil {
		t.Fatal(err)
	}
	if _, err := routers[0].CreateSession(ctx, agentalias.ViaAgent("waiter"), session.Params{Key: "s1"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan *agentalias.Response, 1)
	go func() {
		resp, err := routers[0].Submit(ctx, agentalias.ViaAgent("waiter"), "s1", agentalias.Input{Messages: []event.Input{event.Text("hi")}}, nil)
		if err != nil {
			t.Errorf("the interrupted turn: %v", err)
		}
		done <- resp
	}()
	<-started
	// The second router does not know the agent: interrupting needs none.
	if _, err := routers[1].Submit(ctx, agentalias.ViaAgent("waiter"), "s1", agentalias.Input{Type: agentalias.InputInterrupt}, nil); err != nil {
		t.Fatalf("interrupt through the other router: %v", err)
	}
	if s, err := stores[1].Session(ctx, "", "s1"); err != nil || s.Status != session.Stopped {
		t.Errorf("session when the interrupt returned: %+v, %v; want stopped", s, err)
	}
	select {
	case resp := <-done:
		if resp == nil || len(resp.Events) == 0 || resp.Events[len(resp.Events)-1].Type != event.SessionInterrupted {
			t.Errorf("the turn ended with %+v; want session_interrupted last", resp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the turn was not interrupted")
	}
}

// TestRouters_SubmitUnderDeadlines sends inputs with deadlines that run out
// at every point of a turn: none leaves the session claimed.
func TestRouters_SubmitUnderDeadlines(t *testing.T) {
	ctx := context.Background()
	routers, stores := replicas(t, 1)
	r, st := routers[0], stores[0]
	if _, err := r.CreateSession(ctx, agentalias.ViaAgent("v1"), session.Params{Key: "s1"}); err != nil {
		t.Fatal(err)
	}
	in := agentalias.Input{Messages: []event.Input{event.Text("hi")}}
	failed := 0
	for i := range 400 {
		c, cancel := context.WithTimeout(ctx, time.Duration(i%40)*100*time.Microsecond)
		_, err := r.Submit(c, agentalias.ViaAgent("v1"), "s1", in, nil)
		cancel()
		if err == nil {
			continue
		}
		failed++
		s, err := st.Session(ctx, "", "s1")
		if err != nil {
			t.Fatal(err)
		}
		if s.Status == session.Running {
			t.Fatalf("input %d failed and left the session claimed until %v", i, s.TurnDeadline)
		}
	}
	if failed == 0 {
		t.Error("no input ran out of time; the test checks nothing")
	}
	t.Logf("%d of 400 inputs ran out of time", failed)
}

// sessionsOf lists the keys of the sessions created through an alias.
func sessionsOf(t *testing.T, st storage.Storage, aliasKey string) []string {
	t.Helper()
	var keys []string
	q := storage.SessionQuery{AliasKey: aliasKey, Limit: storage.MaxLimit}
	for {
		page, err := st.ListSessions(context.Background(), "", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Items {
			keys = append(keys, s.Key)
		}
		if page.Next == "" {
			return keys
		}
		q.PageKey = page.Next
	}
}
