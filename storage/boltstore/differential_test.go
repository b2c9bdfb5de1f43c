package boltstore_test

// A randomised differential test: random operations run against a boltstore
// and against the in-memory model (storage/memstore), and every outcome of a
// write, every read taken while no write is in flight, and the final state of
// both stores must agree.
//
// Writes to one tenant are serialised by that tenant's mutex, held around
// "apply to bolt, then to the model", so both stores see a tenant's writes in
// the same order. Tenants are independent namespaces in both stores, so
// writes to different tenants run concurrently: their bolt writes meet in
// the group committer and share commits. Sweep, which spans tenants, takes
// every tenant's mutex. Most reads of the concurrent test run without any
// mutex, against bolt only, and check what always holds; the others take the
// tenant's mutex and must equal the model's answer exactly.
//
// Reproduce a run with AGENTALIAS_DIFF_SEED=<seed> (the seed is logged). The
// sequential test is then exactly reproducible; the concurrent one replays
// the same per-goroutine operation streams under a new interleaving.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/boltstore"
	"github.com/agentalias/agentalias/storage/memstore"
)

// ---- configuration -------------------------------------------------------

const (
	diffWorkers      = 8
	diffOpsPerWorker = 500 // 4000 operations in the concurrent test
	diffSeqOps       = 2000
	diffReopenOps    = 300 // operations after reopening, from one goroutine
	diffLockedReads  = 4   // one read in diffLockedReads is compared exactly in the concurrent test
	diffMaxFailures  = 10
	diffMaxPages     = 2000
)

var (
	diffBase = time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC)
	// diffFar is later than int64 nanoseconds since 1970 can hold.
	diffFar = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	// diffTenants ends with a tenant of MaxTenantLen bytes.
	diffTenants = []string{"", "acme", "acme-eu", "東京/eu", strings.Repeat("é", 127) + "x"}
	// diffBad is not valid UTF-8, so not a valid tenant.
	diffBad      = "\xffbad"
	diffAliases  = diffKeys("al-", 10)
	diffSessions = diffKeys("s-", 30)
	diffAgents   = []string{"ag-0", "ag-1", "ag-2", "ag-3"}
	diffArtIDs   = []string{"art_0", "art_1", "art_2", "art_3", "art_4", "art_5"}
	diffPinKeys  = []string{"u-1", "u-2", "\x00", "\xff\xfe bin\x00ary", "東京", strings.Repeat("k", storage.MaxPinKeyLen)}
	diffWords    = []string{"alpha", "Beta", "gamma", "東京", "naïve", "<b>&amp;</b>", `quote"back\slash`, "line\nbreak", "emoji 🎉", "nul\x00byte", "\u2028sep", ""}
	diffFloats   = []float64{0.1, -2.5, 1e21, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Copysign(0, -1), 1 << 53}
	diffMatches  = []string{"get('$.session.metadata.tier') == 'gold'", "get('$.session.metadata.beta', false)"}
	diffFilters  = []*regexp.Regexp{
		regexp.MustCompile(`^Alias al-0`), regexp.MustCompile(`東京`), regexp.MustCompile(`(?i)two`),
		regexp.MustCompile(`x$`), regexp.MustCompile(`s-1`), regexp.MustCompile(`about`),
	}
	diffNames = []string{"one", "Two", "東京", "x", "naïve"}

	// Events of every type, including the transient ones: a store does not
	// interpret types.
	diffEventTypes = []event.Type{
		event.InputMessage, event.SkillLoad, event.ArtifactUpload, event.ToolInput, event.ToolOutput,
		event.Thinking, event.AgentOutput, event.StructuredOutput, event.ContextLimitExceeded,
		event.StepTransitionLimitExceeded, event.SessionInterrupted, event.ClientToolPending,
		event.ImageRead, event.StepTransition, event.Compaction,
	}
)

var diffOpts = []cmp.Option{cmpopts.EquateEmpty()}

