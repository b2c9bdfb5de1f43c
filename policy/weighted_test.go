package policy_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
)

// Property tests of the weighted split (DESIGN.md, "Policies"): it follows
// the weights, is ramp-safe, ignores the order of the options and is
// deterministic. Keys are "user-0", "user-1", ..., hashed as the session key.

// distributionKeys is how many partition keys the distribution test uses.
const distributionKeys = 100_000

// rampKeys is how many keys the tests that compare two splits key by key use.
const rampKeys = 20_000

var userKeys = sync.OnceValue(func() []string {
	keys := make([]string, distributionKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	return keys
})

// agentName is the agent of option i in these tests.
func agentName(i int) string { return fmt.Sprintf("agent-%d", i) }

// optionsOf returns options agent-0, agent-1, ... with the given weights.
func optionsOf(weights ...int64) []policy.Option {
	opts := make([]policy.Option, len(weights))
	for i, w := range weights {
		opts[i] = policy.Option{AgentKey: agentName(i), Weight: w}
	}
	return opts
}

// newSplit returns a weighted target over opts partitioned by the session key.
func newSplit(tb testing.TB, opts []policy.Option) *policy.Weighted {
	tb.Helper()
	w, err := policy.NewWeighted(expr.MustCompile("get('$.session.key')"), opts)
	if err != nil {
		tb.Fatalf("NewWeighted(%v): %v", opts, err)
	}
	return w
}

// assign returns the agent p picks for each key (as the session key), with
// the given availability. It checks that the decision is consistent.
func assign(tb testing.TB, p policy.Policy, keys []string, available func(string) bool) []string {
	tb.Helper()
	ctx := context.Background()
	req := &policy.Request{Available: available}
	agents := make([]string, len(keys))
	for i, k := range keys {
		req.Input.Session.Key = k
		d, err := p.Choose(ctx, req)
		if err != nil {
			tb.Fatalf("key %q: %v", k, err)
		}
		if d.AgentKey == "" || (available != nil && !available(d.AgentKey)) {
			tb.Fatalf("key %q: picked %q", k, d.AgentKey)
		}
		agents[i] = d.AgentKey
	}
	return agents
}

// randomWeights returns n weights between 1 and 100.
func randomWeights(r *rand.Rand, n int) []int64 {
	w := make([]int64, n)
	for i := range w {
		w[i] = 1 + r.Int64N(100)
	}
	return w
}

func TestWeighted_Distribution(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(2026, 6))
	tests := []struct {
		name string
		in   []int64 // weights
	}{
		{"90/10", []int64{90, 10}},
		{"50/30/20", []int64{50, 30, 20}},
		{"1/1/1/1", []int64{1, 1, 1, 1}},
		{"1/99", []int64{1, 99}},
		{"7/0/3", []int64{7, 0, 3}},
		{"Random10", randomWeights(r, 10)},
		{"Large", []int64{policy.MaxWeight, policy.MaxWeight / 3, 1000}},
		{"Single", []int64{5}},
	}
	keys := userKeys()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSplit(t, optionsOf(tt.in...))
			ctx := context.Background()
			req := &policy.Request{}
			counts := make([]int, len(tt.in))
			for _, k := range keys {
				req.Input.Session.Key = k
				d, err := w.Choose(ctx, req)
				if err != nil {
					t.Fatalf("key %q: %v", k, err)
				}
				if d.Option < 0 || d.Option >= len(tt.in) || d.AgentKey != agentName(d.Option) {
					t.Fatalf("key %q: option %d, agent %q", k, d.Option, d.AgentKey)
				}
				counts[d.Option]++
			}
			var sum int64
			for _, x := range tt.in {
				sum += x
			}
			for i, x := range tt.in {
				want := float64(x) / float64(sum)
				got := float64(counts[i]) / float64(len(keys))
				if math.Abs(got-want) > 0.01 {
					t.Errorf("option %d (weight %d of %d): share %.4f, want %.4f ± 0.01 (counts %v)", i, x, sum, got, want, counts)
				}
				if x == 0 && counts[i] != 0 {
					t.Errorf("option %d has weight 0 but got %d keys", i, counts[i])
				}
			}
		})
	}
}

