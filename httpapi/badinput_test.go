package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/httpapi"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// ---- snapshots of everything a router stores

// state is everything one tenant of a router holds, read through the
// router: aliases, and per session its events (hidden ones too), artifacts
// with their content, and outstanding client tool calls.
type state struct {
	Aliases  []*alias.Alias
	Sessions []sessionState
}

type sessionState struct {
	Session   *session.Session
	Events    []*event.Event
	Artifacts []*artifact.Artifact
	Pending   []event.PendingCall
}

// snapshot reads the whole state of r's tenant.
func snapshot(t *testing.T, r *agentalias.AliasRouter) state {
	t.Helper()
	ctx := context.Background()
	var st state
	for q := (storage.AliasQuery{Limit: storage.MaxLimit}); ; {
		page, err := r.ListAliases(ctx, q)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		st.Aliases = append(st.Aliases, page.Items...)
		if q.PageKey = page.Next; q.PageKey == "" {
			break
		}
	}
	for _, agent := range r.Agents() {
		sc := agentalias.ViaAgent(agent)
		for q := (storage.SessionQuery{Limit: storage.MaxLimit}); ; {
			page, err := r.ListSessions(ctx, sc, q)
			if err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			for _, s := range page.Items {
				st.Sessions = append(st.Sessions, snapshotSession(t, r, sc, s))
			}
			if q.PageKey = page.Next; q.PageKey == "" {
				break
			}
		}
	}
	return st
}

func snapshotSession(t *testing.T, r *agentalias.AliasRouter, sc agentalias.Scope, s *session.Session) sessionState {
	t.Helper()
	ctx := context.Background()
	ss := sessionState{Session: s}
	for q := (storage.EventQuery{Limit: storage.MaxLimit, IncludeHidden: true}); ; {
		page, err := r.ListEvents(ctx, sc, s.Key, q)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		ss.Events = append(ss.Events, page.Items...)
		if q.PageKey = page.Next; q.PageKey == "" {
			break
		}
	}
	for q := (storage.ArtifactQuery{Limit: storage.MaxLimit}); ; {
		page, err := r.ListArtifacts(ctx, sc, s.Key, q)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		for _, a := range page.Items {
			full, err := r.Artifact(ctx, sc, s.Key, a.ID)
			if err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			ss.Artifacts = append(ss.Artifacts, full)
		}
		if q.PageKey = page.Next; q.PageKey == "" {
			break
		}
	}
	calls, err := r.OutstandingToolCalls(ctx, sc, s.Key)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	ss.Pending = calls
	return ss
}

// unchanged fails if the state of r differs from before.
func unchanged(t *testing.T, r *agentalias.AliasRouter, before state) {
	t.Helper()
	if d := cmp.Diff(before, snapshot(t, r)); d != "" {
		t.Errorf("a refused request changed the stored state (-before +after):\n%s", d)
	}
}

// ---- the routes, as templates

// route is one operation: its method, its path template with the
// placeholders {alias}, {agent}, {session}, {event} and {artifact}, its
// operationId, a valid body (nil for none), and, for lists, the query
// parameters it takes besides limit and page_key.
type route struct {
	method, path, id string
	body             func() any
	list             bool
}

// aliasScoped and agentScoped are the prefixes of the two session families.
const (
	aliasScoped = "/v2/agent_aliases/{alias}/sessions"
	agentScoped = "/v2/agents/{agent}/sessions"
)

