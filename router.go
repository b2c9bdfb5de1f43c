package agentalias

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/storage"
)

// Options configures a router. The zero value (or nil) gives the defaults
// documented on each field.
type Options struct {
	// Agents are the host's agents by key. More can be added with
	// RegisterAgent.
	Agents map[string]Agent

	// Available, if not nil, reports whether an agent can take a new
	// session; policies skip agents it rejects (fallback targets pick the
	// next, weighted targets spread the agent's keys over the others, sticky
	// pins to it are ignored). It is called on the session-creation path, so
	// it should answer from memory. Nil means every agent is available.
	Available func(ctx context.Context, agentKey string) bool

	// Observe, if not nil, receives every routing decision, with its
	// explanation, after the session is stored (or the decision failed). It
	// runs on the caller's goroutine and must not block.
	Observe func(ctx context.Context, r Resolution)

	// CanDeleteAlias, if not nil, is asked before an alias is deleted; a
	// non-nil error refuses the deletion with Conflict ("live references
	// still point at the alias", such as the host's connectors). Its message
	// is shown to the client.
	CanDeleteAlias func(ctx context.Context, tenant, aliasKey string) error

	// Logger receives the router's logs. The default discards them.
	Logger *slog.Logger

	// Now returns the current time. The default is time.Now.
	Now func() time.Time

	// NewID returns a random token of [0-9a-z_-] characters for event and
	// artifact ids and generated session keys. The default makes one from
	// a random UUID.
	NewID func() string

	// MaxArtifactBytes is the largest artifact content accepted. The default
	// is 10 MiB.
	MaxArtifactBytes int

	// SweepInterval is how often expired sessions, artifacts and pins are
	// deleted from the store. The default is one minute; a negative value
	// turns sweeping off (expired data is still invisible at once).
	SweepInterval time.Duration

	// TurnTimeout is the longest an agent turn may run: the turn's context
	// is cancelled then, the turn ends with a session_interrupted event, and
	// Submit returns an Internal error. A turn's claim on its session lasts
	// 30 seconds longer, so that a turn winding down keeps it; that is also
	// how long a session stays claimed by a turn whose router crashed before
	// ending it: other routers sharing the store refuse input to the session
	// (Conflict) and deleting it until then. The default is 15 minutes.
	TurnTimeout time.Duration

	// InterruptPoll is how often a running turn looks in the store for an
	// interrupt sent through another router sharing the store (an interrupt
	// through the router running the turn cancels it at once), and how often
	// that other router looks whether the turn has ended. The default is one
	// second; a negative value turns the watching off, and then such an
	// interrupt does nothing.
	InterruptPoll time.Duration
}

// AliasRouter is the one type a host holds: it creates aliases, routes new
// sessions through them with their policies, runs the host's agents for each
// input, and reads and changes everything the store keeps.
//
// An AliasRouter is safe for concurrent use. Its methods act in the default
// tenant; Tenant returns a view of the same router scoped to another tenant.
// Close (on any view) stops the router.
type AliasRouter struct {
	*core
	tenant string
}

// core is what every tenant view of a router shares.
type core struct {
	store storage.Storage
	opts  Options
	log   *slog.Logger

	agents   atomic.Pointer[map[string]Agent] // immutable snapshot, replaced on change
	agentsMu sync.Mutex                       // serialises changes to agents

	policies sync.Map // cacheKey -> *compiled
	date     atomic.Pointer[dateText]

	turnsMu sync.Mutex
	turns   map[turnKey]*running

	closed   atomic.Bool
	stop     chan struct{}
	sweeping sync.WaitGroup
}

type cacheKey struct{ tenant, alias string }

// compiled is a cached compiled policy, valid for one revision of its alias
// and the policy it was compiled from: an alias deleted and created again
// (perhaps through another router sharing the store) starts over at
// revision 1.
type compiled struct {
	revision uint64
	doc      *policy.Document
	st       *policy.Stickiness
	policy   policy.Policy
}