// rampCase changes one option's weight from before to after.
type rampCase struct {
	name          string
	before, after []int64
	changed       int // the option whose weight changed
}

func rampCases() []rampCase {
	r := rand.New(rand.NewPCG(7, 11))
	var cases []rampCase
	for _, n := range []int{2, 3, 5, 10} {
		base := randomWeights(r, n)
		changed := []int{}
		for i := range n {
			if n <= 5 || i == 0 || i == n/2 || i == n-1 {
				changed = append(changed, i)
			}
		}
		for _, i := range changed {
			with := func(w int64) []int64 {
				s := slices.Clone(base)
				s[i] = w
				return s
			}
			cases = append(cases,
				rampCase{fmt.Sprintf("%d/Raise%d", n, i), base, with(base[i]*3 + 20), i},
				rampCase{fmt.Sprintf("%d/Lower%d", n, i), base, with(base[i] / 4), i},
				rampCase{fmt.Sprintf("%d/RaiseFromZero%d", n, i), with(0), with(base[i]), i},
				rampCase{fmt.Sprintf("%d/LowerToZero%d", n, i), base, with(0), i},
				rampCase{fmt.Sprintf("%d/NudgeUp%d", n, i), base, with(base[i] + 1), i},
			)
		}
	}
	// Canary ramps step by step, as an operator would.
	for _, step := range [][2]int64{{0, 1}, {1, 5}, {5, 10}, {10, 50}, {50, 100}} {
		cases = append(cases, rampCase{fmt.Sprintf("Canary%dTo%d", step[0], step[1]),
			[]int64{100, step[0]}, []int64{100, step[1]}, 1})
	}
	return cases
}

// TestWeighted_RampSafety checks that changing one option's weight moves
// keys only into that option (raise) or only out of it (lower).
func TestWeighted_RampSafety(t *testing.T) {
	t.Parallel()
	keys := userKeys()[:rampKeys]
	// Most cases start from the same weights: assign each set once.
	memo := map[string][]string{}
	split := func(t *testing.T, weights []int64) []string {
		id := fmt.Sprint(weights)
		if a, ok := memo[id]; ok {
			return a
		}
		a := assign(t, newSplit(t, optionsOf(weights...)), keys, nil)
		memo[id] = a
		return a
	}
	for _, tt := range rampCases() {
		t.Run(tt.name, func(t *testing.T) {
			before := split(t, tt.before)
			after := split(t, tt.after)
			target := agentName(tt.changed)
			raised := tt.after[tt.changed] > tt.before[tt.changed]
			moved := 0
			for i := range keys {
				if before[i] == after[i] {
					continue
				}
				moved++
				if raised && after[i] != target {
					t.Fatalf("raising %s (%v -> %v) moved %s from %s to %s", target, tt.before, tt.after, keys[i], before[i], after[i])
				}
				if !raised && before[i] != target {
					t.Fatalf("lowering %s (%v -> %v) moved %s from %s to %s", target, tt.before, tt.after, keys[i], before[i], after[i])
				}
			}
			// A weight change of a tenth of the total or more must move keys.
			if share := math.Abs(weightShare(tt.after, tt.changed) - weightShare(tt.before, tt.changed)); share >= 0.1 && moved == 0 {
				t.Errorf("share of %s changed by %.2f but no key moved", target, share)
			}
			if tt.after[tt.changed] == 0 && slices.Contains(after, target) {
				t.Errorf("%s has weight 0 but still gets keys", target)
			}
		})
	}
}

// weightShare is option i's normalised weight.
func weightShare(weights []int64, i int) float64 {
	var sum int64
	for _, w := range weights {
		sum += w
	}
	return float64(weights[i]) / float64(sum)
}