func diffKeys(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

func diffSeed(t *testing.T) uint64 {
	if s := os.Getenv("AGENTALIAS_DIFF_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("AGENTALIAS_DIFF_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// ---- the tests -----------------------------------------------------------

func TestDifferential(t *testing.T) {
	seed := diffSeed(t)
	t.Logf("seed %d (reproduce with AGENTALIAS_DIFF_SEED=%d)", seed, seed)
	h := newHarness(t, true)

	start := time.Now()
	workers := make([]*worker, diffWorkers)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = h.newWorker(seed, i, false)
		wg.Add(1)
		go func() {
			defer wg.Done()
			workers[i].run(diffOpsPerWorker)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	h.logStats(workers, elapsed)
	if t.Failed() {
		return
	}
	h.finish(seed)
}

func TestDifferential_Sequential(t *testing.T) {
	seed := diffSeed(t)
	t.Logf("seed %d (reproduce with AGENTALIAS_DIFF_SEED=%d)", seed, seed)
	h := newHarness(t, false)
	w := h.newWorker(seed, 0, true)
	start := time.Now()
	w.run(diffSeqOps)
	h.logStats([]*worker{w}, time.Since(start))
	if t.Failed() {
		return
	}
	h.finish(seed)
}

// finish compares the two stores, reopens the boltstore and compares again,
// runs more operations against the reopened store and compares once more.
func (h *harness) finish(seed uint64) {
	t := h.t
	h.compareAll("after the run")
	if t.Failed() {
		return
	}
	path := h.bolt.Path()
	if err := h.bolt.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := h.bolt.Alias(context.Background(), "", diffAliases[0]); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Alias after Close: %v, want ErrClosed", err)
	}
	st, err := boltstore.Open(path, &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	h.bolt = st
	h.compareAll("after reopening")
	if t.Failed() {
		return
	}
	h.concurrent = false
	w := h.newWorker(seed, 1000, true)
	w.run(diffReopenOps)
	if t.Failed() {
		return
	}
	h.compareAll("after more operations on the reopened store")
}

// ---- harness -------------------------------------------------------------

type harness struct {
	t          *testing.T
	bolt       *boltstore.Store
	mem        *memstore.Store
	concurrent bool

	clock    atomic.Int64 // milliseconds since diffBase
	evSeq    atomic.Int64 // for fresh event ids
	tenants  map[string]*tenantState
	order    []string // tenant names in locking order
	failures atomic.Int32
	stop     atomic.Bool
	canceled context.Context
}

// tenantState is what the test knows about a tenant's committed state, for
// the "existed throughout the list" check. Its mutex also serialises the
// tenant's writes.
type tenantState struct {
	mu       sync.Mutex
	aliasGen map[string]int // odd: the alias exists; bumped by each create and delete
	sess     map[string]sessTrack
}

type sessTrack struct {
	gen          int // odd: the session exists
	alias, agent string
}

type tenantSnap struct {
	aliasGen map[string]int
	sess     map[string]sessTrack
}

func newHarness(t *testing.T, concurrent bool) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := &harness{
		t:          t,
		bolt:       mustOpen(t, &boltstore.Options{NoSync: true}),
		mem:        memstore.New(),
		concurrent: concurrent,
		tenants:    map[string]*tenantState{},
		canceled:   ctx,
	}
	for _, name := range append(slices.Clone(diffTenants), diffBad) {
		h.tenants[name] = &tenantState{aliasGen: map[string]int{}, sess: map[string]sessTrack{}}
		h.order = append(h.order, name)
	}
	return h
}

func (h *harness) tick() time.Time {
	return diffBase.Add(time.Duration(h.clock.Add(1)) * time.Millisecond)
}

func (h *harness) now() time.Time {
	return diffBase.Add(time.Duration(h.clock.Load()) * time.Millisecond)
}

func (h *harness) lock(tenant string) func() {
	ts := h.tenants[tenant]
	ts.mu.Lock()
	return ts.mu.Unlock
}

func (h *harness) lockAll() func() {
	for _, name := range h.order {
		h.tenants[name].mu.Lock()
	}
	return func() {
		for _, name := range h.order {
			h.tenants[name].mu.Unlock()
		}
	}
}

// snap copies what the test knows of tenant; the caller must not hold its
// lock.
func (h *harness) snap(tenant string) *tenantSnap {
	ts := h.tenants[tenant]
	if tenant == diffBad {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.copy()
}

func (ts *tenantState) copy() *tenantSnap {
	s := &tenantSnap{aliasGen: make(map[string]int, len(ts.aliasGen)), sess: make(map[string]sessTrack, len(ts.sess))}
	for k, v := range ts.aliasGen {
		s.aliasGen[k] = v
	}
	for k, v := range ts.sess {
		s.sess[k] = v
	}
	return s
}

func (h *harness) logStats(workers []*worker, elapsed time.Duration) {
	total := 0
	byOp := map[string]map[string]int{}
	for _, w := range workers {
		total += w.ops
		for op, m := range w.stats {
			if byOp[op] == nil {
				byOp[op] = map[string]int{}
			}
			for c, n := range m {
				byOp[op][c] += n
			}
		}
	}
	var lines []string
	for op, m := range byOp {
		var parts []string
		for c, n := range m {
			parts = append(parts, fmt.Sprintf("%s=%d", c, n))
		}
		sort.Strings(parts)
		lines = append(lines, fmt.Sprintf("  %-16s %s", op, strings.Join(parts, " ")))
	}
	sort.Strings(lines)
	h.t.Logf("%d operations from %d goroutines in %v (%.0f ops/s); outcomes of bolt:\n%s",
		total, len(workers), elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), strings.Join(lines, "\n"))
}

// ---- errors --------------------------------------------------------------

const (
	clsNil      = "ok"
	clsNotFound = "ErrNotFound"
	clsExists   = "ErrExists"
	clsConflict = "ErrConflict"
	clsInvalid  = "ErrInvalid"
	clsClosed   = "ErrClosed"
	clsCanceled = "Canceled"
)

// class names the sentinel err matches, or "other: ..." for anything else.
func class(err error) string {
	switch {
	case err == nil:
		return clsNil
	case errors.Is(err, storage.ErrNotFound):
		return clsNotFound
	case errors.Is(err, storage.ErrExists):
		return clsExists
	case errors.Is(err, storage.ErrConflict):
		return clsConflict
	case errors.Is(err, storage.ErrInvalid):
		return clsInvalid
	case errors.Is(err, storage.ErrClosed):
		return clsClosed
	case errors.Is(err, context.Canceled):
		return clsCanceled
	}
	return "other: " + err.Error()
}

func isOther(c string) bool { return strings.HasPrefix(c, "other") }

// ---- worker --------------------------------------------------------------

type worker struct {
	h     *harness
	id    int
	r     *rand.Rand
	exact bool // compare every read with the model

	aliases  map[string]*alias.Alias     // tenant\x00key -> last seen
	sessions map[string]*session.Session // tenant\x00key -> last seen
	pins     map[string]*storage.Pin     // tenant\x00alias\x00key -> last seen; nil: seen absent
	events   []evRef                     // recently seen event ids
	known    map[string][]evRef          // "alias", "session", "artifact" -> recently seen keys
	nexts    map[string][2]string        // list kind -> last page key of bolt and memstore
	trace    []string                    // the last operations, for failure reports

	ops   int
	stats map[string]map[string]int
}

type evRef struct{ tenant, session, id string }

func (h *harness) newWorker(seed uint64, id int, exact bool) *worker {
	return &worker{
		h:        h,
		id:       id,
		r:        rand.New(rand.NewPCG(seed, uint64(id))),
		exact:    exact,
		aliases:  map[string]*alias.Alias{},
		sessions: map[string]*session.Session{},
		pins:     map[string]*storage.Pin{},
		nexts:    map[string][2]string{},
		known:    map[string][]evRef{},
		stats:    map[string]map[string]int{},
	}
}

func (w *worker) run(n int) {
	for i := 0; i < n && !w.h.stop.Load(); i++ {
		w.h.tick()
		w.ops++
		w.step()
	}
}

func (w *worker) step() {
	switch x := w.r.IntN(100); {
	// writes
	case x < 5:
		w.createAlias()
	case x < 10:
		w.updateAlias()
	case x < 13:
		w.deleteAlias()
	case x < 21:
		w.createSession()
	case x < 26:
		w.updateSession()
	case x < 28:
		w.deleteSession()
	case x < 37:
		w.appendEvents()
	case x < 41:
		w.setEventHidden()
	case x < 44:
		w.deleteEvent()
	case x < 50:
		w.createArtifact()
	case x < 55:
		w.setPin()
	case x < 56:
		w.sweep()
	// reads
	case x < 60:
		w.readAlias()
	case x < 64:
		w.readSession()
	case x < 68:
		w.readEvent()
	case x < 72:
		w.readArtifact()
	case x < 76:
		w.readPin()
	case x < 81:
		w.listAliases()
	case x < 88:
		w.listSessions()
	case x < 94:
		w.listEvents()
	default:
		w.listArtifacts()
	}
}

func (w *worker) logf(format string, args ...any) {
	const keep = 40
	s := fmt.Sprintf(format, args...)
	if len(w.trace) == keep {
		copy(w.trace, w.trace[1:])
		w.trace = w.trace[:keep-1]
	}
	w.trace = append(w.trace, s)
}

func (w *worker) fail(format string, args ...any) {
	n := w.h.failures.Add(1)
	if n > diffMaxFailures {
		w.h.stop.Store(true)
		return
	}
	msg := fmt.Sprintf(format, args...)
	if n == 1 {
		msg += fmt.Sprintf("\nlast operations of goroutine %d (op %d), oldest first:\n  %s", w.id, w.ops, strings.Join(w.trace, "\n  "))
	}
	w.h.t.Errorf("goroutine %d op %d: %s", w.id, w.ops, msg)
	if n == diffMaxFailures {
		w.h.stop.Store(true)
	}
}

func (w *worker) record(op string, err error) {
	m := w.stats[op]
	if m == nil {
		m = map[string]int{}
		w.stats[op] = m
	}
	c := class(err)
	if isOther(c) {
		c = "other"
	}
	m[c]++
}

// ---- random values -------------------------------------------------------

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (w *worker) chance(p float64) bool { return w.r.Float64() < p }

func (w *worker) ms(lo, hi int) time.Duration {
	return time.Duration(lo+w.r.IntN(hi-lo+1)) * time.Millisecond
}

func (w *worker) tenant() string {
	if w.chance(0.01) {
		return diffBad
	}
	return pick(w.r, diffTenants)
}

func (w *worker) ctx() context.Context {
	if w.chance(0.01) {
		return w.h.canceled
	}
	return context.Background()
}

func (w *worker) aliasKey() string {
	if w.chance(0.01) {
		return pick(w.r, []string{"bad key", "", strings.Repeat("a", 51)})
	}
	return pick(w.r, diffAliases)
}

func (w *worker) sessionKey() string {
	if w.chance(0.01) {
		return pick(w.r, []string{"bad/key", ""})
	}
	return pick(w.r, diffSessions)
}

func (w *worker) agentKey() string {
	if w.chance(0.01) {
		return pick(w.r, []string{"bad agent", ""})
	}
	return pick(w.r, diffAgents)
}

// expiry is zero (never), rarely far in the future, or a time near now, so
// that items expire during the run.
func (w *worker) expiry() time.Time {
	if w.chance(0.5) {
		return time.Time{}
	}
	if w.chance(0.03) {
		return diffFar
	}
	return w.h.now().Add(w.ms(-100, 2500))
}

// nearNow is a "now" for a call: zero (for the queries that allow it) or a
// time near the clock.
func (w *worker) nearNow(zero bool) time.Time {
	if zero && w.chance(0.5) {
		return time.Time{}
	}
	return w.h.now().Add(w.ms(-300, 300))
}

func (w *worker) word() string { return pick(w.r, diffWords) }

func (w *worker) metadata() map[string]any {
	switch w.r.IntN(5) {
	case 0:
		return nil
	case 1:
		return map[string]any{}
	}
	return w.object(0)
}

func (w *worker) object(depth int) map[string]any {
	n := 1 + w.r.IntN(3)
	m := make(map[string]any, n)
	for range n {
		m[w.word()+strconv.Itoa(w.r.IntN(3))] = w.value(depth + 1)
	}
	return m
}

func (w *worker) value(depth int) any {
	switch k := w.r.IntN(8); {
	case k == 1:
		return float64(w.r.IntN(2001) - 1000)
	case k == 2:
		return pick(w.r, diffFloats)
	case k == 3:
		return w.r.IntN(2) == 0
	case k == 4:
		return nil
	case k == 5 && depth < 3:
		return w.object(depth)
	case k == 6 && depth < 3:
		arr := make([]any, w.r.IntN(3))
		for i := range arr {
			arr[i] = w.value(depth + 1)
		}
		return arr
	}
	return w.word()
}

func (w *worker) limit() (limit int, bad bool) {
	if w.chance(0.02) {
		return pick(w.r, []int{-1, storage.MaxLimit + 1}), true
	}
	if w.chance(0.3) {
		return 0, false
	}
	return pick(w.r, []int{1, 2, 3, 5, 10, storage.MaxLimit}), false
}

func pageLimit(limit int) int {
	if limit == 0 {
		return storage.DefaultLimit
	}
	return limit
}

func (w *worker) policy() policy.Document {
	n := 1 + w.r.IntN(2)
	rules := make([]policy.Rule, n)
	for i := range rules {
		if i < n-1 {
			rules[i].Match = pick(w.r, diffMatches)
		}
		agents := slices.Clone(diffAgents)
		w.r.Shuffle(len(agents), func(i, j int) { agents[i], agents[j] = agents[j], agents[i] })
		switch w.r.IntN(3) {
		case 0:
			rules[i].Targets = policy.Targets{Type: policy.TargetSingle, AgentKey: agents[0]}
		case 1:
			opts := []policy.Option{{AgentKey: agents[0], Weight: int64(1 + w.r.IntN(100))}, {AgentKey: agents[1], Weight: int64(w.r.IntN(100))}}
			rules[i].Targets = policy.Targets{Type: policy.TargetWeighted, PartitionBy: "get('$.session.key')", Options: opts}
		default:
			rules[i].Targets = policy.Targets{Type: policy.TargetFallback, AgentKeys: agents[:1+w.r.IntN(3)]}
		}
	}
	return policy.Document{Type: policy.TypeRouted, Rules: rules}
}

func (w *worker) newAlias(key string) *alias.Alias {
	a := &alias.Alias{
		Key:       key,
		Name:      "Alias " + key + " " + pick(w.r, diffNames),
		Policy:    w.policy(),
		Enabled:   w.chance(0.8),
		Metadata:  w.metadata(),
		CreatedAt: w.h.tick(),
	}
	if w.chance(0.5) {
		a.Description = "about " + w.word()
	}
	if w.chance(0.3) {
		a.Stickiness = &policy.Stickiness{Key: "get('$.session.metadata.user')", TTLMinutes: int64(w.r.IntN(120))}
	}
	if w.chance(0.2) {
		a.UpdatedAt = w.h.tick()
	}
	w.mustValid("alias", a.Validate(), !(alias.ValidKey(key)))
	return a
}

func (w *worker) mustValid(what string, err error, invalidOK bool) {
	if err != nil && !invalidOK {
		w.h.t.Fatalf("test bug: generated an invalid %s: %v", what, err)
	}
}

func (w *worker) newSession(key, aliasKey, agentKey string) *session.Session {
	s := &session.Session{
		Key:       key,
		AgentKey:  agentKey,
		AliasKey:  aliasKey,
		Name:      "Session " + key + " " + pick(w.r, diffNames),
		Metadata:  w.metadata(),
		Enabled:   w.chance(0.8),
		Status:    pick(w.r, []session.Status{"", session.Unstarted, session.Running, session.Stopped}),
		CreatedAt: w.h.tick(), // creation order is CreatedAt order within a tenant
		ExpiresAt: w.expiry(),
	}
	w.mutateSession(s)
	w.mustValid("session", s.Validate(), !session.ValidKey(key) || !session.ValidKey(agentKey) || aliasKey != "" && !alias.ValidKey(aliasKey))
	return s
}

// mutateSession changes some of the mutable fields of s.
func (w *worker) mutateSession(s *session.Session) {
	if w.chance(0.5) {
		s.Description = "about " + w.word()
	}
	if w.chance(0.3) {
		step := pick(w.r, []string{"", "collect", "東京"})
		s.CurrentStepName = &step
	} else if w.chance(0.3) {
		s.CurrentStepName = nil
	}
	if w.chance(0.3) {
		s.CreatedByAgentKey, s.CreatedBySessionKey = pick(w.r, diffAgents), pick(w.r, diffSessions)
	}
	if w.chance(0.5) {
		s.TTIMinutes = int64(w.r.IntN(60))
	}
	if w.chance(0.3) {
		s.ContextUsage = &session.ContextUsage{
			InputTokens:  session.InputTokens{Count: int64(w.r.IntN(1000)), CachedTokens: int64(w.r.IntN(10))},
			OutputTokens: session.OutputTokens{Count: int64(w.r.IntN(1000)), ReasoningTokens: int64(w.r.IntN(10))},
			TotalTokens:  int64(w.r.IntN(3000)), ModelContextWindow: int64(w.r.IntN(2) * 128000),
		}
	}
	if w.chance(0.2) {
		s.Compaction = &session.Compaction{Enabled: w.chance(0.5), ThresholdPercent: w.r.IntN(100), KeepRecentInputs: w.r.IntN(5), CompactionMessage: w.word(), ToolEventPolicy: "keep"}
	}
	if w.chance(0.3) {
		s.Secrets = session.Secrets{"TOKEN": "secret-" + strconv.Itoa(w.r.IntN(100))}
		if w.chance(0.5) {
			s.Secrets["other_key"] = "v"
		}
	} else if w.chance(0.2) {
		s.Secrets = nil
	}
	if w.chance(0.2) {
		s.PendingToolCalls = w.pendingCalls()
	} else if w.chance(0.2) {
		s.PendingToolCalls = nil
	}
}

func (w *worker) pendingCalls() []event.PendingCall {
	var calls []event.PendingCall
	for range w.r.IntN(3) {
		var args map[string]any
		if w.chance(0.5) {
			args = w.object(0)
		}
		calls = append(calls, event.PendingCall{EventID: w.eventID(), ToolConfigurationName: w.word() + "x", ToolName: w.word() + "x", Arguments: args})
	}
	return calls
}

func (w *worker) eventID() string {
	switch {
	case w.chance(0.01):
		return pick(w.r, []string{"aev_", "bad", "aev_no/slash"})
	case len(w.events) > 0 && w.chance(0.2):
		return w.events[w.r.IntN(len(w.events))].id
	}
	return fmt.Sprintf("aev_%d-%d", w.id, w.h.evSeq.Add(1))
}

func (w *worker) newEvent(sessionKey, id string) *event.Event {
	e := &event.Event{ID: id, SessionKey: sessionKey, CreatedAt: w.h.tick(), Type: pick(w.r, diffEventTypes)}
	if w.chance(0.15) {
		e.HideReason = event.HiddenManual
	}
	str := func() string { return w.word() + "x" }
	switch e.Type {
	case event.InputMessage:
		e.Messages = []event.Input{event.Text(w.word())}
		if w.chance(0.5) {
			e.Messages = append(e.Messages, event.Input{Type: event.InputSkill, SkillName: "search"})
		}
		if w.chance(0.5) {
			e.MessageDiffs = make([]string, len(e.Messages))
			e.MessageDiffs[0] = "+" + w.word()
		}
	case event.SkillLoad:
		e.SkillName, e.Content = str(), w.word()
	case event.ArtifactUpload:
		e.Artifacts = []event.ArtifactRef{{ArtifactID: pick(w.r, diffArtIDs), Filename: "f.txt", MimeType: "text/plain", SizeBytes: int64(w.r.IntN(100))}}
		if w.chance(0.5) {
			e.AgentUploadMessage = w.word()
		}
	case event.ToolInput:
		e.ToolCallID, e.ToolConfigurationName, e.ToolName = str(), str(), str()
		e.ToolInput = w.metadata()
		if w.chance(0.5) {
			e.ArgumentOverridePaths = []string{"$.q"}
		}
	case event.ToolOutput:
		e.ToolCallID, e.ToolConfigurationName, e.ToolName = str(), str(), str()
		e.ToolOutput = w.metadata()
		e.Error = w.chance(0.3)
		if w.chance(0.5) {
			e.ResolvedArgumentOverrides = w.object(0)
		}
	case event.Thinking:
		if w.chance(0.7) {
			e.Content = w.word()
		}
	case event.AgentOutput:
		e.Content = w.word()
	case event.StructuredOutput:
		e.SchemaName = str()
		e.Structured = w.value(0)
	case event.ContextLimitExceeded:
		e.Message, e.ContextLimit, e.ActualTokens = w.word(), int64(w.r.IntN(1000)), int64(w.r.IntN(2000))
	case event.StepTransitionLimitExceeded:
		e.Message, e.TransitionLimit = w.word(), int64(w.r.IntN(50))
	case event.ClientToolPending:
		e.PendingCalls = w.pendingCalls()
	case event.ImageRead:
		e.ArtifactID = pick(w.r, diffArtIDs)
		if w.chance(0.5) {
			e.Detail = "high"
		}
	case event.StepTransition:
		e.FromStep, e.ToStep, e.Content = str(), str(), w.word()
	case event.Compaction:
		e.TurnsCompacted, e.EventsCompacted = int64(w.r.IntN(10)), int64(w.r.IntN(100))
		e.SummaryKey, e.SummaryText = str(), w.word()
	}
	w.mustValid("event", e.Validate(), !event.ValidID(id) || !session.ValidKey(sessionKey))
	return e
}

func (w *worker) newArtifact(sessionKey, id string) *artifact.Artifact {
	var data []byte
	if !w.chance(0.1) {
		data = make([]byte, w.r.IntN(48))
		for i := range data {
			data[i] = byte(w.r.IntN(256))
		}
	}
	// Few distinct times, so that ties (ordered by id) are common; rarely
	// the zero time or one far in the future.
	created := diffBase.Add(time.Duration(w.r.IntN(6)) * time.Second)
	updated := created.Add(time.Duration(w.r.IntN(3)) * time.Second)
	switch {
	case w.chance(0.02):
		created = time.Time{}
	case w.chance(0.02):
		created = diffFar
	}
	switch {
	case w.chance(0.02):
		updated = time.Time{}
	case w.chance(0.02):
		updated = diffFar
	}
	a := &artifact.Artifact{
		ID:             id,
		SessionKey:     sessionKey,
		Filename:       id + ".bin",
		MimeType:       "application/octet-stream",
		SizeBytes:      int64(len(data)),
		ChecksumSHA256: artifact.Checksum(data),
		Metadata:       w.metadata(),
		TTLDays:        int64(w.r.IntN(3)),
		CreatedAt:      created,
		UpdatedAt:      updated,
		Data:           data,
		ExpiresAt:      w.expiry(),
	}
	if w.chance(0.5) {
		a.Description = w.word()
	}
	w.mustValid("artifact", a.Validate(), !artifact.ValidID(id) || !session.ValidKey(sessionKey))
	return a
}

func (w *worker) artifactID() string {
	if w.chance(0.01) {
		return pick(w.r, []string{"art_UPPER", "bad", "art_"})
	}
	return pick(w.r, diffArtIDs)
}

func (w *worker) pinKey() string {
	if w.chance(0.01) {
		return pick(w.r, []string{"", strings.Repeat("k", storage.MaxPinKeyLen+1)})
	}
	return pick(w.r, diffPinKeys)
}

func ck(parts ...string) string { return strings.Join(parts, "\x00") }

func (w *worker) sawEvent(tenant, sessionKey, id string) {
	w.events = w.remember(w.events, evRef{tenant, sessionKey, id})
}

func (w *worker) remember(refs []evRef, ref evRef) []evRef {
	const keep = 64
	if len(refs) < keep {
		return append(refs, ref)
	}
	refs[w.r.IntN(keep)] = ref
	return refs
}

// saw remembers a key of kind "alias", "session" or "artifact" seen in
// tenant (for an artifact, key is the session's and id the artifact's).
func (w *worker) saw(kind, tenant, key, id string) {
	w.known[kind] = w.remember(w.known[kind], evRef{tenant, key, id})
}

// target picks a tenant and key (and artifact id) for an operation on an
// item of kind: mostly one seen recently, else a random one.
func (w *worker) target(kind string) (tenant, key, id string) {
	if refs := w.known[kind]; len(refs) > 0 && w.chance(0.6) {
		ref := refs[w.r.IntN(len(refs))]
		return ref.tenant, ref.session, ref.id
	}
	switch kind {
	case "alias":
		return w.tenant(), w.aliasKey(), ""
	case "session":
		return w.tenant(), w.sessionKey(), ""
	}
	return w.tenant(), w.sessionKey(), w.artifactID()
}

// ---- applying writes -----------------------------------------------------

type runFunc func(ctx context.Context, st storage.Storage) (any, error)

// write applies run to bolt and then to the model (the caller holds the
// tenant's lock) and checks that both had the same outcome. altB lists the
// error classes bolt may answer where the model answers ErrInvalid, for an
// invalid tenant. It returns bolt's outcome.
func (w *worker) write(name, desc string, altB []string, run runFunc) (any, error) {
	ctx := w.ctx()
	w.logf("%s %s", name, desc)
	resB, errB := run(ctx, w.h.bolt)
	resM, errM := run(ctx, w.h.mem)
	w.record(name, errB)
	w.same(name+" "+desc, altB, resB, errB, resM, errM)
	return resB, errB
}

// same checks that bolt's outcome equals the model's.
func (w *worker) same(what string, altB []string, resB any, errB error, resM any, errM error) bool {
	cb, cm := class(errB), class(errM)
	switch {
	case isOther(cb) || isOther(cm):
		w.fail("%s: unexpected error: bolt %v; memstore %v", what, errB, errM)
		return false
	case cb != cm && !(cm == clsInvalid && slices.Contains(altB, cb)):
		w.fail("%s: bolt answered %s (%v); memstore %s (%v)", what, cb, errB, cm, errM)
		return false
	case errB == nil && errM == nil:
		if d := cmp.Diff(resM, resB, diffOpts...); d != "" {
			w.fail("%s: results differ (-memstore +bolt):\n%s", what, d)
			return false
		}
	}
	return true
}

// unchanged checks that a store left the value it was given as it was.
func (w *worker) unchanged(what string, want, got any) {
	if d := cmp.Diff(want, got, diffOpts...); d != "" {
		w.fail("%s changed its argument (-before +after):\n%s", what, d)
	}
}

func badTenantAlt(tenant string, alt ...string) []string {
	if tenant != diffBad {
		return nil
	}
	return alt
}

func (w *worker) createAlias() {
	tenant := w.tenant()
	defer w.h.lock(tenant)()
	key := w.aliasKey()
	a := w.newAlias(key)
	res, err := w.write("CreateAlias", fmt.Sprintf("%q %q", tenant, key), nil, func(ctx context.Context, st storage.Storage) (any, error) {
		in := a.Clone()
		out, err := st.CreateAlias(ctx, tenant, in)
		w.unchanged("CreateAlias", a, in)
		return out, err
	})
	if err == nil {
		w.aliases[ck(tenant, key)] = res.(*alias.Alias)
		w.h.tenants[tenant].aliasGen[key]++
		w.saw("alias", tenant, key, "")
	}
}

func (w *worker) updateAlias() {
	tenant, key, _ := w.target("alias")
	defer w.h.lock(tenant)()
	var a *alias.Alias
	if c := w.aliases[ck(tenant, key)]; c != nil && w.chance(0.85) {
		a = c.Clone()
	} else {
		a = w.newAlias(key)
		a.Revision = uint64(1 + w.r.IntN(3))
	}
	switch w.r.IntN(5) {
	case 0:
		a.Name = "Alias " + key + " " + pick(w.r, diffNames)
	case 1:
		a.Enabled = !a.Enabled
	case 2:
		a.Metadata = w.metadata()
	case 3:
		a.Policy = w.policy()
	case 4:
		a.Description = "about " + w.word()
		a.Stickiness = nil
	}
	a.UpdatedAt = w.h.tick()
	if w.chance(0.03) {
		a.CreatedAt = a.CreatedAt.Add(time.Millisecond)
	}
	if w.chance(0.05) {
		a.Revision += uint64(w.r.IntN(3)) - 1
	}
	res, err := w.write("UpdateAlias", fmt.Sprintf("%q %q rev %d", tenant, key, a.Revision), badTenantAlt(tenant, clsNotFound), func(ctx context.Context, st storage.Storage) (any, error) {
		in := a.Clone()
		out, err := st.UpdateAlias(ctx, tenant, in)
		w.unchanged("UpdateAlias", a, in)
		return out, err
	})
	if err == nil {
		w.aliases[ck(tenant, key)] = res.(*alias.Alias)
	}
}

func (w *worker) deleteAlias() {
	tenant, key, _ := w.target("alias")
	defer w.h.lock(tenant)()
	// Often well after the clock, so that sessions through the alias that
	// are enabled but expired by then are common.
	now := w.h.now().Add(w.ms(-300, 3000))
	_, err := w.write("DeleteAlias", fmt.Sprintf("%q %q now %s", tenant, key, now.Format(time.StampMilli)), badTenantAlt(tenant, clsNotFound), func(ctx context.Context, st storage.Storage) (any, error) {
		return nil, st.DeleteAlias(ctx, tenant, key, now)
	})
	if err == nil {
		delete(w.aliases, ck(tenant, key))
		w.h.tenants[tenant].aliasGen[key]++
	}
}

func (w *worker) createSession() {
	tenant := w.tenant()
	defer w.h.lock(tenant)()
	key, agent, aliasKey := w.sessionKey(), w.agentKey(), ""
	if w.chance(0.5) {
		aliasKey = w.aliasKey()
	}
	s := w.newSession(key, aliasKey, agent)
	res, err := w.write("CreateSession", fmt.Sprintf("%q %q alias %q agent %q expires %s", tenant, key, aliasKey, agent, s.ExpiresAt.Format(time.StampMilli)), nil, func(ctx context.Context, st storage.Storage) (any, error) {
		in := s.Clone()
		out, err := st.CreateSession(ctx, tenant, in)
		w.unchanged("CreateSession", s, in)
		return out, err
	})
	if err == nil {
		w.sessions[ck(tenant, key)] = res.(*session.Session)
		w.saw("session", tenant, key, "")
		ts := w.h.tenants[tenant]
		ts.sess[key] = sessTrack{gen: ts.sess[key].gen + 1, alias: aliasKey, agent: agent}
	}
}

func (w *worker) updateSession() {
	tenant, key, _ := w.target("session")
	defer w.h.lock(tenant)()
	var s *session.Session
	if c := w.sessions[ck(tenant, key)]; c != nil && w.chance(0.85) {
		s = c.Clone()
	} else {
		s = w.newSession(key, "", pick(w.r, diffAgents))
		s.Revision = uint64(1 + w.r.IntN(3))
	}
	switch w.r.IntN(4) {
	case 0:
		s.Name = "Session " + key + " " + pick(w.r, diffNames)
		s.Enabled = !s.Enabled
	case 1:
		s.Metadata = w.metadata()
		s.Status = pick(w.r, []session.Status{session.Running, session.Stopped})
	case 2:
		s.ExpiresAt = w.expiry() // a touch
	case 3:
		w.mutateSession(s)
	}
	switch {
	case w.chance(0.02):
		s.AgentKey = pick(w.r, diffAgents)
	case w.chance(0.02):
		s.AliasKey = pick(w.r, append([]string{""}, diffAliases...))
	case w.chance(0.02):
		s.CreatedAt = s.CreatedAt.Add(-time.Millisecond)
	case w.chance(0.05):
		s.Revision += uint64(w.r.IntN(3)) - 1
	}
	res, err := w.write("UpdateSession", fmt.Sprintf("%q %q rev %d expires %s", tenant, key, s.Revision, s.ExpiresAt.Format(time.StampMilli)), badTenantAlt(tenant, clsNotFound), func(ctx context.Context, st storage.Storage) (any, error) {
		in := s.Clone()
		out, err := st.UpdateSession(ctx, tenant, in)
		w.unchanged("UpdateSession", s, in)
		return out, err
	})
	if err == nil {
		w.sessions[ck(tenant, key)] = res.(*session.Session)
	}
}

func (w *worker) deleteSession() {
	tenant, key, _ := w.target("session")
	defer w.h.lock(tenant)()
	_, err := w.write("DeleteSession", fmt.Sprintf("%q %q", tenant, key), badTenantAlt(tenant, clsNotFound), func(ctx context.Context, st storage.Storage) (any, error) {
		return nil, st.DeleteSession(ctx, tenant, key)
	})
	if err == nil {
		delete(w.sessions, ck(tenant, key))
		ts := w.h.tenants[tenant]
		tr := ts.sess[key]
		tr.gen++
		ts.sess[key] = tr
	}
}

// eventTarget picks a session for an event operation, often one whose events
// the worker has seen.
func (w *worker) eventTarget() (tenant, sessionKey, id string) {
	if len(w.events) > 0 && w.chance(0.7) {
		ref := w.events[w.r.IntN(len(w.events))]
		id = ref.id
		if w.chance(0.1) {
			id = w.eventID()
		}
		return ref.tenant, ref.session, id
	}
	return w.tenant(), w.sessionKey(), w.eventID()
}

func (w *worker) appendEvents() {
	var tenant, key string
	if len(w.events) > 0 && w.chance(0.4) {
		ref := w.events[w.r.IntN(len(w.events))]
		tenant, key = ref.tenant, ref.session
	} else {
		tenant, key, _ = w.target("session")
	}
	defer w.h.lock(tenant)()
	evs := make([]*event.Event, 1+w.r.IntN(3))
	ids := make([]string, len(evs))
	for i := range evs {
		id := w.eventID()
		if i > 0 && w.chance(0.1) {
			id = ids[w.r.IntN(i)] // a duplicate within the batch
		}
		evs[i] = w.newEvent(key, id)
		ids[i] = id
	}
	if w.chance(0.02) {
		evs[w.r.IntN(len(evs))].SessionKey = pick(w.r, diffSessions)
	}
	if w.chance(0.01) {
		evs = nil
	}
	_, err := w.write("AppendEvents", fmt.Sprintf("%q %q %q", tenant, key, ids), badTenantAlt(tenant, clsNotFound), func(ctx context.Context, st storage.Storage) (any, error) {
		in := cloneEvents(evs)
		err := st.AppendEvents(ctx, tenant, key, in)
		w.unchanged("AppendEvents", evs, in)
		return nil, err
	})
	if err == nil {
		for _, ev := range evs {
			w.sawEvent(tenant, key, ev.ID)
		}
	}
}

func cloneEvents(evs []*event.Event) []*event.Event {
	if evs == nil {
		return nil
	}
	out := make([]*event.Event, len(evs))
	for i, e := range evs {
		out[i] = e.Clone()
	}
	return out
}

func (w *worker) setEventHidden() {
	tenant, key, id := w.eventTarget()
	defer w.h.lock(tenant)()
	reason := pick(w.r, []string{"", event.HiddenManual, "spam"})
	w.write("SetEventHidden", fmt.Sprintf("%q %q %q %q", tenant, key, id, reason), badTenantAlt(tenant, clsNotFound), func(ctx context.Context, st storage.Storage) (any, error) {
		return st.SetEventHidden(ctx, tenant, key, id, reason)
	})
}

func (w *worker) deleteEvent() {
	tenant, key, id := w.eventTarget()
	defer w.h.lock(tenant)()
	w.write("DeleteEvent", fmt.Sprintf("%q %q %q", tenant, key, id), badTenantAlt(tenant, clsNotFound), func(ctx context.Context, st storage.Storage) (any, error) {
		return nil, st.DeleteEvent(ctx, tenant, key, id)
	})
}

func (w *worker) createArtifact() {
	tenant, key, _ := w.target("session")
	defer w.h.lock(tenant)()
	id := w.artifactID()
	a := w.newArtifact(key, id)
	_, err := w.write("CreateArtifact", fmt.Sprintf("%q %q %q created %s updated %s expires %s", tenant, key, id,
		a.CreatedAt.Format(time.StampMilli), a.UpdatedAt.Format(time.StampMilli), a.ExpiresAt.Format(time.StampMilli)),
		badTenantAlt(tenant, clsNotFound), func(ctx context.Context, st storage.Storage) (any, error) {
			in := a.Clone()
			err := st.CreateArtifact(ctx, tenant, in)
			w.unchanged("CreateArtifact", a, in)
			return nil, err
		})
	if err == nil {
		w.saw("artifact", tenant, key, id)
	}
}

func (w *worker) setPin() {
	tenant := w.tenant()
	defer w.h.lock(tenant)()
	aliasKey, key := w.aliasKey(), w.pinKey()
	p := &storage.Pin{AliasKey: aliasKey, Key: key, AgentKey: w.agentKey(), CreatedAt: w.h.tick(), ExpiresAt: w.expiry()}
	var prev *storage.Pin
	if c, ok := w.pins[ck(tenant, aliasKey, key)]; ok && c != nil {
		cp := *c
		prev = &cp
	}
	switch {
	case w.chance(0.1) && prev != nil:
		prev.AgentKey = pick(w.r, diffAgents)
	case w.chance(0.05) && prev != nil:
		prev = nil
	case w.chance(0.05) && prev == nil:
		prev = &storage.Pin{AliasKey: aliasKey, Key: key, AgentKey: pick(w.r, diffAgents), CreatedAt: diffBase}
	}
	_, err := w.write("SetPin", fmt.Sprintf("%q %q %.20q agent %q prev %v", tenant, aliasKey, key, p.AgentKey, prev != nil), nil, func(ctx context.Context, st storage.Storage) (any, error) {
		in := *p
		var inPrev *storage.Pin
		if prev != nil {
			cp := *prev
			inPrev = &cp
		}
		err := st.SetPin(ctx, tenant, &in, inPrev)
		w.unchanged("SetPin", p, &in)
		w.unchanged("SetPin", prev, inPrev)
		return nil, err
	})
	if err == nil {
		cp := *p
		w.pins[ck(tenant, aliasKey, key)] = &cp
	}
}

// sweep sweeps both stores at a time near now until nothing is left, and
// checks the counts: the model's is exactly the number of expired sessions,
// expired artifacts of unexpired sessions and expired pins; bolt may also
// count expired artifacts of expired sessions (see the report on the
// contract), but no more.
func (w *worker) sweep() {
	defer w.h.lockAll()()
	now := w.h.now().Add(w.ms(-200, 200))
	limit := pick(w.r, []int{1, 2, 3, 7, 1000})
	if w.chance(0.03) {
		limit = pick(w.r, []int{0, -1})
	}
	ctx := w.ctx()
	what := fmt.Sprintf("Sweep(now %s, limit %d)", now.Format(time.StampMilli), limit)
	w.logf("%s", what)
	want, extra := w.expectedSweep(now)
	nB, errB := sweepAll(ctx, w.h.bolt, now, limit)
	nM, errM := sweepAll(ctx, w.h.mem, now, limit)
	w.record("Sweep", errB)
	if !w.same(what, nil, nil, errB, nil, errM) {
		return
	}
	if errB != nil {
		if nB != 0 || nM != 0 {
			w.fail("%s failed with %v but swept bolt %d, memstore %d", what, errB, nB, nM)
		}
		return
	}
	if nM != want {
		w.fail("%s: memstore swept %d items, want %d", what, nM, want)
	}
	if nB < want || nB > want+extra {
		w.fail("%s: bolt swept %d items, want %d (or up to %d more, for expired artifacts of expired sessions)", what, nB, want, extra)
	}
	if nB > want {
		w.stats["Sweep"]["counted more than memstore"]++
	}
	// Update what the test knows: which sessions are gone.
	for _, tenant := range diffTenants {
		ts := w.h.tenants[tenant]
		for key, tr := range ts.sess {
			if tr.gen%2 == 1 {
				if _, err := w.h.mem.Session(context.Background(), tenant, key); errors.Is(err, storage.ErrNotFound) {
					tr.gen++
					ts.sess[key] = tr
				}
			}
		}
	}
}

func sweepAll(ctx context.Context, st storage.Storage, now time.Time, limit int) (int, error) {
	total := 0
	for range 100000 {
		n, err := st.Sweep(ctx, now, limit)
		if err != nil {
			return total + n, err
		}
		if n < 0 || n > limit {
			return total, fmt.Errorf("Sweep(limit %d) = %d", limit, n)
		}
		total += n
		if n < limit {
			return total, nil
		}
	}
	return total, errors.New("Sweep never finished")
}

// expectedSweep reads the model and returns how many items a sweep at now
// deletes: expired sessions, expired artifacts of the others, expired pins;
// and how many expired artifacts the expired sessions hold.
func (w *worker) expectedSweep(now time.Time) (want, extra int) {
	ctx := context.Background()
	mem := w.h.mem
	for _, tenant := range diffTenants {
		sessions, _, err := walk("", func(pk string) (storage.Page[*session.Session], error) {
			return mem.ListSessions(ctx, tenant, storage.SessionQuery{Limit: storage.MaxLimit, PageKey: pk})
		})
		if err != nil {
			w.fail("memstore ListSessions: %v", err)
			return
		}
		for _, s := range flatten(sessions) {
			arts, _, err := walk("", func(pk string) (storage.Page[*artifact.Artifact], error) {
				return mem.ListArtifacts(ctx, tenant, s.Key, storage.ArtifactQuery{Limit: storage.MaxLimit, PageKey: pk})
			})
			if err != nil {
				w.fail("memstore ListArtifacts: %v", err)
				return
			}
			n := 0
			for _, a := range flatten(arts) {
				if a.Expired(now) {
					n++
				}
			}
			if s.Expired(now) {
				want++
				extra += n
			} else {
				want += n
			}
		}
		for _, a := range diffAliases {
			for _, k := range diffPinKeys {
				if p, err := mem.Pin(ctx, tenant, a, k); err == nil && p.Expired(now) {
					want++
				}
			}
		}
	}
	return want, extra
}

// ---- reads ---------------------------------------------------------------

// read runs a read. In exact mode (and for one read in diffLockedReads of
// the concurrent test) it holds the tenant's lock, runs it on both stores and
// compares; otherwise it runs it on bolt alone. Either way check then looks
// at bolt's outcome, with what the test knew of the tenant before and after
// (nil for the invalid tenant). okB lists the classes bolt may answer when it
// runs alone; altB the classes it may answer where the model says ErrInvalid.
func (w *worker) read(name, tenant, desc string, okB, altB []string, run runFunc, check func(res any, before, after *tenantSnap) []string) {
	ctx := w.ctx()
	if ctx != context.Background() {
		okB = []string{clsCanceled}
	}
	w.logf("%s %s", name, desc)
	what := name + " " + desc
	var resB any
	var errB error
	var before, after *tenantSnap
	if w.exact || w.r.IntN(diffLockedReads) == 0 {
		unlock := w.h.lock(tenant)
		if tenant != diffBad {
			before = w.h.tenants[tenant].copy()
			after = before
		}
		resB, errB = run(ctx, w.h.bolt)
		resM, errM := run(ctx, w.h.mem)
		unlock()
		if !w.same(what, altB, resB, errB, resM, errM) {
			return
		}
	} else {
		before = w.h.snap(tenant)
		resB, errB = run(ctx, w.h.bolt)
		after = w.h.snap(tenant)
		if c := class(errB); !slices.Contains(okB, c) {
			w.fail("%s: bolt answered %s (%v), want one of %v", what, c, errB, okB)
			return
		}
	}
	w.record(name, errB)
	if errB == nil && check != nil {
		for _, p := range check(resB, before, after) {
			w.fail("%s: %s", what, p)
		}
	}
}

// okGet is what a get may answer.
func okGet(tenant string, invalidKey bool) []string {
	if tenant == diffBad || invalidKey {
		return []string{clsNotFound, clsInvalid}
	}
	return []string{clsNil, clsNotFound}
}

func (w *worker) readAlias() {
	tenant, key, _ := w.target("alias")
	w.read("Alias", tenant, fmt.Sprintf("%q %q", tenant, key), okGet(tenant, !alias.ValidKey(key)), badTenantAlt(tenant, clsNotFound),
		func(ctx context.Context, st storage.Storage) (any, error) { return st.Alias(ctx, tenant, key) },
		func(res any, _, _ *tenantSnap) []string {
			a := res.(*alias.Alias)
			w.aliases[ck(tenant, key)] = a
			if a.Key != key || a.Revision < 1 {
				return []string{fmt.Sprintf("got key %q revision %d", a.Key, a.Revision)}
			}
			return nil
		})
}

func (w *worker) readSession() {
	tenant, key, _ := w.target("session")
	w.read("Session", tenant, fmt.Sprintf("%q %q", tenant, key), okGet(tenant, !session.ValidKey(key)), badTenantAlt(tenant, clsNotFound),
		func(ctx context.Context, st storage.Storage) (any, error) { return st.Session(ctx, tenant, key) },
		func(res any, _, _ *tenantSnap) []string {
			s := res.(*session.Session)
			w.sessions[ck(tenant, key)] = s
			if s.Key != key || s.Revision < 1 {
				return []string{fmt.Sprintf("got key %q revision %d", s.Key, s.Revision)}
			}
			return nil
		})
}

func (w *worker) readEvent() {
	tenant, key, id := w.eventTarget()
	w.read("Event", tenant, fmt.Sprintf("%q %q %q", tenant, key, id), okGet(tenant, !session.ValidKey(key) || !event.ValidID(id)), badTenantAlt(tenant, clsNotFound),
		func(ctx context.Context, st storage.Storage) (any, error) { return st.Event(ctx, tenant, key, id) },
		func(res any, _, _ *tenantSnap) []string {
			e := res.(*event.Event)
			if e.ID != id || e.SessionKey != key {
				return []string{fmt.Sprintf("got event %q of session %q", e.ID, e.SessionKey)}
			}
			return nil
		})
}

func (w *worker) readArtifact() {
	tenant, key, id := w.target("artifact")
	w.read("Artifact", tenant, fmt.Sprintf("%q %q %q", tenant, key, id), okGet(tenant, !session.ValidKey(key) || !artifact.ValidID(id)), badTenantAlt(tenant, clsNotFound),
		func(ctx context.Context, st storage.Storage) (any, error) { return st.Artifact(ctx, tenant, key, id) },
		func(res any, _, _ *tenantSnap) []string {
			a := res.(*artifact.Artifact)
			if a.ID != id || a.SessionKey != key || !a.Verify() {
				return []string{fmt.Sprintf("got artifact %q of session %q, verified %v", a.ID, a.SessionKey, a.Verify())}
			}
			return nil
		})
}

func (w *worker) readPin() {
	tenant, aliasKey, key := w.tenant(), w.aliasKey(), w.pinKey()
	invalid := !alias.ValidKey(aliasKey) || key == "" || len(key) > storage.MaxPinKeyLen
	w.read("Pin", tenant, fmt.Sprintf("%q %q %.20q", tenant, aliasKey, key), okGet(tenant, invalid), badTenantAlt(tenant, clsNotFound),
		func(ctx context.Context, st storage.Storage) (any, error) {
			p, err := st.Pin(ctx, tenant, aliasKey, key)
			if st == storage.Storage(w.h.bolt) && errors.Is(err, storage.ErrNotFound) {
				w.pins[ck(tenant, aliasKey, key)] = nil
			}
			return p, err
		},
		func(res any, _, _ *tenantSnap) []string {
			p := res.(*storage.Pin)
			cp := *p
			w.pins[ck(tenant, aliasKey, key)] = &cp
			if p.AliasKey != aliasKey || p.Key != key {
				return []string{fmt.Sprintf("got pin %q %q", p.AliasKey, p.Key)}
			}
			return nil
		})
}

// ---- lists ---------------------------------------------------------------

// pageView is a page without its opaque page key: what two stores must agree
// on.
type pageView[T any] struct {
	Items []T
	More  bool
}

// walk follows page keys from first to the last page.
func walk[T any](first string, list func(pageKey string) (storage.Page[T], error)) ([]pageView[T], []string, error) {
	var pages []pageView[T]
	var keys []string
	pk := first
	for range diffMaxPages {
		p, err := list(pk)
		if err != nil {
			return pages, keys, err
		}
		pages = append(pages, pageView[T]{p.Items, p.Next != ""})
		if p.Next == "" {
			return pages, keys, nil
		}
		keys = append(keys, p.Next)
		pk = p.Next
	}
	return pages, keys, fmt.Errorf("more than %d pages", diffMaxPages)
}

func flatten[T any](pages []pageView[T]) []T {
	var out []T
	for _, p := range pages {
		out = append(out, p.Items...)
	}
	return out
}

// checkPages checks the shape of a walk: at most limit items a page, and
// exactly limit on every page but the last.
func checkPages[T any](limit int, pages []pageView[T]) []string {
	var probs []string
	for i, p := range pages {
		switch {
		case len(p.Items) > limit:
			probs = append(probs, fmt.Sprintf("page %d has %d items, limit %d", i, len(p.Items), limit))
		case p.More && len(p.Items) != limit:
			probs = append(probs, fmt.Sprintf("page %d has %d items and a next page, limit %d", i, len(p.Items), limit))
		}
	}
	return probs
}

// pageKeys picks the first page key of a list of the given kind: "" mostly,
// sometimes one the store cannot accept (garbage, or the key of another
// list). It returns the keys for bolt and memstore and whether they are bad.
func (w *worker) pageKeys(kind string) (first [2]string, bad bool) {
	if !w.chance(0.03) {
		return first, false
	}
	var others []string
	for k, v := range w.nexts {
		if k != kind && v[0] != "" && v[1] != "" {
			others = append(others, k)
		}
	}
	sort.Strings(others)
	if len(others) > 0 && w.chance(0.7) {
		return w.nexts[pick(w.r, others)], true
	}
	g := pick(w.r, []string{"!!", "Zm9vOmJhcg", "cw"}) // not base64; "foo:bar"; "s"
	return [2]string{g, g}, true
}

func (w *worker) storeIndex(st storage.Storage) int {
	if st == storage.Storage(w.h.bolt) {
		return 0
	}
	return 1
}

func (w *worker) saveNexts(kind string, st storage.Storage, keys []string) {
	if len(keys) == 0 {
		return
	}
	v := w.nexts[kind]
	v[w.storeIndex(st)] = keys[len(keys)-1]
	w.nexts[kind] = v
}

// listOK is what a list may answer: ErrInvalid when asked for it, maybe
// ErrNotFound for a list of a session, and for the invalid tenant also an
// empty list.
func listOK(tenant string, bad, ofSession bool) (okB, altB []string) {
	switch {
	case bad:
		okB = []string{clsInvalid}
	case ofSession:
		okB = []string{clsNil, clsNotFound}
	default:
		okB = []string{clsNil}
	}
	if tenant == diffBad {
		altB = []string{clsNotFound, clsNil}
		okB = append(okB, clsInvalid, clsNotFound, clsNil)
	}
	return okB, altB
}

// checkThroughout checks that every item that existed from before to after
// the walk was returned exactly once.
func checkThroughout(what string, seen map[string]int, before, after *tenantSnap, keys func(s *tenantSnap) map[string]int) []string {
	if before == nil {
		return nil
	}
	var probs []string
	b, a := keys(before), keys(after)
	for k, g := range b {
		if g%2 == 1 && a[k] == g && seen[k] != 1 {
			probs = append(probs, fmt.Sprintf("%s %q existed throughout but was listed %d times", what, k, seen[k]))
		}
	}
	return probs
}

func (w *worker) listAliases() {
	tenant := w.tenant()
	var q storage.AliasQuery
	limit, bad := w.limit()
	q.Limit = limit
	if w.chance(0.3) {
		b := w.chance(0.5)
		q.Enabled = &b
	}
	if w.chance(0.3) {
		q.AgentKey = pick(w.r, diffAgents)
	}
	if w.chance(0.3) {
		q.Filter = pick(w.r, diffFilters)
	}
	first, badKey := w.pageKeys("a")
	okB, altB := listOK(tenant, bad || badKey, false)
	desc := fmt.Sprintf("%q limit %d enabled %v agent %q filter %v badkey %v", tenant, q.Limit, fmtBool(q.Enabled), q.AgentKey, q.Filter, badKey)
	w.read("ListAliases", tenant, desc, okB, altB, func(ctx context.Context, st storage.Storage) (any, error) {
		pages, keys, err := walk(first[w.storeIndex(st)], func(pk string) (storage.Page[*alias.Alias], error) {
			qq := q
			qq.PageKey = pk
			return st.ListAliases(ctx, tenant, qq)
		})
		w.saveNexts("a", st, keys)
		return pages, err
	}, func(res any, before, after *tenantSnap) []string {
		pages := res.([]pageView[*alias.Alias])
		probs := checkPages(pageLimit(q.Limit), pages)
		if tenant == diffBad && len(flatten(pages)) > 0 {
			probs = append(probs, "listed items of an invalid tenant")
		}
		seen := map[string]int{}
		var last string
		for i, a := range flatten(pages) {
			seen[a.Key]++
			w.aliases[ck(tenant, a.Key)] = a
			if w.chance(0.2) {
				w.saw("alias", tenant, a.Key, "")
			}
			if i > 0 && a.Key <= last {
				probs = append(probs, fmt.Sprintf("alias %q follows %q", a.Key, last))
			}
			last = a.Key
			if q.Enabled != nil && a.Enabled != *q.Enabled || q.AgentKey != "" && !a.Policy.References(q.AgentKey) ||
				q.Filter != nil && !q.Filter.MatchString(a.Name) && !q.Filter.MatchString(a.Description) {
				probs = append(probs, fmt.Sprintf("alias %q does not match the query", a.Key))
			}
		}
		if q.Enabled == nil && q.AgentKey == "" && q.Filter == nil {
			probs = append(probs, checkThroughout("alias", seen, before, after, func(s *tenantSnap) map[string]int { return s.aliasGen })...)
		}
		return probs
	})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func fmtBool(b *bool) string {
	if b == nil {
		return "nil"
	}
	return strconv.FormatBool(*b)
}

func (w *worker) listSessions() {
	tenant := w.tenant()
	var q storage.SessionQuery
	limit, bad := w.limit()
	q.Limit = limit
	if w.chance(0.3) {
		q.AliasKey = pick(w.r, diffAliases)
	}
	if w.chance(0.3) {
		q.AgentKey = pick(w.r, diffAgents)
	}
	if w.chance(0.2) {
		q.Filter = pick(w.r, diffFilters)
	}
	q.Now = w.nearNow(true)
	first, badKey := w.pageKeys("s")
	okB, altB := listOK(tenant, bad || badKey, false)
	desc := fmt.Sprintf("%q limit %d alias %q agent %q filter %v now %s badkey %v", tenant, q.Limit, q.AliasKey, q.AgentKey, q.Filter, q.Now.Format(time.StampMilli), badKey)
	w.read("ListSessions", tenant, desc, okB, altB, func(ctx context.Context, st storage.Storage) (any, error) {
		pages, keys, err := walk(first[w.storeIndex(st)], func(pk string) (storage.Page[*session.Session], error) {
			qq := q
			qq.PageKey = pk
			return st.ListSessions(ctx, tenant, qq)
		})
		w.saveNexts("s", st, keys)
		return pages, err
	}, func(res any, before, after *tenantSnap) []string {
		pages := res.([]pageView[*session.Session])
		probs := checkPages(pageLimit(q.Limit), pages)
		if tenant == diffBad && len(flatten(pages)) > 0 {
			probs = append(probs, "listed items of an invalid tenant")
		}
		seen := map[string]int{}
		var last time.Time
		for i, s := range flatten(pages) {
			seen[s.Key]++
			w.sessions[ck(tenant, s.Key)] = s
			if w.chance(0.2) {
				w.saw("session", tenant, s.Key, "")
			}
			if i > 0 && !s.CreatedAt.After(last) {
				probs = append(probs, fmt.Sprintf("session %q (created %s) follows one created %s", s.Key, s.CreatedAt.Format(time.StampMilli), last.Format(time.StampMilli)))
			}
			last = s.CreatedAt
			if q.AliasKey != "" && s.AliasKey != q.AliasKey || q.AgentKey != "" && s.AgentKey != q.AgentKey ||
				!q.Now.IsZero() && s.Expired(q.Now) ||
				q.Filter != nil && !q.Filter.MatchString(s.Name) && !q.Filter.MatchString(s.Description) {
				probs = append(probs, fmt.Sprintf("session %q does not match the query", s.Key))
			}
		}
		if q.Filter == nil && q.Now.IsZero() {
			probs = append(probs, checkThroughout("session", seen, before, after, func(s *tenantSnap) map[string]int {
				m := map[string]int{}
				for k, tr := range s.sess {
					if (q.AliasKey == "" || tr.alias == q.AliasKey) && (q.AgentKey == "" || tr.agent == q.AgentKey) {
						m[k] = tr.gen
					}
				}
				return m
			})...)
		}
		return probs
	})
}

func (w *worker) listEvents() {
	tenant, key, _ := w.eventTarget()
	var q storage.EventQuery
	limit, bad := w.limit()
	q.Limit = limit
	q.IncludeHidden = w.chance(0.5)
	first, badKey := w.pageKeys("e")
	okB, altB := listOK(tenant, bad || badKey, true)
	desc := fmt.Sprintf("%q %q limit %d hidden %v badkey %v", tenant, key, q.Limit, q.IncludeHidden, badKey)
	w.read("ListEvents", tenant, desc, okB, altB, func(ctx context.Context, st storage.Storage) (any, error) {
		pages, keys, err := walk(first[w.storeIndex(st)], func(pk string) (storage.Page[*event.Event], error) {
			qq := q
			qq.PageKey = pk
			return st.ListEvents(ctx, tenant, key, qq)
		})
		w.saveNexts("e", st, keys)
		return pages, err
	}, func(res any, _, _ *tenantSnap) []string {
		pages := res.([]pageView[*event.Event])
		probs := checkPages(pageLimit(q.Limit), pages)
		if tenant == diffBad && len(flatten(pages)) > 0 {
			probs = append(probs, "listed items of an invalid tenant")
		}
		var last time.Time
		for i, e := range flatten(pages) {
			if w.chance(0.2) {
				w.sawEvent(tenant, key, e.ID)
			}
			if i > 0 && !e.CreatedAt.After(last) {
				probs = append(probs, fmt.Sprintf("event %q (created %s) follows one created %s", e.ID, e.CreatedAt.Format(time.StampMilli), last.Format(time.StampMilli)))
			}
			last = e.CreatedAt
			if e.SessionKey != key || e.Hidden() && !q.IncludeHidden {
				probs = append(probs, fmt.Sprintf("event %q of session %q, hidden %q: does not match the query", e.ID, e.SessionKey, e.HideReason))
			}
		}
		return probs
	})
}

func (w *worker) listArtifacts() {
	tenant, key, _ := w.target("artifact")
	var q storage.ArtifactQuery
	limit, bad := w.limit()
	q.Limit = limit
	q.SortBy = pick(w.r, []string{"", storage.SortCreatedAt, storage.SortUpdatedAt})
	q.Order = pick(w.r, []string{"", storage.OrderAsc, storage.OrderDesc})
	if w.chance(0.02) {
		q.SortBy, bad = "size", true
	}
	if w.chance(0.02) {
		q.Order, bad = "up", true
	}
	q.Now = w.nearNow(true)
	sortBy, order := orDefault(q.SortBy, storage.SortCreatedAt), orDefault(q.Order, storage.OrderDesc)
	kind := "r" + sortBy + order
	first, badKey := w.pageKeys(kind)
	okB, altB := listOK(tenant, bad || badKey, true)
	desc := fmt.Sprintf("%q %q limit %d sort %q order %q now %s badkey %v", tenant, key, q.Limit, q.SortBy, q.Order, q.Now.Format(time.StampMilli), badKey)
	w.read("ListArtifacts", tenant, desc, okB, altB, func(ctx context.Context, st storage.Storage) (any, error) {
		pages, keys, err := walk(first[w.storeIndex(st)], func(pk string) (storage.Page[*artifact.Artifact], error) {
			qq := q
			qq.PageKey = pk
			return st.ListArtifacts(ctx, tenant, key, qq)
		})
		w.saveNexts(kind, st, keys)
		return pages, err
	}, func(res any, _, _ *tenantSnap) []string {
		pages := res.([]pageView[*artifact.Artifact])
		probs := checkPages(pageLimit(q.Limit), pages)
		if tenant == diffBad && len(flatten(pages)) > 0 {
			probs = append(probs, "listed items of an invalid tenant")
		}
		arts := flatten(pages)
		for _, a := range arts {
			if w.chance(0.3) {
				w.saw("artifact", tenant, key, a.ID)
			}
		}
		probs = append(probs, checkArtifactOrder(arts, key, sortBy, order, q.Now)...)
		return probs
	})
}

// checkArtifactOrder checks that artifacts are in the order of the query,
// without content, of the session, and not expired at now.
func checkArtifactOrder(arts []*artifact.Artifact, sessionKey, sortBy, order string, now time.Time) []string {
	var probs []string
	at := func(a *artifact.Artifact) time.Time {
		if sortBy == storage.SortUpdatedAt {
			return a.UpdatedAt
		}
		return a.CreatedAt
	}
	for i, a := range arts {
		if a.Data != nil || a.SessionKey != sessionKey || !now.IsZero() && a.Expired(now) {
			probs = append(probs, fmt.Sprintf("artifact %q of session %q: has data %v or is expired", a.ID, a.SessionKey, a.Data != nil))
		}
		if i == 0 {
			continue
		}
		p := arts[i-1]
		c := at(p).Compare(at(a))
		if c == 0 {
			c = strings.Compare(p.ID, a.ID)
		}
		if order == storage.OrderDesc {
			c = -c
		}
		if c >= 0 {
			probs = append(probs, fmt.Sprintf("artifact %q (%s) follows %q (%s) in %s %s order", a.ID, at(a).Format(time.StampMilli), p.ID, at(p).Format(time.StampMilli), sortBy, order))
		}
	}
	return probs
}

// ---- comparing whole stores ----------------------------------------------

// compareAll compares everything stored in bolt and in the model.
func (h *harness) compareAll(when string) {
	t := h.t
	t.Helper()
	ctx := context.Background()
	bolt, mem := storage.Storage(h.bolt), storage.Storage(h.mem)
	fails := 0
	same := func(what string, b, m any, errB, errM error) {
		if fails >= diffMaxFailures {
			return
		}
		cb, cm := class(errB), class(errM)
		switch {
		case cb != cm || isOther(cb):
			t.Errorf("%s: %s: bolt answered %v; memstore %v", when, what, errB, errM)
			fails++
		case errB == nil:
			if d := cmp.Diff(m, b, diffOpts...); d != "" {
				t.Errorf("%s: %s differs (-memstore +bolt):\n%s", when, what, d)
				fails++
			}
		}
	}
	counts := map[string]int{}
	for _, tenant := range diffTenants {
		aliasesB, _, errB := walk("", func(pk string) (storage.Page[*alias.Alias], error) {
			return bolt.ListAliases(ctx, tenant, storage.AliasQuery{Limit: storage.MaxLimit, PageKey: pk})
		})
		aliasesM, _, errM := walk("", func(pk string) (storage.Page[*alias.Alias], error) {
			return mem.ListAliases(ctx, tenant, storage.AliasQuery{Limit: storage.MaxLimit, PageKey: pk})
		})
		same(fmt.Sprintf("aliases of tenant %q", tenant), aliasesB, aliasesM, errB, errM)
		counts["aliases"] += len(flatten(aliasesM))
		for _, key := range diffAliases {
			b, errB := bolt.Alias(ctx, tenant, key)
			m, errM := mem.Alias(ctx, tenant, key)
			same(fmt.Sprintf("alias %q %q", tenant, key), b, m, errB, errM)
			for _, pk := range diffPinKeys {
				b, errB := bolt.Pin(ctx, tenant, key, pk)
				m, errM := mem.Pin(ctx, tenant, key, pk)
				same(fmt.Sprintf("pin %q %q %.20q", tenant, key, pk), b, m, errB, errM)
				if errM == nil {
					counts["pins"]++
				}
			}
		}
		queries := []storage.SessionQuery{{Limit: storage.MaxLimit}, {Limit: 7}}
		for _, a := range diffAliases {
			queries = append(queries, storage.SessionQuery{Limit: 3, AliasKey: a})
		}
		for _, a := range diffAgents {
			queries = append(queries, storage.SessionQuery{Limit: 4, AgentKey: a})
		}
		for _, q := range queries {
			sB, _, errB := walk("", func(pk string) (storage.Page[*session.Session], error) {
				qq := q
				qq.PageKey = pk
				return bolt.ListSessions(ctx, tenant, qq)
			})
			sM, _, errM := walk("", func(pk string) (storage.Page[*session.Session], error) {
				qq := q
				qq.PageKey = pk
				return mem.ListSessions(ctx, tenant, qq)
			})
			same(fmt.Sprintf("sessions of tenant %q (query %+v)", tenant, q), sB, sM, errB, errM)
		}
		for _, key := range diffSessions {
			b, errB := bolt.Session(ctx, tenant, key)
			m, errM := mem.Session(ctx, tenant, key)
			same(fmt.Sprintf("session %q %q", tenant, key), b, m, errB, errM)
			if errM != nil {
				continue
			}
			counts["sessions"]++
			for _, hidden := range []bool{false, true} {
				q := storage.EventQuery{Limit: storage.MaxLimit, IncludeHidden: hidden}
				eB, _, errB := walk("", func(pk string) (storage.Page[*event.Event], error) {
					qq := q
					qq.PageKey = pk
					return bolt.ListEvents(ctx, tenant, key, qq)
				})
				eM, _, errM := walk("", func(pk string) (storage.Page[*event.Event], error) {
					qq := q
					qq.PageKey = pk
					return mem.ListEvents(ctx, tenant, key, qq)
				})
				same(fmt.Sprintf("events of %q %q (hidden %v)", tenant, key, hidden), eB, eM, errB, errM)
				if !hidden {
					continue
				}
				for _, e := range flatten(eM) {
					counts["events"]++
					if e.Hidden() {
						counts["hidden events"]++
					}
					b, errB := bolt.Event(ctx, tenant, key, e.ID)
					m, errM := mem.Event(ctx, tenant, key, e.ID)
					same(fmt.Sprintf("event %q %q %q", tenant, key, e.ID), b, m, errB, errM)
				}
			}
			for _, sortBy := range []string{storage.SortCreatedAt, storage.SortUpdatedAt} {
				for _, order := range []string{storage.OrderAsc, storage.OrderDesc} {
					q := storage.ArtifactQuery{Limit: 2, SortBy: sortBy, Order: order}
					aB, _, errB := walk("", func(pk string) (storage.Page[*artifact.Artifact], error) {
						qq := q
						qq.PageKey = pk
						return bolt.ListArtifacts(ctx, tenant, key, qq)
					})
					aM, _, errM := walk("", func(pk string) (storage.Page[*artifact.Artifact], error) {
						qq := q
						qq.PageKey = pk
						return mem.ListArtifacts(ctx, tenant, key, qq)
					})
					same(fmt.Sprintf("artifacts of %q %q (%s %s)", tenant, key, sortBy, order), aB, aM, errB, errM)
					if probs := checkArtifactOrder(flatten(aB), key, sortBy, order, time.Time{}); len(probs) > 0 {
						t.Errorf("%s: artifacts of %q %q: %s", when, tenant, key, strings.Join(probs, "; "))
					}
				}
			}
			for _, id := range diffArtIDs {
				b, errB := bolt.Artifact(ctx, tenant, key, id)
				m, errM := mem.Artifact(ctx, tenant, key, id)
				same(fmt.Sprintf("artifact %q %q %q", tenant, key, id), b, m, errB, errM)
				if errM == nil {
					counts["artifacts"]++
				}
			}
		}
	}
	t.Logf("%s: compared %v", when, counts)
}
