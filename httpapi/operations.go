package httpapi

import (
	"net/http"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/validate"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

const (
	aliasesPath      = "/v2/agent_aliases"
	aliasPath        = aliasesPath + "/{alias_key}"
	aliasSessions    = aliasPath + "/sessions"
	aliasSession     = aliasSessions + "/{session_key}"
	agentSessions    = "/v2/agents/{agent_key}/sessions"
	agentSession     = agentSessions + "/{session_key}"
	eventsSuffix     = "/events"
	eventSuffix      = "/events/{event_id}"
	toolCallsSuffix  = "/outstanding_client_tool_calls"
	artifactsSuffix  = "/artifacts"
	artifactSuffix   = "/artifacts/{artifact_id}"
	hideSuffix       = "/hide"
	unhideSuffix     = "/unhide"
	openAPIPath      = "/v2/openapi.json"
	operationOpenAPI = "getOpenAPIDocument"
)

// operations lists every route: the contract's 20 alias operations, the
// agent-scoped session operations, and this library's OpenAPI document.
var operations = []op{
	{http.MethodPost, aliasesPath, "createAgentAlias", (*Handler).createAlias},
	{http.MethodGet, aliasesPath, "listAgentAliases", (*Handler).listAliases},
	{http.MethodGet, aliasPath, "getAgentAlias", (*Handler).getAlias},
	{http.MethodPatch, aliasPath, "updateAgentAlias", (*Handler).updateAlias},
	{http.MethodDelete, aliasPath, "deleteAgentAlias", (*Handler).deleteAlias},
	{http.MethodPut, aliasPath + "/policy", "replaceAgentAliasPolicy", (*Handler).replacePolicy},

	{http.MethodPost, aliasSessions, "createAliasRoutedSession", (*Handler).createSession},
	{http.MethodGet, aliasSessions, "listAliasRoutedSessions", (*Handler).listSessions},
	{http.MethodGet, aliasSession, "getAliasRoutedSession", (*Handler).getSession},
	{http.MethodPatch, aliasSession, "updateAliasRoutedSession", (*Handler).updateSession},
	{http.MethodDelete, aliasSession, "deleteAliasRoutedSession", (*Handler).deleteSession},
	{http.MethodPost, aliasSession + eventsSuffix, "createAliasRoutedInput", (*Handler).createInput},
	{http.MethodGet, aliasSession + eventsSuffix, "listAliasRoutedEvents", (*Handler).listEvents},
	{http.MethodGet, aliasSession + toolCallsSuffix, "listAliasRoutedOutstandingClientToolCalls", (*Handler).listToolCalls},
	{http.MethodGet, aliasSession + eventSuffix, "getAliasRoutedEvent", (*Handler).getEvent},
	{http.MethodDelete, aliasSession + eventSuffix, "deleteAliasRoutedEvent", (*Handler).deleteEvent},
	{http.MethodPost, aliasSession + eventSuffix + hideSuffix, "hideAliasRoutedEvent", (*Handler).hideEvent},
	{http.MethodPost, aliasSession + eventSuffix + unhideSuffix, "unhideAliasRoutedEvent", (*Handler).unhideEvent},
	{http.MethodGet, aliasSession + artifactsSuffix, "listAliasRoutedSessionArtifacts", (*Handler).listArtifacts},
	{http.MethodGet, aliasSession + artifactSuffix, "getAliasRoutedSessionArtifact", (*Handler).getArtifact},

	{http.MethodPost, agentSessions, "createAgentSession", (*Handler).createSession},
	{http.MethodGet, agentSessions, "listAgentSessions", (*Handler).listSessions},
	{http.MethodGet, agentSession, "getAgentSession", (*Handler).getSession},
	{http.MethodPatch, agentSession, "updateAgentSession", (*Handler).updateSession},
	{http.MethodDelete, agentSession, "deleteAgentSession", (*Handler).deleteSession},
	{http.MethodPost, agentSession + eventsSuffix, "createAgentInput", (*Handler).createInput},
	{http.MethodGet, agentSession + eventsSuffix, "listAgentEvents", (*Handler).listEvents},
	{http.MethodGet, agentSession + toolCallsSuffix, "listOutstandingClientToolCalls", (*Handler).listToolCalls},
	{http.MethodGet, agentSession + eventSuffix, "getAgentEvent", (*Handler).getEvent},
	{http.MethodDelete, agentSession + eventSuffix, "deleteAgentEvent", (*Handler).deleteEvent},
	{http.MethodPost, agentSession + eventSuffix + hideSuffix, "hideAgentEvent", (*Handler).hideEvent},
	{http.MethodPost, agentSession + eventSuffix + unhideSuffix, "unhideAgentEvent", (*Handler).unhideEvent},
	{http.MethodGet, agentSession + artifactsSuffix, "listSessionArtifacts", (*Handler).listArtifacts},
	{http.MethodGet, agentSession + artifactSuffix, "getSessionArtifact", (*Handler).getArtifact},

	{http.MethodGet, openAPIPath, operationOpenAPI, (*Handler).openAPI},
}

// ---- aliases

func (h *Handler) createAlias(c *call) error {
	var p alias.Params
	if err := h.decode(c, &p); err != nil {
		return err
	}
	a, err := c.router.CreateAlias(c.r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, a)
	return nil
}

func (h *Handler) listAliases(c *call) error {
	q := newQuery(c)
	aq := storage.AliasQuery{Limit: q.limit(), PageKey: q.str("page_key"), Enabled: q.boolean("enabled"),
		AgentKey: q.key("aliased_agent_key"), Filter: q.regexp("filter")}
	if err := q.err(); err != nil {
		return err
	}
	page, err := c.router.ListAliases(c.r.Context(), aq)
	if err != nil {
		return err
	}
	return list(c, "aliases", nonNil(page.Items), page.Next)
}

func (h *Handler) getAlias(c *call) error {
	key, err := pathKey(c, "alias_key")
	if err != nil {
		return err
	}
	a, err := c.router.Alias(c.r.Context(), key)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, a)
	return nil
}

