package agentalias

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// Scope is how a session is addressed: through the alias that created it, or
// through the agent that owns it, as the contract's two URL families do
// (/v2/agent_aliases/{alias_key}/sessions/... and
// /v2/agents/{agent_key}/sessions/...). A session outside the scope answers
// NotFound, exactly as if it did not exist.
type Scope struct {
	aliasKey, agentKey string
}

// ViaAlias addresses the sessions created through an alias.
func ViaAlias(aliasKey string) Scope { return Scope{aliasKey: aliasKey} }

// ViaAgent addresses the sessions owned by an agent.
func ViaAgent(agentKey string) Scope { return Scope{agentKey: agentKey} }

// AliasKey returns the alias of a ViaAlias scope, or "".
func (s Scope) AliasKey() string { return s.aliasKey }

// AgentKey returns the agent of a ViaAgent scope, or "".
func (s Scope) AgentKey() string { return s.agentKey }

func (s Scope) valid() bool { return (s.aliasKey == "") != (s.agentKey == "") }

// Resolution is one routing decision, as Options.Observe receives it.
type Resolution struct {
	Tenant     string
	AliasKey   string
	SessionKey string
	// Decision is the policy's decision with its explanation.
	Decision policy.Decision
	// Err is nil when a session was created with Decision.AgentKey.
	Err error
	// Duration is how long the resolution took, from loading the alias to
	// deciding.
	Duration time.Duration
}

// errGone marks a session that disappeared during an operation.
var errGone = errors.New("the session is gone")

func sessionErr(err error, key string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return &Error{Code: NotFound, Message: "Session not found", ID: key, Err: err}
	}
	return classify(err, "session", key)
}

// session loads a session visible in scope: NotFound when missing, expired or
// outside the scope.
func (r *AliasRouter) session(ctx context.Context, scope Scope, key string) (*session.Session, error) {
	if !scope.valid() {
		return nil, &Error{Code: Invalid, Message: "a session is addressed through exactly one alias or agent"}
	}
	s, err := r.store.Session(ctx, r.tenant, key)
	if err == nil && (s.Expired(r.now()) ||
		scope.aliasKey != "" && s.AliasKey != scope.aliasKey ||
		scope.agentKey != "" && s.AgentKey != scope.agentKey) {
		err = storage.ErrNotFound
	}
	if err == nil && scope.aliasKey != "" {
		// Through an alias, the alias must exist, and be the one that
		// created the session: not a later alias with the same key.
		a, aerr := r.store.Alias(ctx, r.tenant, scope.aliasKey)
		switch {
		case aerr != nil:
			err = aerr
		case s.CreatedAt.Before(a.CreatedAt):
			err = storage.ErrNotFound
		}
	}
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) && scope.aliasKey != "" {
			return nil, &Error{Code: NotFound, Message: "Alias or session not found", ID: key, Err: err}
		}
		return nil, sessionErr(err, key)
	}
	return s, nil
}

// changeSession applies change to the stored session with compare-and-set,
// retrying when another writer got there first.
func (r *AliasRouter) changeSession(ctx context.Context, key string, change func(*session.Session)) (*session.Session, error) {
	return r.changeSessionIf(ctx, key, func(s *session.Session) bool { change(s); return true })
}

// changeSessionIf is changeSession for a change that may decline: when
// change returns false, nothing is written and the stored session is
// returned as it is.
func (r *AliasRouter) changeSessionIf(ctx context.Context, key string, change func(*session.Session) bool) (*session.Session, error) {
	for range maxRetries {
		s, err := r.store.Session(ctx, r.tenant, key)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errGone
		}
		if err != nil {
			return nil, sessionErr(err, key)
		}
		if !change(s) {
			return s, nil
		}
		updated, err := r.store.UpdateSession(ctx, r.tenant, s)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errGone
		}
		if err != nil {
			return nil, sessionErr(err, key)
		}
		return updated, nil
	}
	return nil, &Error{Code: Conflict, Message: "the session is being changed concurrently; retry"}
}

