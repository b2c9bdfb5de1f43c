package agentalias

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/storage"
)

// maxRetries bounds compare-and-set loops against concurrent writers.
const maxRetries = 16

// CreateAlias creates an alias. Its policy is validated and compiled, and
// every agent it names must be registered: otherwise the error is Invalid,
// with the contract's message "Alias references unknown agent(s): [a, b]"
// for unknown agents and field errors ("policy.rules[0].match") for the
// rest. A key already in use is AlreadyExists.
func (r *AliasRouter) CreateAlias(ctx context.Context, p alias.Params) (*alias.Alias, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	a := p.New(r.now())
	if err := a.Validate(); err != nil {
		return nil, invalid(err, "invalid alias")
	}
	compiledPolicy, err := r.compile(&a.Policy, a.Stickiness)
	if err != nil {
		return nil, err
	}
	stored, err := r.store.CreateAlias(ctx, r.tenant, a)
	if err != nil {
		if errors.Is(err, storage.ErrExists) {
			return nil, &Error{Code: AlreadyExists, Message: "An alias with this key already exists.", Err: err}
		}
		return nil, classify(err, "alias", a.Key)
	}
	r.policies.Store(cacheKey{r.tenant, stored.Key}, newCompiled(stored, compiledPolicy))
	return stored, nil
}

// compile validates and compiles a policy and its stickiness, and checks
// that every agent it names is registered.
func (r *AliasRouter) compile(doc *policy.Document, st *policy.Stickiness) (policy.Policy, error) {
	p, err := policy.Compile(doc, st)
	if err != nil {
		return nil, invalid(err, "invalid policy")
	}
	if unknown := r.unknownAgents(doc.AgentKeys()); len(unknown) > 0 {
		return nil, &Error{Code: Invalid, Message: fmt.Sprintf("Alias references unknown agent(s): [%s]", strings.Join(unknown, ", "))}
	}
	return p, nil
}

// policyFor returns the compiled policy of a, from the cache when it holds
// a's revision. Another router sharing the store may have replaced the
// policy; the revision tells, so the cache is never stale.
func (r *AliasRouter) policyFor(a *alias.Alias) (policy.Policy, error) {
	key := cacheKey{r.tenant, a.Key}
	if v, ok := r.policies.Load(key); ok {
		if c := v.(*compiled); c.validFor(a) {
			return c.policy, nil
		}
	}
	p, err := policy.Compile(&a.Policy, a.Stickiness)
	if err != nil {
		// The store holds a policy that once compiled; this is not the
		// caller's fault.
		return nil, &Error{Code: Internal, Message: "the alias's stored policy does not compile", Err: err}
	}
	r.policies.Store(key, newCompiled(a, p))
	return p, nil
}

// newCompiled returns the cache entry for p, compiled from a's policy.
func newCompiled(a *alias.Alias, p policy.Policy) *compiled {
	return &compiled{revision: a.Revision, doc: a.Policy.Clone(), st: a.Stickiness.Clone(), policy: p}
}

// validFor reports whether c was compiled from a's policy and stickiness.
func (c *compiled) validFor(a *alias.Alias) bool {
	if c.revision != a.Revision || !c.doc.Equal(&a.Policy) || (c.st == nil) != (a.Stickiness == nil) {
		return false
	}
	return c.st == nil || *c.st == *a.Stickiness
}

// Alias returns the alias with key, or NotFound.
func (r *AliasRouter) Alias(ctx context.Context, key string) (*alias.Alias, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	a, err := r.store.Alias(ctx, r.tenant, key)
	if err != nil {
		return nil, aliasErr(err, key)
	}
	return a, nil
}

func aliasErr(err error, key string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return &Error{Code: NotFound, Message: "Alias not found", ID: key, Err: err}
	}
	return classify(err, "alias", key)
}