// TestWeighted_RemoveAdd checks that removing an option moves only its keys,
// and adding one moves keys only into it.
func TestWeighted_RemoveAdd(t *testing.T) {
	t.Parallel()
	keys := userKeys()[:rampKeys]
	r := rand.New(rand.NewPCG(3, 5))
	for _, n := range []int{2, 3, 5, 10} {
		opts := optionsOf(randomWeights(r, n)...)
		all := assign(t, newSplit(t, opts), keys, nil)
		for i := range n {
			if n == 10 && i%3 != 0 {
				continue
			}
			removed := opts[i].AgentKey
			fewer := slices.Delete(slices.Clone(opts), i, i+1)
			got := assign(t, newSplit(t, fewer), keys, nil)
			t.Run(fmt.Sprintf("%d/Remove%d", n, i), func(t *testing.T) {
				for k := range keys {
					if all[k] != removed && got[k] != all[k] {
						t.Fatalf("removing %s moved %s from %s to %s", removed, keys[k], all[k], got[k])
					}
				}
			})
			// Adding is removing backwards: from fewer to opts, keys move
			// only into the added option.
			t.Run(fmt.Sprintf("%d/Add%d", n, i), func(t *testing.T) {
				moved := 0
				for k := range keys {
					if got[k] != all[k] {
						moved++
						if all[k] != removed {
							t.Fatalf("adding %s moved %s from %s to %s", removed, keys[k], got[k], all[k])
						}
					}
				}
				if moved == 0 {
					t.Errorf("adding %s (weight %d) moved no key", removed, opts[i].Weight)
				}
			})
		}
	}
	t.Run("AddNewAgent", func(t *testing.T) {
		opts := optionsOf(50, 30, 20)
		before := assign(t, newSplit(t, opts), keys, nil)
		after := assign(t, newSplit(t, append(slices.Clone(opts), policy.Option{AgentKey: "canary", Weight: 10})), keys, nil)
		moved := 0
		for k := range keys {
			if before[k] != after[k] {
				moved++
				if after[k] != "canary" {
					t.Fatalf("adding canary moved %s from %s to %s", keys[k], before[k], after[k])
				}
			}
		}
		if share := float64(moved) / float64(len(keys)); math.Abs(share-10.0/110) > 0.015 {
			t.Errorf("canary got %.4f of the keys, want about %.4f", share, 10.0/110)
		}
	})
}

// TestWeighted_Unavailable checks that an unavailable option is skipped and
// the keys of the other options stay where they were.
func TestWeighted_Unavailable(t *testing.T) {
	keys := userKeys()[:rampKeys]
	tests := []struct {
		name string
		in   []int64 // weights
		down []int   // unavailable options
	}{
		{"2/Down0", []int64{90, 10}, []int{0}},
		{"2/Down1", []int64{90, 10}, []int{1}},
		{"3/Down1", []int64{50, 30, 20}, []int{1}},
		{"5/Down0And3", []int64{5, 10, 20, 30, 35}, []int{0, 3}},
		{"10/Down4", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []int{4}},
		{"ZeroWeightDown", []int64{3, 0, 1}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSplit(t, optionsOf(tt.in...))
			var down []string
			wantSkipped := 0
			for _, i := range tt.down {
				down = append(down, agentName(i))
				if tt.in[i] > 0 {
					wantSkipped++
				}
			}
			all := assign(t, w, keys, nil)
			got := assign(t, w, keys, except(down...))
			for k := range keys {
				if !slices.Contains(down, all[k]) && got[k] != all[k] {
					t.Fatalf("%s moved from %s to %s when %v went down", keys[k], all[k], got[k], down)
				}
			}
			req := &policy.Request{Available: except(down...)}
			req.Input.Session.Key = keys[0]
			d, err := w.Choose(context.Background(), req)
			if err != nil || d.Skipped != wantSkipped {
				t.Errorf("Skipped = %d (%v), want %d", d.Skipped, err, wantSkipped)
			}
		})
	}
	t.Run("AllDown", func(t *testing.T) {
		w := newSplit(t, optionsOf(1, 0, 2))
		req := &policy.Request{Available: only(agentName(1))}
		req.Input.Session.Key = "user-1"
		d, err := w.Choose(context.Background(), req)
		checkErr(t, err, policy.ErrUnavailable)
		want := outcome{Rule: -1, Target: policy.TargetWeighted, Partition: "'user-1'", Option: -1, Skipped: 2}
		if diff := cmp.Diff(want, explain(d)); diff != "" {
			t.Errorf("decision (-want +got):\n%s", diff)
		}
	})
}