// masked returns s with its secrets masked, for every read.
func masked(s *session.Session) *session.Session {
	if s != nil && s.Secrets != nil {
		s.Secrets = s.Secrets.Masked()
	}
	if s != nil {
		s.PendingToolCalls = nil
	}
	return s
}

// CreateSession creates a session. Through an alias (ViaAlias), the alias's
// policy picks the agent, once: a missing or disabled alias is NotFound
// ("Alias not found or not currently active"); a policy that matches no rule
// or meets a null partition_by is Invalid; no available agent is
// Unavailable. Through an agent (ViaAgent), the agent must be registered.
// A key already in use is AlreadyExists; without a key, one is generated
// from the name.
func (r *AliasRouter) CreateSession(ctx context.Context, scope Scope, p session.Params) (_ *session.Session, err error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if !scope.valid() {
		return nil, &Error{Code: Invalid, Message: "a session is created through exactly one alias or agent"}
	}
	if err := p.Validate(); err != nil {
		return nil, invalid(err, "invalid session")
	}
	now := r.now()
	key := p.Key
	if key == "" {
		key = session.KeyFromName(p.Name, r.keySuffix())
	}
	agentKey, aliasKey := scope.agentKey, ""
	if scope.aliasKey != "" {
		aliasKey = scope.aliasKey
		var res *Resolution
		// Before a decision is pinned, make sure the request itself cannot
		// fail: a pin, once others may follow it, stays.
		precheck := func(agent string) error {
			if p.Key != "" {
				_, err := r.store.Session(ctx, r.tenant, key)
				switch {
				case err == nil:
					return &Error{Code: AlreadyExists, Message: fmt.Sprintf("A session with key %q already exists.", key), Err: storage.ErrExists}
				case !errors.Is(err, storage.ErrNotFound):
					return classify(err, "session", key)
				}
			}
			if f := p.FromSession; f != nil {
				src, err := r.forkSource(ctx, f, agent, now)
				if err != nil {
					return err
				}
				if _, err := r.forkEvents(ctx, src, f.IncludeUpToEventID); err != nil {
					return err
				}
			}
			return nil
		}
		agentKey, res, err = r.route(ctx, scope.aliasKey, key, &p, now, precheck)
		if err != nil {
			return nil, err
		}
		// Observe the decision once its outcome is known: a session that
		// cannot be stored after all is reported with its error.
		if res != nil {
			defer func() {
				res.SessionKey, res.Err = key, err
				r.observe(ctx, *res)
			}()
		}
	} else if r.agent(agentKey) == nil {
		return nil, &Error{Code: NotFound, Message: "Agent not found", ID: agentKey}
	}
	var src *session.Session
	if f := p.FromSession; f != nil {
		if src, err = r.forkSource(ctx, f, agentKey, now); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		s := p.New(key, agentKey, aliasKey, now)
		if err := s.Validate(); err != nil {
			return nil, invalid(err, "invalid session")
		}
		stored, err := r.store.CreateSession(ctx, r.tenant, s)
		switch {
		case errors.Is(err, storage.ErrExists) && p.Key == "" && attempt < 3:
			key = session.KeyFromName(p.Name, r.keySuffix())
			continue
		case errors.Is(err, storage.ErrExists):
			return nil, &Error{Code: AlreadyExists, Message: fmt.Sprintf("A session with key %q already exists.", key), Err: err}
		case errors.Is(err, storage.ErrNotFound):
			return nil, &Error{Code: NotFound, Message: "Alias not found or not currently active", ID: aliasKey, Err: err}
		case err != nil:
			return nil, classify(err, "session", key)
		}
		if src != nil {
			if err := r.fork(ctx, src, stored.Key, p.FromSession.IncludeUpToEventID); err != nil {
				r.store.DeleteSession(context.Background(), r.tenant, stored.Key)
				return nil, err
			}
		}
		return masked(stored), nil
	}
}

// keySuffix returns the random suffix of a generated session key: the first
// 8 characters of a new token (Options.NewID may return fewer).
func (c *core) keySuffix() string {
	t := c.token()
	return t[:min(len(t), 8)]
}

