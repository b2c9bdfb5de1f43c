// Package agentalias gives agents stable public names.
//
// An alias is a stable key, such as "support", that maps to one or more
// agents under a routing policy. A host application registers its own
// agents, creates aliases, and creates sessions through an alias: the
// alias's policy picks the agent that owns each new session, once, at
// creation. Later policy changes never move an existing session. The library
// stores aliases, sessions, their events and artifacts, runs the host's agent
// for each input, and can serve everything as a REST API compatible with
// Vectara's /v2/agent_aliases.
//
// # Quick start
//
//	r, err := agentalias.New(memstore.New(), &agentalias.Options{
//		Agents: map[string]agentalias.Agent{"support-v1": v1, "support-v2": v2},
//	})
//	...
//	r.CreateAlias(ctx, alias.Params{Key: "support", Name: "Support", Policy: pol})
//	s, err := r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{
//		Metadata: map[string]any{"user_id": "u-42"},
//	})
//	resp, err := r.Submit(ctx, agentalias.ViaAlias("support"), s.Key,
//		agentalias.Input{Messages: []event.Input{event.Text("Hi!")}}, nil)
//
// See Example for the whole program.
//
// # Packages
//
// The module is layered, with dependencies pointing inward:
//
//   - agentalias (this package): AliasRouter, the one type a host holds.
//   - policy: routing policy documents and the engine that compiles and
//     evaluates them; policy/expr: the UserFn expression language.
//   - alias, session, event, artifact: the domain types, their JSON (the
//     REST contract's field names and shapes), validation, keys and patches.
//   - storage: the Storage interface and its errors; storage/memstore keeps
//     state in memory, storage/boltstore in one bbolt file, storage/pgstore
//     (a module of its own) in PostgreSQL for several replicas, and
//     storage/storagetest is the conformance suite every store passes.
//
// # Agents
//
// An Agent runs one turn of a session: it sees the session (with its
// secrets), the input and the history, and reports what it does through the
// Turn (Reply, Think, Emit, SaveArtifact, AwaitClientTools). Every event is
// stored as it comes and delivered live to a streaming caller. One turn runs
// at a time per session, across every router sharing the store: a turn
// claims its session in the store (status running, until a deadline
// Options.TurnTimeout away) before it records its input, and a second input
// is Conflict. An interrupt cancels the running turn through any of those
// routers: at once through the one running it, and through another by
// marking the session in the store, which the running router checks every
// Options.InterruptPoll. A turn that runs past TurnTimeout is cancelled, and
// a session left running by a router that crashed takes input again after
// its deadline. An agent's
// error or panic ends the turn with an Internal error; what it emitted
// before stays, and the session stays usable.
//
// # Routing
//
// Creating a session through an alias evaluates the alias's policy once,
// against the contract's routing context ({"agent": the alias's key, name,
// description and metadata; "session": the session being created;
// "currentDate"}), and stores the chosen agent_key and the alias_key on the
// session. Replacing a policy is atomic: each session creation sees the old
// policy or the new one. Compiled policies are cached by the alias's
// revision in the store, so a replacement made through another router that
// shares the store takes effect at once. Options.Available lets fallback
// targets, weighted targets and sticky pins skip agents that are down;
// Options.Observe receives every decision with its explanation.
//
// A sticky decision is pinned before the session is stored, with the store's
// compare-and-set: when the first sessions of a sticky key are created at
// once, through one router or several sharing a store, one of them wins the
// pin and the others follow it, so every session of the key lands on one
// agent. A request that cannot succeed (its key is taken, its fork source
// is wrong) fails before it pins anything; one that still fails after its
// pin was stored (it lost a race for its key, the alias was deleted, the
// store failed) leaves the pin: other sessions may already follow it, and
// taking it back could split the key between agents. It expires with the
// policy's TTL like any pin.
//
// # Tenants
//
// Every alias, session, event, artifact and sticky pin belongs to a tenant.
// Single-tenant hosts never see it (the default tenant ""); Tenant returns a
// view of the router scoped to one tenant, in which another tenant's
// resources answer NotFound, exactly as if absent.
//
// # Decisions where the contract is silent
//
//   - A disabled alias refuses new sessions (NotFound, "Alias not found or
//     not currently active"); its existing sessions keep working through
//     the alias and through their agent.
//   - Deleting an alias is Conflict while an enabled, unexpired session
//     created through it exists, or while Options.CanDeleteAlias objects.
//     Its sessions keep their alias_key and stay reachable through their
//     agent, but no longer through the alias path, nor through a later alias
//     that reuses the key.
//   - Session reads mask secrets as "****"; only Turn.Session carries them.
//   - Expired sessions and artifacts are invisible at once and deleted by a
//     sweeper every Options.SweepInterval.
//   - A session whose turn is running cannot be deleted (Conflict): interrupt
//     it first.
//   - Input types other than input_message, interrupt and tool_output are
//     Invalid ("unsupported input type").
//   - An interrupt with no running turn does nothing and still answers with
//     a session_interrupted event.
//
// # Errors
//
// Every error the router returns is an *Error with a Code from a closed set
// (Invalid, NotFound, AlreadyExists, Conflict, Forbidden, Unavailable,
// TooLarge, Internal), a message safe to show to clients, field errors for
// invalid input (JSON paths such as "policy.rules[2].targets.options[0].weight"),
// and its cause. errors.Is works with both the code's sentinel
// (agentalias.ErrNotFound) and the cause (storage.ErrNotFound). A request
// that fails changes nothing.
//
// # Concurrency
//
// AliasRouter, both stores and every built-in policy are safe for concurrent
// use. Domain values (alias.Alias, session.Session, ...) are plain structs
// that the stores copy in and out. The router starts one goroutine, the
// sweeper; Close stops it, cancels running turns and waits for them.
package agentalias