// New returns a router over store. Close the router when done; it does not
// close the store, which the host opened.
func New(store storage.Storage, opts *Options) (*AliasRouter, error) {
	if store == nil {
		return nil, errors.New("agentalias: New: nil store")
	}
	c := &core{store: store, turns: map[turnKey]*running{}, stop: make(chan struct{})}
	if opts != nil {
		c.opts = *opts
	}
	c.opts.Agents = nil
	if c.opts.Logger == nil {
		c.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	if c.opts.NewID == nil {
		c.opts.NewID = newID
	}
	if c.opts.MaxArtifactBytes <= 0 {
		c.opts.MaxArtifactBytes = 10 << 20
	}
	if c.opts.TurnTimeout <= 0 {
		c.opts.TurnTimeout = 15 * time.Minute
	}
	if c.opts.InterruptPoll == 0 {
		c.opts.InterruptPoll = time.Second
	}
	if c.opts.SweepInterval == 0 {
		c.opts.SweepInterval = time.Minute
	}
	c.log = c.opts.Logger
	empty := map[string]Agent{}
	c.agents.Store(&empty)
	if opts != nil {
		for key, a := range opts.Agents {
			if err := c.registerAgent(key, a); err != nil {
				return nil, err
			}
		}
	}
	if c.opts.SweepInterval > 0 {
		c.sweeping.Add(1)
		go c.sweepLoop()
	}
	return &AliasRouter{core: c}, nil
}

// newID returns 32 lowercase hex characters from a random UUID.
func newID() string {
	u := uuid.New()
	return hex.EncodeToString(u[:])
}

// Tenant returns a view of the router that acts in tenant: it sees, lists,
// routes to and changes only that tenant's aliases, sessions, events,
// artifacts and pins. Everything else (agents, options, Close) is shared.
// The default tenant is "".
func (r *AliasRouter) Tenant(tenant string) *AliasRouter {
	return &AliasRouter{core: r.core, tenant: tenant}
}

// TenantName returns the tenant the view acts in.
func (r *AliasRouter) TenantName() string { return r.tenant }

// Close stops the router: it cancels running agent turns, waits for them
// and for the sweeper to stop, and makes every method fail. It does not
// close the store. Calling Close again returns nil.
func (r *AliasRouter) Close() error {
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(r.stop)
	r.turnsMu.Lock()
	running := make([]*running, 0, len(r.turns))
	for _, t := range r.turns {
		running = append(running, t)
	}
	r.turnsMu.Unlock()
	for _, t := range running {
		t.cancel(errClosing)
	}
	for _, t := range running {
		<-t.done
	}
	r.sweeping.Wait()
	return nil
}

var errClosing = errors.New("the router is closing")

// check fails when the router is closed or ctx is done.
func (c *core) check(ctx context.Context) error {
	if c.closed.Load() {
		return &Error{Code: Unavailable, Message: "the router is closed"}
	}
	if err := ctx.Err(); err != nil {
		return classify(err, "", "")
	}
	return nil
}

// RegisterAgent adds (or replaces) the agent with key. Keys follow the alias
// key rules. Policies may only name registered agents.
func (r *AliasRouter) RegisterAgent(key string, a Agent) error {
	return r.registerAgent(key, a)
}

func (c *core) registerAgent(key string, a Agent) error {
	if c.closed.Load() {
		return errors.New("agentalias: the router is closed")
	}
	if !policy.ValidAgentKey(key) {
		return fmt.Errorf("agentalias: agent key %q: must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters", key)
	}
	if a == nil {
		return fmt.Errorf("agentalias: agent %q is nil", key)
	}
	c.agentsMu.Lock()
	defer c.agentsMu.Unlock()
	old := *c.agents.Load()
	next := make(map[string]Agent, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = a
	c.agents.Store(&next)
	return nil
}

// UnregisterAgent removes the agent with key. Existing sessions of the agent
// remain but cannot take input until it is registered again; policies that
// name it cannot be set.
func (r *AliasRouter) UnregisterAgent(key string) {
	r.agentsMu.Lock()
	defer r.agentsMu.Unlock()
	old := *r.agents.Load()
	next := make(map[string]Agent, len(old))
	for k, v := range old {
		if k != key {
			next[k] = v
		}
	}
	r.agents.Store(&next)
}

// Agents returns the keys of the registered agents.
func (r *AliasRouter) Agents() []string {
	m := *r.agents.Load()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

func (c *core) agent(key string) Agent { return (*c.agents.Load())[key] }

// unknownAgents returns the keys in keys that are not registered.
func (c *core) unknownAgents(keys []string) []string {
	m := *c.agents.Load()
	var out []string
	for _, k := range keys {
		if m[k] == nil {
			out = append(out, k)
		}
	}
	return out
}

func (c *core) now() time.Time { return c.opts.Now().UTC().Truncate(time.Millisecond) }

// token returns a new random token for ids and keys.
func (c *core) token() string {
	t := strings.ToLower(c.opts.NewID())
	if t == "" {
		var b [8]byte
		rand.Read(b[:])
		t = hex.EncodeToString(b[:])
	}
	return t
}

// sweepLoop deletes expired data every SweepInterval until Close.
func (c *core) sweepLoop() {
	defer c.sweeping.Done()
	tick := time.NewTicker(c.opts.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			c.sweep()
		}
	}
}

// sweep deletes expired data until none is left (or the router stops).
func (c *core) sweep() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	const batch = 500
	for {
		n, err := c.store.Sweep(ctx, c.now(), batch)
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, storage.ErrClosed) {
				c.log.Error("agentalias: sweep failed", "err", err)
			}
			return
		}
		if n > 0 {
			c.log.Debug("agentalias: swept expired data", "items", n)
		}
		if n < batch {
			return
		}
	}
}

// Sweep deletes expired sessions, artifacts and pins now, in every tenant,
// and reports how many items it deleted. The router also does this every
// SweepInterval.
func (r *AliasRouter) Sweep(ctx context.Context) (int, error) {
	if err := r.check(ctx); err != nil {
		return 0, err
	}
	total := 0
	for {
		n, err := r.store.Sweep(ctx, r.now(), 500)
		total += n
		if err != nil {
			return total, classify(err, "", "")
		}
		if n < 500 {
			return total, nil
		}
	}
}