// route resolves the agent of a new session through an alias. A failed
// resolution is observed here; a successful one is returned for the caller
// to observe once the session is stored (or fails to be).
//
// A decision that pins a sticky key claims the pin before the session is
// stored, with SetPin's compare-and-set: of sessions racing to pin one key,
// in this process or in another sharing the store, exactly one wins, and the
// others decide again with the winner's pin, so every session of the key
// lands on one agent. Before claiming, route calls precheck with the chosen
// agent, so that a request that cannot succeed fails before it pins
// anything. A pin is never taken back: once claimed, other sessions may
// follow it, and taking it back would split the key between agents.
func (r *AliasRouter) route(ctx context.Context, aliasKey, sessionKey string, p *session.Params, now time.Time, precheck func(agentKey string) error) (string, *Resolution, error) {
	start := time.Now()
	a, err := r.store.Alias(ctx, r.tenant, aliasKey)
	if err == nil && !a.Enabled {
		err = storage.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return "", nil, &Error{Code: NotFound, Message: "Alias not found or not currently active", ID: aliasKey, Err: err}
		}
		return "", nil, classify(err, "alias", aliasKey)
	}
	pol, err := r.policyFor(a)
	if err != nil {
		return "", nil, err
	}
	req := policy.Request{
		Input:     routingInput(a, sessionKey, p, r.currentDate(now)),
		Available: r.availability(ctx),
		Now:       now,
	}
	sticky, _ := pol.(*policy.Sticky)
	if sticky != nil {
		req.StickyKey, _ = sticky.Key(&req.Input)
	}
	var (
		d      policy.Decision
		stored *storage.Pin
	)
	for attempt := 0; ; attempt++ {
		req.Pin, stored = nil, nil
		if req.StickyKey != "" {
			stored, err = r.store.Pin(ctx, r.tenant, aliasKey, req.StickyKey)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				stored = nil
			case err != nil:
				return "", nil, classify(err, "pin", req.StickyKey)
			default:
				req.Pin = &policy.Pin{AgentKey: stored.AgentKey, ExpiresAt: stored.ExpiresAt}
			}
		}
		// Call the built-in policies statically, so that req stays on the
		// stack.
		switch p := pol.(type) {
		case *policy.Sticky:
			d, err = p.Choose(ctx, &req)
		case *policy.Routed:
			d, err = p.Choose(ctx, &req)
		default:
			d, err = pol.Choose(ctx, &req)
		}
		if err == nil && r.agent(d.AgentKey) == nil {
			err = fmt.Errorf("%w: agent %s is not registered", policy.ErrUnavailable, d.AgentKey)
		}
		if err != nil || !d.PinDue {
			break
		}
		if err = precheck(d.AgentKey); err != nil {
			break
		}
		np := sticky.NewPin(d, now)
		pin := &storage.Pin{AliasKey: aliasKey, Key: req.StickyKey, AgentKey: np.AgentKey, CreatedAt: now, ExpiresAt: np.ExpiresAt}
		if err = r.store.SetPin(ctx, r.tenant, pin, stored); err == nil {
			break
		}
		if errors.Is(err, storage.ErrConflict) && attempt < maxRetries {
			continue // another session pinned the key first: follow its pin
		}
		err = classify(err, "pin", req.StickyKey)
		break
	}
	var res *Resolution // only built for an observer
	if r.opts.Observe != nil {
		res = &Resolution{Tenant: r.tenant, AliasKey: aliasKey, SessionKey: sessionKey, Decision: d, Err: err, Duration: time.Since(start)}
	}
	if err != nil {
		if res != nil {
			res.Decision.AgentKey = ""
			r.observe(ctx, *res)
		}
		var e *Error
		if errors.As(err, &e) {
			return "", nil, err
		}
		return "", nil, classify(err, "session", sessionKey)
	}
	return d.AgentKey, res, nil
}

func (r *AliasRouter) observe(ctx context.Context, res Resolution) {
	if r.opts.Observe != nil {
		r.opts.Observe(ctx, res)
	}
}