// allRoutes is every operation the handler serves.
func allRoutes() []route {
	validAlias := func() any {
		return map[string]any{"key": "new-alias", "name": "New", "policy": singlePolicy("support-v1")}
	}
	patchAlias := func() any { return map[string]any{"name": "Renamed"} }
	newPolicy := func() any { return map[string]any{"policy": singlePolicy("support-v2")} }
	newSession := func() any { return map[string]any{"key": "new-session"} }
	patchSession := func() any { return map[string]any{"name": "Renamed"} }
	input := func() any { return textInput("hello") }
	rs := []route{
		{http.MethodPost, "/v2/agent_aliases", "createAgentAlias", validAlias, false},
		{http.MethodGet, "/v2/agent_aliases", "listAgentAliases", nil, true},
		{http.MethodGet, "/v2/agent_aliases/{alias}", "getAgentAlias", nil, false},
		{http.MethodPatch, "/v2/agent_aliases/{alias}", "updateAgentAlias", patchAlias, false},
		{http.MethodDelete, "/v2/agent_aliases/{alias}", "deleteAgentAlias", nil, false},
		{http.MethodPut, "/v2/agent_aliases/{alias}/policy", "replaceAgentAliasPolicy", newPolicy, false},
	}
	for _, fam := range []struct{ prefix, alias, agent string }{
		{aliasScoped, "AliasRouted", "Agent"},
		{agentScoped, "", "Agent"},
	} {
		id := func(aliasName, agentName string) string {
			if fam.prefix == aliasScoped {
				return aliasName
			}
			return agentName
		}
		s := fam.prefix + "/{session}"
		rs = append(rs,
			route{http.MethodPost, fam.prefix, id("createAliasRoutedSession", "createAgentSession"), newSession, false},
			route{http.MethodGet, fam.prefix, id("listAliasRoutedSessions", "listAgentSessions"), nil, true},
			route{http.MethodGet, s, id("getAliasRoutedSession", "getAgentSession"), nil, false},
			route{http.MethodPatch, s, id("updateAliasRoutedSession", "updateAgentSession"), patchSession, false},
			route{http.MethodDelete, s, id("deleteAliasRoutedSession", "deleteAgentSession"), nil, false},
			route{http.MethodPost, s + "/events", id("createAliasRoutedInput", "createAgentInput"), input, false},
			route{http.MethodGet, s + "/events", id("listAliasRoutedEvents", "listAgentEvents"), nil, true},
			route{http.MethodGet, s + "/outstanding_client_tool_calls", id("listAliasRoutedOutstandingClientToolCalls", "listOutstandingClientToolCalls"), nil, false},
			route{http.MethodGet, s + "/events/{event}", id("getAliasRoutedEvent", "getAgentEvent"), nil, false},
			route{http.MethodDelete, s + "/events/{event}", id("deleteAliasRoutedEvent", "deleteAgentEvent"), nil, false},
			route{http.MethodPost, s + "/events/{event}/hide", id("hideAliasRoutedEvent", "hideAgentEvent"), nil, false},
			route{http.MethodPost, s + "/events/{event}/unhide", id("unhideAliasRoutedEvent", "unhideAgentEvent"), nil, false},
			route{http.MethodGet, s + "/artifacts", id("listAliasRoutedSessionArtifacts", "listSessionArtifacts"), nil, true},
			route{http.MethodGet, s + "/artifacts/{artifact}", id("getAliasRoutedSessionArtifact", "getSessionArtifact"), nil, false},
		)
	}
	return append(rs, route{http.MethodGet, "/v2/openapi.json", "getOpenAPIDocument", nil, false})
}

// world is a fixture with one of everything: alias "support" (and
// "other"), session "chat-1" created through it (agent support-v1) with an
// artifact, visible and hidden events and an outstanding tool call, and
// session "direct" created on support-v2.
type world struct {
	*fixture
	eventID, artifactID string
}

func newWorld(t *testing.T, hopts *httpapi.Options, hdr ...string) *world {
	t.Helper()
	f := newFixture(t, hopts, nil)
	return populate(t, f, hdr...)
}

// populate creates the world's items in f, sending hdr with every request.
func populate(t *testing.T, f *fixture, hdr ...string) *world {
	t.Helper()
	h := f.h
	w := &world{fixture: f}
	createAlias(t, h, "support", tenantPolicy(), hdr...)
	createAlias(t, h, "other", singlePolicy("support-v2"), hdr...)
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", map[string]any{"key": "chat-1", "secrets": map[string]any{"token": "s3cret"}}, hdr...)
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agents/support-v2/sessions", map[string]any{"key": "direct"}, hdr...)
	resp := call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions/chat-1/events", textInput("artifact report.txt"), hdr...)
	evs := resp["events"].([]any)
	w.eventID = evs[0].(map[string]any)["id"].(string)
	w.artifactID = evs[1].(map[string]any)["artifacts"].([]any)[0].(map[string]any)["artifact_id"].(string)
	hide := evs[2].(map[string]any)["id"].(string)
	call(t, h, http.StatusOK, http.MethodPost, "/v2/agent_aliases/support/sessions/chat-1/events/"+hide+"/hide", nil, hdr...)
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions/chat-1/events", textInput("tool"), hdr...)
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agents/support-v2/sessions/direct/events", textInput("hi"), hdr...)
	return w
}