func (h *Handler) updateAlias(c *call) error {
	key, err := pathKey(c, "alias_key")
	if err != nil {
		return err
	}
	var p alias.Patch
	if err := h.decode(c, &p); err != nil {
		return err
	}
	a, err := c.router.UpdateAlias(c.r.Context(), key, p)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, a)
	return nil
}

func (h *Handler) deleteAlias(c *call) error {
	key, err := pathKey(c, "alias_key")
	if err != nil {
		return err
	}
	if err := c.router.DeleteAlias(c.r.Context(), key); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// replacePolicyRequest is the contract's ReplaceAliasPolicyRequest, with our
// stickiness beside the policy.
type replacePolicyRequest struct {
	Policy     policy.Document
	Stickiness *policy.Stickiness
}

func (p *replacePolicyRequest) UnmarshalJSON(b []byte) error {
	fields, names, err := jsonvalue.Fields(b)
	if err != nil {
		return err
	}
	var errs validate.Errors
	var out replacePolicyRequest
	for _, name := range names {
		raw := fields[name]
		switch name {
		case "policy":
			errs.MergeErr(name, out.Policy.UnmarshalJSON(raw))
		case "stickiness":
			if !jsonvalue.IsNull(raw) {
				out.Stickiness = new(policy.Stickiness)
				errs.MergeErr(name, out.Stickiness.UnmarshalJSON(raw))
			}
		default:
			errs.Add(name, "unknown field")
		}
	}
	if _, ok := fields["policy"]; !ok {
		errs.Add("policy", "is required")
	}
	if err := errs.Err(); err != nil {
		return err
	}
	*p = out
	return nil
}

func (h *Handler) replacePolicy(c *call) error {
	key, err := pathKey(c, "alias_key")
	if err != nil {
		return err
	}
	var p replacePolicyRequest
	if err := h.decode(c, &p); err != nil {
		return err
	}
	a, err := c.router.ReplacePolicy(c.r.Context(), key, p.Policy, p.Stickiness)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, a)
	return nil
}

// ---- sessions

// scope returns the scope of the request's path: through an alias or an
// agent.
func scope(c *call) (agentalias.Scope, error) {
	if c.r.PathValue("alias_key") != "" {
		key, err := pathKey(c, "alias_key")
		return agentalias.ViaAlias(key), err
	}
	key, err := pathKey(c, "agent_key")
	return agentalias.ViaAgent(key), err
}

// sessionPath returns the scope and session key of the request's path.
func sessionPath(c *call) (agentalias.Scope, string, error) {
	sc, err := scope(c)
	if err != nil {
		return sc, "", err
	}
	key, err := pathKey(c, "session_key")
	return sc, key, err
}

func (h *Handler) createSession(c *call) error {
	sc, err := scope(c)
	if err != nil {
		return err
	}
	var p session.Params
	if err := h.decode(c, &p); err != nil {
		return err
	}
	s, err := c.router.CreateSession(c.r.Context(), sc, p)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, s)
	return nil
}