// availability adapts Options.Available to a policy request.
func (r *AliasRouter) availability(ctx context.Context) func(string) bool {
	if r.opts.Available == nil {
		return nil
	}
	return func(agent string) bool { return r.opts.Available(ctx, agent) }
}

// routingInput is the contract's routing context: the alias as "agent", the
// session being created, and the current date.
func routingInput(a *alias.Alias, sessionKey string, p *session.Params, currentDate string) expr.Input {
	name := p.Name
	if name == "" {
		name = sessionKey
	}
	return expr.Input{
		Agent:       expr.Object{Key: a.Key, Name: a.Name, Description: a.Description, Metadata: a.Metadata},
		Session:     expr.Object{Key: sessionKey, Name: name, Description: p.Description, Metadata: p.Metadata},
		CurrentDate: currentDate,
	}
}

// currentDate returns now as the routing context's currentDate (RFC 3339,
// UTC, seconds), formatting it once per second rather than per session.
func (r *AliasRouter) currentDate(now time.Time) string {
	sec := now.Unix()
	if d := r.date.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &dateText{sec: sec, text: now.UTC().Format(time.RFC3339)}
	r.date.Store(d)
	return d.text
}

// dateText is a formatted second.
type dateText struct {
	sec  int64
	text string
}

// forkSource returns the source session of a fork into a new session of
// agentKey, or NotFound.
func (r *AliasRouter) forkSource(ctx context.Context, f *session.Fork, agentKey string, now time.Time) (*session.Session, error) {
	src, err := r.store.Session(ctx, r.tenant, f.SessionKey)
	// The source's agent defaults to the new session's agent (the one the
	// alias's policy picked, or the agent of the path).
	want := f.AgentKey
	if want == "" {
		want = agentKey
	}
	if err != nil || src.Expired(now) || src.AgentKey != want {
		return nil, &Error{Code: NotFound, Message: "Source session not found", ID: f.SessionKey, Err: err}
	}
	return src, nil
}

// forkEvents returns the visible events of src up to and including the
// event upTo ("": all of them), or Invalid if upTo is not one of them.
func (r *AliasRouter) forkEvents(ctx context.Context, src *session.Session, upTo string) ([]*event.Event, error) {
	events, err := r.allEvents(ctx, src.Key)
	if err != nil {
		return nil, err
	}
	if upTo != "" {
		i := 0
		for i < len(events) && events[i].ID != upTo {
			i++
		}
		if i == len(events) {
			return nil, &Error{Code: Invalid, Message: "invalid fork", Fields: map[string]string{"from_session.include_up_to_event_id": "is not a visible event of the source session"}}
		}
		events = events[:i+1]
	}
	return events, nil
}

// fork copies the visible events and artifacts of src into the new session.
func (r *AliasRouter) fork(ctx context.Context, src *session.Session, key, upTo string) error {
	events, err := r.forkEvents(ctx, src, upTo)
	if err != nil {
		return err
	}
	for _, ev := range events {
		ev.SessionKey = key
	}
	for start := 0; start < len(events); start += 100 {
		end := min(start+100, len(events))
		if err := r.store.AppendEvents(ctx, r.tenant, key, events[start:end]); err != nil {
			return classify(err, "event", "")
		}
	}
	q := storage.ArtifactQuery{Limit: storage.MaxLimit, Order: storage.OrderAsc, Now: r.now()}
	for {
		page, err := r.store.ListArtifacts(ctx, r.tenant, src.Key, q)
		if err != nil {
			return classify(err, "artifact", "")
		}
		for _, a := range page.Items {
			full, err := r.store.Artifact(ctx, r.tenant, src.Key, a.ID)
			if err != nil {
				return classify(err, "artifact", a.ID)
			}
			full.SessionKey = key
			if err := r.store.CreateArtifact(ctx, r.tenant, full); err != nil {
				return classify(err, "artifact", a.ID)
			}
		}
		if page.Next == "" {
			return nil
		}
		q.PageKey = page.Next
	}
}