// placeholders are the world's values for the path placeholders.
func (w *world) placeholders() map[string]string {
	return map[string]string{"alias": "support", "agent": "support-v1", "session": "chat-1", "event": w.eventID, "artifact": w.artifactID}
}

// fill replaces the placeholders of a path template: with bad[name] when
// set, with the world's values otherwise.
func (w *world) fill(path string, bad map[string]string) string {
	for name, v := range w.placeholders() {
		if b, ok := bad[name]; ok {
			v = b
		}
		path = strings.ReplaceAll(path, "{"+name+"}", v)
	}
	return path
}

// badCase is one bad request and what it must answer.
type badCase struct {
	name   string
	method string
	path   string
	body   any
	status int
	field  string // the field_errors key that must name the problem, or ""
	msg    string // a message that must be among messages, or ""
	hdr    []string
}

// run sends the bad request and checks the answer and that nothing changed.
func (w *world) run(t *testing.T, c badCase) {
	t.Helper()
	before := snapshot(t, w.router)
	var fields []string
	if c.field != "" {
		fields = append(fields, c.field)
	}
	checkError(t, do(t, w.h, c.method, c.path, c.body, c.hdr...), c.status, c.msg, fields...)
	unchanged(t, w.router, before)
}

// pathParams are the path parameters of the templates, with bad values for
// each and the name of the parameter in field_errors.
var pathParams = []struct {
	placeholder, field string
	bad                map[string]string // case name -> value as it appears in the URL
}{
	{"alias", "alias_key", map[string]string{"Space": "bad%20key%21", "TooLong": strings.Repeat("a", 51), "Dot": "sup.port"}},
	{"agent", "agent_key", map[string]string{"Space": "bad%20key%21", "TooLong": strings.Repeat("a", 51)}},
	{"session", "session_key", map[string]string{"TooLong": strings.Repeat("s", 51), "Space": "chat%201", "Unicode": "ch%C3%A4t"}},
	{"event", "event_id", map[string]string{"NoPrefix": "evt_1", "PrefixOnly": "aev_", "BadChar": "aev_bad%21"}},
	{"artifact", "artifact_id", map[string]string{"Uppercase": "art_ABC", "NoPrefix": "report", "PrefixOnly": "art_"}},
}

const maxBody = 4096