func (h *Handler) listSessions(c *call) error {
	sc, err := scope(c)
	if err != nil {
		return err
	}
	q := newQuery(c)
	sq := storage.SessionQuery{Limit: q.limit(), PageKey: q.str("page_key"), Filter: q.regexp("filter")}
	if err := q.err(); err != nil {
		return err
	}
	page, err := c.router.ListSessions(c.r.Context(), sc, sq)
	if err != nil {
		return err
	}
	return list(c, "sessions", nonNil(page.Items), page.Next)
}

func (h *Handler) getSession(c *call) error {
	sc, key, err := sessionPath(c)
	if err != nil {
		return err
	}
	s, err := c.router.Session(c.r.Context(), sc, key)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, s)
	return nil
}

func (h *Handler) updateSession(c *call) error {
	sc, key, err := sessionPath(c)
	if err != nil {
		return err
	}
	var p session.Patch
	if err := h.decode(c, &p); err != nil {
		return err
	}
	s, err := c.router.UpdateSession(c.r.Context(), sc, key, p)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, s)
	return nil
}

func (h *Handler) deleteSession(c *call) error {
	sc, key, err := sessionPath(c)
	if err != nil {
		return err
	}
	if err := c.router.DeleteSession(c.r.Context(), sc, key); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listToolCalls(c *call) error {
	sc, key, err := sessionPath(c)
	if err != nil {
		return err
	}
	calls, err := c.router.OutstandingToolCalls(c.r.Context(), sc, key)
	if err != nil {
		return err
	}
	for i := range calls {
		if calls[i].Arguments == nil {
			calls[i].Arguments = map[string]any{}
		}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"client_tool_calls": calls})
	return nil
}

// ---- events

// eventPath returns the scope, session key and event id of the path.
func eventPath(c *call) (agentalias.Scope, string, string, error) {
	sc, key, err := sessionPath(c)
	if err != nil {
		return sc, "", "", err
	}
	id, err := pathID(c, "event_id", "aev_", false)
	return sc, key, id, err
}

func (h *Handler) listEvents(c *call) error {
	sc, key, err := sessionPath(c)
	if err != nil {
		return err
	}
	q := newQuery(c)
	eq := storage.EventQuery{Limit: q.limit(), PageKey: q.str("page_key")}
	if b := q.boolean("include_hidden"); b != nil {
		eq.IncludeHidden = *b
	}
	if err := q.err(); err != nil {
		return err
	}
	page, err := c.router.ListEvents(c.r.Context(), sc, key, eq)
	if err != nil {
		return err
	}
	return list(c, "events", nonNil(page.Items), page.Next)
}

func (h *Handler) getEvent(c *call) error {
	sc, key, id, err := eventPath(c)
	if err != nil {
		return err
	}
	ev, err := c.router.Event(c.r.Context(), sc, key, id)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, ev)
	return nil
}

func (h *Handler) deleteEvent(c *call) error {
	sc, key, id, err := eventPath(c)
	if err != nil {
		return err
	}
	if err := c.router.DeleteEvent(c.r.Context(), sc, key, id); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) hideEvent(c *call) error   { return h.setHidden(c, true) }
func (h *Handler) unhideEvent(c *call) error { return h.setHidden(c, false) }

func (h *Handler) setHidden(c *call, hide bool) error {
	sc, key, id, err := eventPath(c)
	if err != nil {
		return err
	}
	var ev *event.Event
	if hide {
		ev, err = c.router.HideEvent(c.r.Context(), sc, key, id)
	} else {
		ev, err = c.router.UnhideEvent(c.r.Context(), sc, key, id)
	}
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, ev)
	return nil
}

// ---- artifacts

func (h *Handler) listArtifacts(c *call) error {
	sc, key, err := sessionPath(c)
	if err != nil {
		return err
	}
	q := newQuery(c)
	aq := storage.ArtifactQuery{Limit: q.limit(), PageKey: q.str("page_key"),
		SortBy: q.oneOf("sort_by", storage.SortCreatedAt, storage.SortUpdatedAt),
		Order:  q.oneOf("order_by", storage.OrderAsc, storage.OrderDesc)}
	if err := q.err(); err != nil {
		return err
	}
	page, err := c.router.ListArtifacts(c.r.Context(), sc, key, aq)
	if err != nil {
		return err
	}
	return list(c, "artifacts", nonNil(page.Items), page.Next)
}

func (h *Handler) getArtifact(c *call) error {
	sc, key, err := sessionPath(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "artifact_id", "art_", true)
	if err != nil {
		return err
	}
	a, err := c.router.Artifact(c.r.Context(), sc, key, id)
	if err != nil {
		return err
	}
	if a.Data == nil {
		a.Data = []byte{}
	}
	writeJSON(c.w, http.StatusOK, a)
	return nil
}

// nonNil makes lists encode as [] rather than null.
func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}