// allEvents returns every visible event of a session, oldest first.
func (r *AliasRouter) allEvents(ctx context.Context, key string) ([]*event.Event, error) {
	var out []*event.Event
	q := storage.EventQuery{Limit: storage.MaxLimit}
	for {
		page, err := r.store.ListEvents(ctx, r.tenant, key, q)
		if err != nil {
			return nil, sessionErr(err, key)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, nil
		}
		q.PageKey = page.Next
	}
}

// Session returns a session in scope, with its secrets masked.
func (r *AliasRouter) Session(ctx context.Context, scope Scope, key string) (*session.Session, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	s, err := r.session(ctx, scope, key)
	return masked(s), err
}

// ListSessions returns one page of the sessions in scope matching q, in
// creation order, with secrets masked. Listing through an alias that does
// not exist is NotFound.
func (r *AliasRouter) ListSessions(ctx context.Context, scope Scope, q storage.SessionQuery) (storage.Page[*session.Session], error) {
	var page storage.Page[*session.Session]
	if err := r.check(ctx); err != nil {
		return page, err
	}
	if !scope.valid() {
		return page, &Error{Code: Invalid, Message: "sessions are listed through exactly one alias or agent"}
	}
	if err := checkLimit(q.Limit); err != nil {
		return page, err
	}
	var createdAfter time.Time
	if scope.aliasKey != "" {
		a, err := r.store.Alias(ctx, r.tenant, scope.aliasKey)
		if err != nil {
			return page, aliasErr(err, scope.aliasKey)
		}
		createdAfter = a.CreatedAt
	}
	q.AliasKey, q.AgentKey, q.Now = scope.aliasKey, scope.agentKey, r.now()
	page, err := r.store.ListSessions(ctx, r.tenant, q)
	// Sessions of an earlier alias with the same key were not created
	// through this one.
	kept := page.Items[:0]
	for _, s := range page.Items {
		if !s.CreatedAt.Before(createdAfter) {
			kept = append(kept, masked(s))
		}
	}
	page.Items = kept
	return page, listErr(err)
}

// UpdateSession changes a session's name, description, metadata, enabled
// flag, idle time-to-live or secrets (the contract's PATCH). Its agent and
// alias never change.
func (r *AliasRouter) UpdateSession(ctx context.Context, scope Scope, key string, p session.Patch) (*session.Session, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, invalid(err, "invalid session update")
	}
	for range maxRetries {
		s, err := r.session(ctx, scope, key)
		if err != nil {
			return nil, err
		}
		changed, err := p.Apply(s, r.now())
		if err != nil {
			return nil, invalid(err, "invalid session update")
		}
		updated, err := r.store.UpdateSession(ctx, r.tenant, changed)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, sessionErr(err, key)
		}
		return masked(updated), nil
	}
	return nil, &Error{Code: Conflict, Message: "the session is being changed concurrently; retry"}
}

// DeleteSession deletes a session with its events and artifacts. A session
// with a running turn is Conflict: interrupt it first.
func (r *AliasRouter) DeleteSession(ctx context.Context, scope Scope, key string) error {
	if err := r.check(ctx); err != nil {
		return err
	}
	s, err := r.session(ctx, scope, key)
	if err != nil {
		return err
	}
	r.turnsMu.Lock()
	busy := r.turns[turnKey{r.tenant, s.Key}] != nil
	r.turnsMu.Unlock()
	// A turn run by another router sharing the store holds a claim.
	if busy || s.Status == session.Running && r.now().Before(s.TurnDeadline) {
		return &Error{Code: Conflict, Message: "Session is running; interrupt it before deleting it."}
	}
	return sessionErr(r.store.DeleteSession(ctx, r.tenant, key), key)
}

// OutstandingToolCalls returns the client tool calls the session's agent is
// waiting on (empty when none).
func (r *AliasRouter) OutstandingToolCalls(ctx context.Context, scope Scope, key string) ([]event.PendingCall, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	s, err := r.session(ctx, scope, key)
	if err != nil {
		return nil, err
	}
	out := make([]event.PendingCall, 0, len(s.PendingToolCalls))
	return append(out, s.PendingToolCalls...), nil
}

func sortStrings(s []string) { sort.Strings(s) }