// TestBadPathParameters sends every route a malformed key or id in each of
// its path parameters.
func TestBadPathParameters(t *testing.T) {
	w := newWorld(t, &httpapi.Options{MaxBodyBytes: maxBody})
	n := 0
	for _, rt := range allRoutes() {
		for _, p := range pathParams {
			if !strings.Contains(rt.path, "{"+p.placeholder+"}") {
				continue
			}
			for name, v := range p.bad {
				var body any
				if rt.body != nil {
					body = rt.body()
				}
				c := badCase{method: rt.method, path: w.fill(rt.path, map[string]string{p.placeholder: v}), body: body,
					status: http.StatusBadRequest, field: p.field}
				t.Run(rt.id+"/"+p.field+"/"+name, func(t *testing.T) { w.run(t, c) })
				n++
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d cases", n)
	}
}

// TestBadTimeoutHeaders sends every route malformed Request-Timeout and
// Request-Timeout-Millis headers.
func TestBadTimeoutHeaders(t *testing.T) {
	w := newWorld(t, &httpapi.Options{MaxBodyBytes: maxBody})
	bad := map[string]string{"Zero": "0", "Negative": "-1", "Fraction": "1.5", "Word": "soon", "Overflow": "99999999999999999999", "Huge": "9223372036854775807"}
	for _, rt := range allRoutes() {
		for _, name := range []string{"Request-Timeout", "Request-Timeout-Millis"} {
			for caseName, v := range bad {
				if caseName == "Huge" && name == "Request-Timeout-Millis" {
					continue // 2^63-1 ms fits a time.Duration
				}
				var body any
				if rt.body != nil {
					body = rt.body()
				}
				c := badCase{method: rt.method, path: w.fill(rt.path, nil), body: body, hdr: []string{name, v},
					status: http.StatusBadRequest, field: name}
				t.Run(rt.id+"/"+name+"/"+caseName, func(t *testing.T) { w.run(t, c) })
			}
		}
	}
}

// TestBadBodies sends every route with a JSON body malformed, trailing,
// non-object, empty, oversize and unknown-field bodies.
func TestBadBodies(t *testing.T) {
	w := newWorld(t, &httpapi.Options{MaxBodyBytes: maxBody})
	for _, rt := range allRoutes() {
		if rt.body == nil {
			continue
		}
		path := w.fill(rt.path, nil)
		valid := rt.body().(map[string]any)
		withUnknown := rt.body().(map[string]any)
		withUnknown["bogus_field"] = 1
		big := rt.body().(map[string]any)
		big["name"] = strings.Repeat("x", maxBody)
		cases := []badCase{
			{name: "Malformed", body: `{"name": `, status: 400},
			{name: "MalformedToken", body: `{name: "x"}`, status: 400},
			{name: "TrailingObject", body: mustJSON(t, valid) + ` {}`, status: 400},
			{name: "TrailingGarbage", body: mustJSON(t, valid) + `x`, status: 400},
			{name: "TrailingComma", body: mustJSON(t, valid) + `,`, status: 400},
			{name: "Array", body: `[]`, status: 400},
			{name: "ArrayOfObject", body: `[` + mustJSON(t, valid) + `]`, status: 400},
			{name: "String", body: `"hello"`, status: 400},
			{name: "Number", body: `42`, status: 400},
			{name: "Null", body: `null`, status: 400},
			{name: "Bool", body: `true`, status: 400},
			{name: "Empty", body: ``, status: 400},
			{name: "Blank", body: "  \n ", status: 400},
			{name: "UnknownField", body: withUnknown, status: 400, field: "bogus_field"},
			{name: "Oversize", body: big, status: http.StatusRequestEntityTooLarge},
			{name: "OversizeGarbage", body: strings.Repeat("[", maxBody+1), status: http.StatusRequestEntityTooLarge},
		}
		for _, c := range cases {
			c.method, c.path = rt.method, path
			t.Run(rt.id+"/"+c.name, func(t *testing.T) { w.run(t, c) })
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBadFields sends each body route wrong types and invalid values, and
// checks the field error names the field.
func TestBadFields(t *testing.T) {
	w := newWorld(t, &httpapi.Options{MaxBodyBytes: maxBody})
	pol := singlePolicy("support-v1")
	aliasBody := func(kv ...any) map[string]any {
		m := map[string]any{"key": "new-alias", "name": "New", "policy": pol}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	msg := func(content any) map[string]any {
		return map[string]any{"messages": []any{map[string]any{"type": "text", "content": content}}}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	type fieldCase struct {
		name  string
		body  any
		field string
	}
	sessionCases := []fieldCase{
		{"KeyNumber", `{"key": 5}`, "key"},
		{"KeyInvalid", `{"key": "bad key"}`, "key"},
		{"KeyTooLong", map[string]any{"key": strings.Repeat("k", 51)}, "key"},
		{"NameNumber", `{"name": 5}`, "name"},
		{"NameTooLong", map[string]any{"name": strings.Repeat("n", 101)}, "name"},
		{"DescriptionObject", `{"description": {}}`, "description"},
		{"MetadataString", `{"metadata": "x"}`, "metadata"},
		{"MetadataArray", `{"metadata": []}`, "metadata"},
		{"EnabledString", `{"enabled": "yes"}`, "enabled"},
		{"TTIString", `{"tti_minutes": "5"}`, "tti_minutes"},
		{"TTIFraction", `{"tti_minutes": 1.5}`, "tti_minutes"},
		{"TTINegative", `{"tti_minutes": -1}`, "tti_minutes"},
		{"SecretsNumber", `{"secrets": {"token": 5}}`, "secrets"},
		{"SecretsArray", `{"secrets": ["x"]}`, "secrets"},
	}
	patchSessionCases := []fieldCase{
		{"NameNumber", `{"name": 5}`, "name"},
		{"EnabledNull", `{"enabled": null}`, "enabled"},
		{"EnabledString", `{"enabled": "no"}`, "enabled"},
		{"TTIString", `{"tti_minutes": "x"}`, "tti_minutes"},
		{"TTINegative", `{"tti_minutes": -5}`, "tti_minutes"},
		{"MetadataString", `{"metadata": "x"}`, "metadata"},
		{"SecretsNumber", `{"secrets": {"token": 5}}`, "secrets"},
		{"KeyImmutable", `{"key": "other"}`, "key"},
		{"AgentKeyImmutable", `{"agent_key": "support-v2"}`, "agent_key"},
	}
	inputCases := []fieldCase{
		{"MessagesString", `{"messages": "hi"}`, "messages"},
		{"MessagesEmpty", `{"messages": []}`, "messages"},
		{"MessagesMissing", `{"type": "input_message"}`, "messages"},
		{"MessageNotObject", `{"messages": ["hi"]}`, "messages[0]"},
		{"ContentNumber", msg(5), "messages[0].content"},
		{"MessageUnknownField", `{"messages": [{"type": "text", "content": "x", "lang": "en"}]}`, "messages[0].lang"},
		{"MessageType", `{"messages": [{"type": "video", "content": "x"}]}`, "messages[0].type"},
		{"StreamString", with(msg("x"), "stream_response", "yes"), "stream_response"},
		{"TypeNumber", with(msg("x"), "type", 5), "type"},
		{"TypeUnknown", with(msg("x"), "type", "shout"), "type"},
		{"TypeCompact", `{"type": "compact"}`, "type"},
		{"SinceBad", with(msg("x"), "since", "yesterday"), "since"},
		{"BehaviorBad", with(msg("x"), "behavior", "later"), "behavior"},
		{"ToolOutputsString", `{"type": "tool_output", "tool_outputs": "x"}`, "tool_outputs"},
		{"ToolOutputsEmpty", `{"type": "tool_output", "tool_outputs": []}`, "tool_outputs"},
		{"ToolOutputBadType", `{"type": "tool_output", "tool_outputs": [{"type": "maybe", "event_id": "aev_call_4", "output": {}}]}`, "tool_outputs[0].type"},
		{"ToolOutputBadID", `{"type": "tool_output", "tool_outputs": [{"type": "success", "event_id": "call_4", "output": {}}]}`, "tool_outputs[0].event_id"},
		{"ToolOutputUnknownCall", `{"type": "tool_output", "tool_outputs": [{"type": "success", "event_id": "aev_nope", "output": {}}]}`, "tool_outputs[0].event_id"},
		{"ToolOutputOutputArray", `{"type": "tool_output", "tool_outputs": [{"type": "success", "event_id": "aev_call_4", "output": []}]}`, "tool_outputs[0].output"},
	}
	byRoute := map[string][]fieldCase{
		"createAgentAlias": {
			{"KeyMissing", aliasBody("key", nil), "key"},
			{"KeyNumber", aliasBody("key", 42), "key"},
			{"KeyInvalid", aliasBody("key", "bad key!"), "key"},
			{"KeyTooLong", aliasBody("key", strings.Repeat("a", 51)), "key"},
			{"NameMissing", aliasBody("name", nil), "name"},
			{"NameBool", aliasBody("name", true), "name"},
			{"NameEmpty", aliasBody("name", ""), "name"},
			{"NameTooLong", aliasBody("name", strings.Repeat("n", 101)), "name"},
			{"DescriptionNumber", aliasBody("description", 1), "description"},
			{"EnabledString", aliasBody("enabled", "yes"), "enabled"},
			{"MetadataArray", aliasBody("metadata", []any{1}), "metadata"},
			{"PolicyMissing", aliasBody("policy", nil), "policy"},
			{"PolicyString", aliasBody("policy", "routed"), "policy"},
		},
		"updateAgentAlias": {
			{"NameNumber", `{"name": 1}`, "name"},
			{"NameNull", `{"name": null}`, "name"},
			{"NameEmpty", `{"name": ""}`, "name"},
			{"EnabledString", `{"enabled": "no"}`, "enabled"},
			{"EnabledNull", `{"enabled": null}`, "enabled"},
			{"MetadataString", `{"metadata": "x"}`, "metadata"},
			{"KeyImmutable", `{"key": "renamed"}`, "key"},
			{"PolicyNotHere", map[string]any{"policy": pol}, "policy"},
		},
		"replaceAgentAliasPolicy": {
			{"PolicyMissing", `{}`, "policy"},
			{"PolicyNumber", `{"policy": 5}`, "policy"},
			{"PolicyNull", `{"policy": null}`, "policy"},
			{"RulesBeside", map[string]any{"policy": pol, "rules": []any{}}, "rules"},
		},
		"createAliasRoutedSession": sessionCases,
		"createAgentSession":       sessionCases,
		"updateAliasRoutedSession": patchSessionCases,
		"updateAgentSession":       patchSessionCases,
		"createAliasRoutedInput":   inputCases,
		"createAgentInput":         inputCases,
	}
	seen := 0
	for _, rt := range allRoutes() {
		cases, ok := byRoute[rt.id]
		if rt.body == nil {
			if ok {
				t.Fatalf("cases for a route without a body: %s", rt.id)
			}
			continue
		}
		if !ok {
			t.Errorf("no field cases for %s", rt.id)
		}
		seen++
		for _, fc := range cases {
			c := badCase{method: rt.method, path: w.fill(rt.path, nil), body: fc.body, status: 400, field: fc.field}
			t.Run(rt.id+"/"+fc.name, func(t *testing.T) { w.run(t, c) })
		}
	}
	if seen != len(byRoute) {
		t.Errorf("%d body routes, %d with cases", seen, len(byRoute))
	}
}

// TestInvalidPolicies sends invalid policies to both operations that take
// one, and checks the field errors name the rule.
func TestInvalidPolicies(t *testing.T) {
	w := newWorld(t, &httpapi.Options{MaxBodyBytes: maxBody})
	single := func(agent string) map[string]any { return map[string]any{"type": "single", "agent_key": agent} }
	rules := func(rs ...any) map[string]any { return map[string]any{"type": "routed", "rules": rs} }
	weighted := func(partition string, opts ...any) map[string]any {
		return map[string]any{"type": "weighted", "partition_by": partition, "options": opts}
	}
	opt := func(agent string, weight any) map[string]any {
		return map[string]any{"agent_key": agent, "weight": weight}
	}
	tests := []struct {
		name     string
		policy   any
		field    string
		contains string // in the field's message
		msg      string
	}{
		{name: "BadMatchExpression", policy: rules(map[string]any{"match": "get('$.session.metadata.tier') ==", "targets": single("support-v1")}),
			field: "policy.rules[0].match", contains: "position"},
		{name: "BadMatchOperator", policy: rules(map[string]any{"match": "get('$.x') === 'a'", "targets": single("support-v1")}, map[string]any{"targets": single("support-v1")}),
			field: "policy.rules[0].match", contains: "position"},
		{name: "BadPartitionExpression", policy: rules(map[string]any{"targets": weighted("get('$.session.key'", opt("support-v1", 1))}),
			field: "policy.rules[0].targets.partition_by", contains: "position"},
		{name: "NegativeWeight", policy: rules(map[string]any{"targets": weighted("get('$.session.key')", opt("support-v1", -10), opt("support-v2", 10))}),
			field: "policy.rules[0].targets.options[0].weight"},
		{name: "FractionalWeight", policy: rules(map[string]any{"targets": weighted("get('$.session.key')", opt("support-v1", 0.5))}),
			field: "policy.rules[0].targets.options[0].weight"},
		{name: "StringWeight", policy: rules(map[string]any{"targets": weighted("get('$.session.key')", opt("support-v1", "90"))}),
			field: "policy.rules[0].targets.options[0].weight"},
		{name: "NoOptions", policy: rules(map[string]any{"targets": weighted("get('$.session.key')")}),
			field: "policy.rules[0].targets.options"},
		{name: "NoPartition", policy: rules(map[string]any{"targets": map[string]any{"type": "weighted", "options": []any{opt("support-v1", 1)}}}),
			field: "policy.rules[0].targets.partition_by"},
		{name: "EmptyRules", policy: rules(), field: "policy.rules"},
		{name: "RulesMissing", policy: map[string]any{"type": "routed"}, field: "policy.rules"},
		{name: "CatchAllNotLast", policy: rules(map[string]any{"targets": single("support-v1")},
			map[string]any{"match": "get('$.session.metadata.tier') == 'gold'", "targets": single("support-v2")}),
			field: "policy.rules[1]", contains: "unreachable"},
		{name: "UnknownPolicyType", policy: map[string]any{"type": "direct", "rules": []any{map[string]any{"targets": single("support-v1")}}},
			field: "policy.type"},
		{name: "UnknownTargetType", policy: rules(map[string]any{"targets": map[string]any{"type": "random", "agent_key": "support-v1"}}),
			field: "policy.rules[0].targets.type"},
		{name: "SingleWithoutAgent", policy: rules(map[string]any{"targets": map[string]any{"type": "single"}}),
			field: "policy.rules[0].targets.agent_key"},
		{name: "BadAgentKey", policy: rules(map[string]any{"targets": single("bad key")}),
			field: "policy.rules[0].targets.agent_key"},
		{name: "UnknownRuleField", policy: rules(map[string]any{"targets": single("support-v1"), "weight": 1}),
			field: "policy.rules[0].weight"},
		{name: "UnknownAgent", policy: rules(map[string]any{"targets": single("support-v9")}),
			msg: "Alias references unknown agent(s): [support-v9]"},
	}
	for _, tc := range tests {
		for _, op := range []struct{ name, method, path string }{
			{"Create", http.MethodPost, "/v2/agent_aliases"},
			{"Replace", http.MethodPut, "/v2/agent_aliases/support/policy"},
		} {
			t.Run(tc.name+"/"+op.name, func(t *testing.T) {
				body := map[string]any{"policy": tc.policy}
				if op.name == "Create" {
					body["key"], body["name"] = "new-alias", "New"
				}
				before := snapshot(t, w.router)
				var fields []string
				if tc.field != "" {
					fields = append(fields, tc.field)
				}
				m := checkError(t, do(t, w.h, op.method, op.path, body), http.StatusBadRequest, tc.msg, fields...)
				if tc.contains != "" {
					fe, _ := m["field_errors"].(map[string]any)
					if s, _ := fe[tc.field].(string); !strings.Contains(s, tc.contains) {
						t.Errorf("field error %q for %s does not mention %q", s, tc.field, tc.contains)
					}
				}
				unchanged(t, w.router, before)
			})
		}
	}
}

// TestBadQueryParameters sends every list route malformed query parameters.
func TestBadQueryParameters(t *testing.T) {
	w := newWorld(t, nil)
	common := []struct{ name, query, field string }{
		{"LimitZero", "limit=0", "limit"},
		{"Limit101", "limit=101", "limit"},
		{"LimitNegative", "limit=-1", "limit"},
		{"LimitWord", "limit=abc", "limit"},
		{"LimitFraction", "limit=1.5", "limit"},
		{"PageKeyGarbage", "page_key=garbage", "page_key"},
		{"PageKeyBase64", "page_key=eyJvZmZzZXQiOjF9", "page_key"},
	}
	extra := map[string][]struct{ name, query, field string }{
		"listAgentAliases": {
			{"EnabledMaybe", "enabled=maybe", "enabled"},
			{"FilterBadRegex", "filter=%28unclosed", "filter"},
			{"FilterBadClass", "filter=%5Bz-a%5D", "filter"},
			{"FilterTooLong", "filter=" + strings.Repeat("a", 1025), "filter"},
			{"AliasedAgentKeyBad", "aliased_agent_key=bad%20key", "aliased_agent_key"},
		},
		"listAliasRoutedSessions": {{"FilterBadRegex", "filter=%28unclosed", "filter"}},
		"listAgentSessions":       {{"FilterBadRegex", "filter=%2A%2A", "filter"}},
		"listAgentEvents":         {{"IncludeHiddenMaybe", "include_hidden=maybe", "include_hidden"}},
		"listAliasRoutedSessionArtifacts": {
			{"SortBySize", "sort_by=size", "sort_by"},
			{"OrderByUp", "order_by=up", "order_by"},
		},
		"listSessionArtifacts": {
			{"SortBySize", "sort_by=size", "sort_by"},
			{"OrderByUp", "order_by=up", "order_by"},
		},
	}
	lists := 0
	for _, rt := range allRoutes() {
		if !rt.list {
			continue
		}
		lists++
		for _, q := range append(common, extra[rt.id]...) {
			c := badCase{method: rt.method, path: w.fill(rt.path, nil) + "?" + q.query, status: 400, field: q.field}
			t.Run(rt.id+"/"+q.name, func(t *testing.T) { w.run(t, c) })
		}
	}
	if lists != 7 {
		t.Errorf("%d list routes, want 7", lists)
	}
}

// TestWrongMethod sends every path each method it does not serve: 405 with
// an Allow header listing the right ones.
func TestWrongMethod(t *testing.T) {
	w := newWorld(t, nil)
	allow := map[string][]string{}
	var paths []string
	for _, rt := range allRoutes() {
		if allow[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		allow[rt.path] = append(allow[rt.path], rt.method)
		if rt.method == http.MethodGet {
			allow[rt.path] = append(allow[rt.path], http.MethodHead)
		}
	}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "PURGE"}
	n := 0
	for _, p := range paths {
		ms := allow[p]
		set := map[string]bool{}
		for _, m := range ms {
			set[m] = true
		}
		wantAllow := sortedKeys(set)
		for _, m := range methods {
			if set[m] {
				continue
			}
			n++
			path := w.fill(p, nil)
			t.Run(m+" "+p, func(t *testing.T) {
				before := snapshot(t, w.router)
				r := do(t, w.h, m, path, `{"name":"x"}`)
				checkError(t, r, http.StatusMethodNotAllowed, "")
				got := strings.Split(r.Header.Get("Allow"), ", ")
				sort.Strings(got)
				if d := cmp.Diff(wantAllow, got); d != "" {
					t.Errorf("Allow %q (-want +got):\n%s", r.Header.Get("Allow"), d)
				}
				unchanged(t, w.router, before)
			})
		}
	}
	if n < 50 {
		t.Errorf("only %d cases", n)
	}
}

// TestUnknownPath answers 404 with the contract's body for paths no route
// serves.
func TestUnknownPath(t *testing.T) {
	w := newWorld(t, nil)
	paths := []string{
		"/", "/v2", "/v2/", "/v1/agent_aliases", "/v2/agent_aliases/", "/v2/agent_aliases/support/",
		"/v2/agent_aliases/support/nope", "/v2/agent_aliases/support/sessions/chat-1/nope",
		"/v2/agent_aliases/support/sessions/chat-1/events/" + w.eventID + "/nope",
		"/v2/agent_aliases/support/sessions/chat-1/artifacts/" + w.artifactID + "/data",
		"/v2/agents", "/v2/agents/support-v1", "/v2/agents/support-v1/sessions/chat-1/events/" + w.eventID + "/hide/now",
		"/v2/agent_aliases/support/policy/extra", "/v2/openapi.yaml", "/favicon.ico",
		// Paths that are not clean are unknown, not redirected.
		"//v2/agent_aliases", "/v2//agent_aliases", "/v2/./agent_aliases", "/v2/agent_aliases/support/../support",
		"/v2/agent_aliases/./support/sessions", "/v2/agents/support-v1/sessions/./chat-1",
	}
	for _, p := range paths {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			t.Run(m+" "+p, func(t *testing.T) {
				before := snapshot(t, w.router)
				checkError(t, do(t, w.h, m, p, nil), http.StatusNotFound, "")
				unchanged(t, w.router, before)
			})
		}
	}
}

// TestSemanticRefusals are well-formed requests the state refuses: they
// answer their code and change nothing.
func TestSemanticRefusals(t *testing.T) {
	w := newWorld(t, nil)
	call(t, w.h, http.StatusOK, http.MethodPatch, "/v2/agent_aliases/other", map[string]any{"enabled": false})
	call(t, w.h, http.StatusOK, http.MethodPatch, "/v2/agents/support-v2/sessions/direct", map[string]any{"enabled": false})
	cases := []badCase{
		{name: "DuplicateAlias", method: http.MethodPost, path: "/v2/agent_aliases",
			body: map[string]any{"key": "support", "name": "X", "policy": singlePolicy("support-v2")}, status: 409, msg: "An alias with this key already exists."},
		{name: "DeleteReferencedAlias", method: http.MethodDelete, path: "/v2/agent_aliases/support", status: 409},
		{name: "DisabledAlias", method: http.MethodPost, path: "/v2/agent_aliases/other/sessions", body: map[string]any{}, status: 404,
			msg: "Alias not found or not currently active"},
		{name: "DuplicateSession", method: http.MethodPost, path: "/v2/agent_aliases/support/sessions", body: map[string]any{"key": "direct"}, status: 409},
		{name: "InputToDisabledSession", method: http.MethodPost, path: "/v2/agents/support-v2/sessions/direct/events", body: textInput("hi"), status: 409},
		{name: "ForkMissingSource", method: http.MethodPost, path: "/v2/agents/support-v1/sessions",
			body: map[string]any{"from_session": map[string]any{"session_key": "nope"}}, status: 404},
		{name: "UnknownAgentPolicy", method: http.MethodPut, path: "/v2/agent_aliases/support/policy",
			body: map[string]any{"policy": singlePolicy("ghost")}, status: 400, msg: "Alias references unknown agent(s): [ghost]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { w.run(t, c) })
	}
}