// TestWeighted_OrderIndependence checks that permuting the options changes
// no key's agent.
func TestWeighted_OrderIndependence(t *testing.T) {
	t.Parallel()
	keys := userKeys()[:rampKeys]
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		in   []policy.Option
	}{
		{"90/10", optionsOf(90, 10)},
		{"50/30/20", optionsOf(50, 30, 20)},
		{"Equal", optionsOf(1, 1, 1, 1, 1)},
		{"Random10", optionsOf(randomWeights(r, 10)...)},
		{"WithZero", optionsOf(7, 0, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := assign(t, newSplit(t, tt.in), keys, nil)
			for range 4 {
				perm := slices.Clone(tt.in)
				r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
				got := assign(t, newSplit(t, perm), keys, nil)
				for k := range keys {
					if got[k] != want[k] {
						t.Fatalf("options %v: %s goes to %s, in order %v to %s", perm, keys[k], got[k], tt.in, want[k])
					}
				}
			}
			reversed := slices.Clone(tt.in)
			slices.Reverse(reversed)
			if diff := cmp.Diff(want, assign(t, newSplit(t, reversed), keys, nil)); diff != "" {
				t.Errorf("reversed options (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWeighted_Determinism checks that two separately compiled identical
// policies decide every key the same way, in every detail.
func TestWeighted_Determinism(t *testing.T) {
	const doc = `{"type":"routed","rules":[{"match":"get('$.session.metadata.tenant') == 'acme'","targets":` +
		`{"type":"weighted","partition_by":"get('$.session.metadata.tenant') + ':' + get('$.session.key')",` +
		`"options":[{"agent_key":"acme-1","weight":1},{"agent_key":"acme-2","weight":1}]}},` +
		`{"targets":{"type":"weighted","partition_by":"get('$.session.key')",` +
		`"options":[{"agent_key":"a","weight":5},{"agent_key":"b","weight":3},{"agent_key":"c","weight":2}]}}]}`
	p1, p2 := compileDoc(t, doc), compileDoc(t, doc)
	ctx := context.Background()
	for i, k := range userKeys()[:rampKeys] {
		in := expr.Input{Session: expr.Object{Key: k}}
		if i%2 == 0 {
			in.Session.Metadata = meta("tenant", "acme")
		}
		d1, err1 := p1.Choose(ctx, &policy.Request{Input: in})
		d2, err2 := p2.Choose(ctx, &policy.Request{Input: in})
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v, %v", k, err1, err2)
		}
		if diff := cmp.Diff(explain(d1), explain(d2)); diff != "" {
			t.Fatalf("%s (-first +second):\n%s", k, diff)
		}
	}
}

// TestWeighted_FloatOracle compares the split with an independent
// floating-point computation of weighted rendezvous hashing: the option
// with the smallest -log2(u)/weight wins, u = (Hash>>11 + 1) / 2^53.
func TestWeighted_FloatOracle(t *testing.T) {
	opts := []policy.Option{{AgentKey: "support-v1", Weight: 80}, {AgentKey: "support-v2", Weight: 15},
		{AgentKey: "support-v3", Weight: 5}, {AgentKey: "off", Weight: 0}, {AgentKey: "big", Weight: policy.MaxWeight / 100}}
	w := newSplit(t, opts)
	keys := slices.Clone(userKeys()[:rampKeys])
	keys = append(keys, "", "ünïcødé", strings.Repeat("long-", 60), strings.Repeat("z", 129))
	got := assign(t, w, keys, nil)
	ties := 0
	for i, k := range keys {
		best, second := math.Inf(1), math.Inf(1)
		want := ""
		for _, o := range opts {
			if o.Weight == 0 {
				continue
			}
			u := float64(policy.Hash([]byte(k), o.AgentKey)>>11+1) / (1 << 53)
			s := -math.Log2(u) / float64(o.Weight)
			switch {
			case s < best:
				best, second, want = s, best, o.AgentKey
			case s < second:
				second = s
			}
		}
		if second-best <= 1e-9*best {
			ties++ // too close for float64 to call
			continue
		}
		if got[i] != want {
			t.Errorf("%q: got %s, the float oracle says %s", k, got[i], want)
		}
	}
	if ties > 10 {
		t.Errorf("%d near ties: the oracle is not checking much", ties)
	}
}

// TestWeighted_PartitionString checks that values with the same partition
// string go to the same option, whatever their kind.
func TestWeighted_PartitionString(t *testing.T) {
	w, err := policy.NewWeighted(expr.MustCompile("get('$.session.metadata.p')"), optionsOf(1, 1, 1, 1, 1, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   any
		same any // a value of another kind with the same partition string
	}{
		{"Number", 42.0, "42"},
		{"NegativeZero", math.Copysign(0, -1), "0"},
		{"Fraction", 0.5, "0.5"},
		{"Bool", true, "true"},
		{"Array", []any{"a", 1.0}, `["a",1]`},
		{"Object", map[string]any{"b": 2.0, "a": 1.0}, `{"a":1,"b":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			choose := func(v any) outcome {
				d, err := w.Choose(context.Background(), &policy.Request{Input: sessionIn(meta("p", v))})
				if err != nil {
					t.Fatal(err)
				}
				o := explain(d)
				o.Partition = ""
				return o
			}
			if diff := cmp.Diff(choose(tt.same), choose(tt.in)); diff != "" {
				t.Errorf("%v and %q differ (-string +value):\n%s", tt.in, tt.same, diff)
			}
		})
	}
}

func TestNewWeighted(t *testing.T) {
	p := expr.MustCompile("get('$.session.key')")
	many := make([]int64, policy.MaxOptions+1)
	for i := range many {
		many[i] = 1
	}
	tests := []struct {
		name      string
		partition *expr.Expr
		in        []policy.Option
		want      bool // whether NewWeighted succeeds
	}{
		{"OK", p, optionsOf(1, 2), true},
		{"WithZero", p, optionsOf(0, 2), true},
		{"MaxWeight", p, optionsOf(policy.MaxWeight), true},
		{"MaxOptions", p, optionsOf(many[:policy.MaxOptions]...), true},
		{"NoPartition", nil, optionsOf(1), false},
		{"NoOptions", p, nil, false},
		{"TooManyOptions", p, optionsOf(many...), false},
		{"AllZero", p, optionsOf(0, 0), false},
		{"Negative", p, optionsOf(-1, 2), false},
		{"TooHeavy", p, optionsOf(policy.MaxWeight + 1), false},
		{"Duplicate", p, []policy.Option{{AgentKey: "a", Weight: 1}, {AgentKey: "a", Weight: 1}}, false},
		{"InvalidKey", p, []policy.Option{{AgentKey: "a/b", Weight: 1}}, false},
		{"EmptyKey", p, []policy.Option{{AgentKey: "", Weight: 1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := policy.NewWeighted(tt.partition, tt.in)
			if got := err == nil; got != tt.want {
				t.Fatalf("NewWeighted error = %v, want success %v", err, tt.want)
			}
			if err != nil {
				return
			}
			var want []string // the options it may pick: weight above 0
			for _, o := range tt.in {
				if o.Weight > 0 {
					want = append(want, o.AgentKey)
				}
			}
			// The target keeps its own copy of the options.
			tt.in[0].Weight = 0
			tt.in[0].AgentKey = "changed"
			if diff := cmp.Diff(want, w.Agents()); diff != "" {
				t.Errorf("Agents() (-want +got):\n%s", diff)
			}
		})
	}
}