// ListAliases returns one page of aliases matching q, in order of key.
func (r *AliasRouter) ListAliases(ctx context.Context, q storage.AliasQuery) (storage.Page[*alias.Alias], error) {
	if err := r.check(ctx); err != nil {
		return storage.Page[*alias.Alias]{}, err
	}
	if err := checkLimit(q.Limit); err != nil {
		return storage.Page[*alias.Alias]{}, err
	}
	page, err := r.store.ListAliases(ctx, r.tenant, q)
	return page, listErr(err)
}

func checkLimit(limit int) error {
	if limit < 0 || limit > storage.MaxLimit {
		return &Error{Code: Invalid, Message: "invalid limit", Fields: map[string]string{"limit": fmt.Sprintf("must be between 1 and %d", storage.MaxLimit)}}
	}
	return nil
}

func listErr(err error) error {
	if errors.Is(err, storage.ErrInvalid) {
		return &Error{Code: Invalid, Message: "invalid page_key", Fields: map[string]string{"page_key": "is not a page key this list produced"}, Err: err}
	}
	return classify(err, "list", "")
}

// UpdateAlias changes an alias's name, description, enabled flag or
// metadata (the contract's PATCH). The policy changes only through
// ReplacePolicy.
func (r *AliasRouter) UpdateAlias(ctx context.Context, key string, p alias.Patch) (*alias.Alias, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, invalid(err, "invalid alias update")
	}
	return r.updateAlias(ctx, key, func(a *alias.Alias) *alias.Alias { return p.Apply(a, r.now()) })
}

// updateAlias applies change to the stored alias with compare-and-set,
// retrying when another writer got there first.
func (r *AliasRouter) updateAlias(ctx context.Context, key string, change func(*alias.Alias) *alias.Alias) (*alias.Alias, error) {
	for range maxRetries {
		a, err := r.store.Alias(ctx, r.tenant, key)
		if err != nil {
			return nil, aliasErr(err, key)
		}
		updated, err := r.store.UpdateAlias(ctx, r.tenant, change(a))
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, aliasErr(err, key)
		}
		return updated, nil
	}
	return nil, &Error{Code: Conflict, Message: "the alias is being changed concurrently; retry"}
}

// ReplacePolicy replaces an alias's policy and stickiness, whole and
// atomically (the contract's PUT /policy): every session created afterwards,
// through this router or another sharing the store, uses the new policy,
// and sessions created before keep their agent. st may be nil for none.
func (r *AliasRouter) ReplacePolicy(ctx context.Context, key string, doc policy.Document, st *policy.Stickiness) (*alias.Alias, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	compiledPolicy, err := r.compile(&doc, st)
	if err != nil {
		return nil, err
	}
	now := r.now()
	updated, err := r.updateAlias(ctx, key, func(a *alias.Alias) *alias.Alias {
		a.Policy = *doc.Clone()
		a.Stickiness = st.Clone()
		a.UpdatedAt = now
		return a
	})
	if err != nil {
		return nil, err
	}
	r.policies.Store(cacheKey{r.tenant, key}, newCompiled(updated, compiledPolicy))
	return updated, nil
}

// DeleteAlias deletes an alias and its sticky pins. It is Conflict while an
// enabled session created through the alias exists, or while the host's
// CanDeleteAlias hook objects. The agents are not affected, and neither are
// the alias's sessions (they stay reachable through their agent).
func (r *AliasRouter) DeleteAlias(ctx context.Context, key string) error {
	if err := r.check(ctx); err != nil {
		return err
	}
	if _, err := r.store.Alias(ctx, r.tenant, key); err != nil {
		return aliasErr(err, key)
	}
	if hook := r.opts.CanDeleteAlias; hook != nil {
		if err := hook(ctx, r.tenant, key); err != nil {
			return &Error{Code: Conflict, Message: "The alias has live references that prevent deletion: " + err.Error(), Err: err}
		}
	}
	err := r.store.DeleteAlias(ctx, r.tenant, key, r.now())
	switch {
	case errors.Is(err, storage.ErrConflict):
		return &Error{Code: Conflict, Message: "The alias has live references (enabled sessions created through it) that prevent deletion.", Err: err}
	case err != nil:
		return aliasErr(err, key)
	}
	r.policies.Delete(cacheKey{r.tenant, key})
	return nil
}
