package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/httpapi"
	"github.com/agentalias/agentalias/storage/memstore"
)

// ---- shared fixture of routes_test, badinput_test, hooks_test, stream_test
// and listener_test

// fixtureStart is the first time the fixture's clock tells.
var fixtureStart = time.Date(2026, 6, 2, 10, 35, 0, 0, time.UTC)

// stepClock is a clock that moves one second every time it is read, so that
// every stored item gets its own timestamp.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// fixtureAgents are the agents every fixture registers; they all run
// scriptedAgent.
var fixtureAgents = []string{"support-v1", "support-v2", "support-acme"}

// scriptedAgent answers a text input by its content:
//
//	"artifact NAME"  saves a text artifact NAME ("content of NAME") and replies
//	"tool"           emits a tool_input event and waits for the client's tool
//	"fail"           fails with an error holding SECRET-DETAIL
//	anything else    replies "echo from AGENT: TEXT"
//
// A tool_output input is answered with "thanks for the tool output".
func scriptedAgent(ctx context.Context, t *agentalias.Turn) error {
	if t.Input.Type == agentalias.InputToolOutput {
		return t.Reply("thanks for the tool output")
	}
	text := ""
	if len(t.Input.Messages) > 0 {
		text = t.Input.Messages[0].Content
	}
	switch {
	case strings.HasPrefix(text, "artifact "):
		name := strings.TrimPrefix(text, "artifact ")
		if _, err := t.SaveArtifact(agentalias.ArtifactParams{Filename: name, MimeType: "text/plain", Data: []byte("content of " + name)}); err != nil {
			return err
		}
		return t.Reply("saved " + name)
	case text == "tool":
		id := fmt.Sprintf("aev_call_%d", len(t.History))
		in, err := t.Emit(&event.Event{ID: id, Type: event.ToolInput, ToolCallID: id, ToolConfigurationName: "lookup",
			ToolName: "lookup", ToolInput: map[string]any{"q": "widgets"}})
		if err != nil {
			return err
		}
		return t.AwaitClientTools(event.PendingCall{EventID: in.ID, ToolConfigurationName: "lookup", ToolName: "lookup",
			Arguments: map[string]any{"q": "widgets"}})
	case text == "fail":
		return errors.New("database exploded: SECRET-DETAIL password=hunter2")
	}
	return t.Reply("echo from " + t.Session.AgentKey + ": " + text)
}

// fixture is a router over a fresh memstore and a handler serving it.
type fixture struct {
	router *agentalias.AliasRouter
	h      *httpapi.Handler
}

// newFixture returns a fixture whose handler has hopts (nil for the
// defaults) and whose router has fixtureAgents plus extra.
func newFixture(t *testing.T, hopts *httpapi.Options, extra map[string]agentalias.Agent) *fixture {
	t.Helper()
	agents := map[string]agentalias.Agent{}
	for _, k := range fixtureAgents {
		agents[k] = agentalias.AgentFunc(scriptedAgent)
	}
	for k, a := range extra {
		agents[k] = a
	}
	clock := &stepClock{now: fixtureStart}
	r, err := agentalias.New(memstore.New(), &agentalias.Options{Agents: agents, Now: clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	h, err := httpapi.NewHandler(r, hopts)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{router: r, h: h}
}

// call sends one request through do, checks its status and returns the body
// as a map (nil for a 204, whose body must be empty).
func call(t *testing.T, h http.Handler, want int, method, path string, body any, hdr ...string) map[string]any {
	t.Helper()
	r := do(t, h, method, path, body, hdr...)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, r.Status, want, r.Body)
	}
	if want == http.StatusNoContent {
		if len(r.Body) != 0 {
			t.Fatalf("%s %s: 204 with a body: %q", method, path, r.Body)
		}
		return nil
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// checkError checks that r is an error of status with the contract's body:
// messages (and msg among them, if not ""), request_id equal to the
// X-Request-Id header, field_errors on 400 (with every key of fields), id on
// 404, and nothing else. It returns the decoded body.
func checkError(t *testing.T, r *response, status int, msg string, fields ...string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var m map[string]any
	r.JSON(t, &m)
	for k := range m {
		switch k {
		case "messages", "request_id":
		case "field_errors":
			if status != http.StatusBadRequest {
				t.Errorf("field_errors on a %d: %s", status, r.Body)
			}
		case "id":
			if status != http.StatusNotFound {
				t.Errorf("id on a %d: %s", status, r.Body)
			}
		default:
			t.Errorf("unexpected key %q in error body %s", k, r.Body)
		}
	}
	msgs, ok := m["messages"].([]any)
	if !ok || len(msgs) == 0 {
		t.Fatalf("messages missing or empty: %s", r.Body)
	}
	found := msg == ""
	for _, x := range msgs {
		s, ok := x.(string)
		if !ok || s == "" {
			t.Errorf("message %v is not a non-empty string", x)
		}
		if s == msg {
			found = true
		}
	}
	if !found {
		t.Errorf("messages %q do not hold %q", msgs, msg)
	}
	rid, _ := m["request_id"].(string)
	if rid == "" || rid != r.Header.Get("X-Request-Id") {
		t.Errorf("request_id %q, X-Request-Id header %q", rid, r.Header.Get("X-Request-Id"))
	}
	switch status {
	case http.StatusBadRequest:
		fe, ok := m["field_errors"].(map[string]any)
		if !ok {
			t.Fatalf("field_errors missing on a 400: %s", r.Body)
		}
		for _, f := range fields {
			if s, _ := fe[f].(string); s == "" {
				t.Errorf("field_errors has no message for %q: %s", f, r.Body)
			}
		}
	case http.StatusNotFound:
		if id, _ := m["id"].(string); id == "" {
			t.Errorf("404 without id: %s", r.Body)
		}
	}
	return m
}

// jsonMap parses a JSON object literal of a test.
func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return m
}

var (
	eventIDRe    = regexp.MustCompile(`^aev_[0-9a-zA-Z_-]+$`)
	artifactIDRe = regexp.MustCompile(`^art_[a-z0-9_-]+$`)
)

// scrub returns v with the values that vary between runs replaced after
// checking their format: timestamps by "<time>", event ids by "<aev>",
// artifact ids by "<art>", request ids by "<req>".
func scrub(t *testing.T, v any) any {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			s, isStr := val.(string)
			switch {
			case isStr && (k == "created_at" || k == "updated_at"):
				if _, err := time.Parse(time.RFC3339Nano, s); err != nil || !strings.HasSuffix(s, "Z") {
					t.Errorf("%s %q is not an RFC 3339 UTC time", k, s)
				}
				out[k] = "<time>"
			case isStr && (k == "id" || k == "event_id") && strings.HasPrefix(s, "aev_"):
				if !eventIDRe.MatchString(s) {
					t.Errorf("%s %q is not an event id", k, s)
				}
				out[k] = "<aev>"
			case isStr && k == "artifact_id":
				if !artifactIDRe.MatchString(s) {
					t.Errorf("artifact_id %q is not an artifact id", s)
				}
				out[k] = "<art>"
			case isStr && k == "request_id":
				out[k] = "<req>"
			default:
				out[k] = scrub(t, val)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = scrub(t, x[i])
		}
		return out
	}
	return v
}

// same fails if got, scrubbed, differs from want.
func same(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, scrub(t, got)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// withQuery appends query parameters to path.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + q.Encode()
}

// listAll follows the page keys of a list from its first page (path may
// carry query parameters) and returns every item. Every page but the last
// must hold exactly limit items (limit 0: the default 10), and the last page
// has no page_key.
func listAll(t *testing.T, h http.Handler, path, collection string, limit int) []map[string]any {
	t.Helper()
	want := limit
	if want == 0 {
		want = 10
	}
	var out []map[string]any
	pageKey := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("%s: more than 1000 pages", path)
		}
		q := url.Values{}
		if limit != 0 {
			q.Set("limit", fmt.Sprint(limit))
		}
		if pageKey != "" {
			q.Set("page_key", pageKey)
		}
		body := call(t, h, http.StatusOK, http.MethodGet, withQuery(path, q), nil)
		if len(body) != 2 {
			t.Errorf("list body has keys other than %q and metadata: %v", collection, body)
		}
		items, ok := body[collection].([]any)
		if !ok {
			t.Fatalf("list body has no %q array: %v", collection, body)
		}
		md, ok := body["metadata"].(map[string]any)
		if !ok {
			t.Fatalf("list body has no metadata object: %v", body)
		}
		for _, it := range items {
			out = append(out, it.(map[string]any))
		}
		next, _ := md["page_key"].(string)
		if next == "" {
			if len(items) > want {
				t.Errorf("last page holds %d items, limit %d", len(items), want)
			}
			return out
		}
		if len(items) != want {
			t.Errorf("a page followed by a page_key holds %d items, want %d", len(items), want)
		}
		pageKey = next
	}
}

// keysOf returns the values of field in items, in order, failing when one
// repeats.
func keysOf(t *testing.T, items []map[string]any, field string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, it := range items {
		k, _ := it[field].(string)
		if seen[k] {
			t.Errorf("%s %q listed twice", field, k)
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}

// valuesOf returns the values of field in items, in order.
func valuesOf(items []map[string]any, field string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, _ := it[field].(string)
		out = append(out, s)
	}
	return out
}

// singlePolicy is a policy that sends every session to agent.
func singlePolicy(agent string) map[string]any {
	return map[string]any{"type": "routed", "rules": []any{
		map[string]any{"targets": map[string]any{"type": "single", "agent_key": agent}},
	}}
}

// tenantPolicy routes metadata.tenant "acme" to support-acme and everyone
// else to support-v1.
func tenantPolicy() map[string]any {
	return map[string]any{"type": "routed", "rules": []any{
		map[string]any{"match": "get('$.session.metadata.tenant') == 'acme'",
			"targets": map[string]any{"type": "single", "agent_key": "support-acme"}},
		map[string]any{"targets": map[string]any{"type": "single", "agent_key": "support-v1"}},
	}}
}

// createAlias creates an alias through the handler.
func createAlias(t *testing.T, h http.Handler, key string, pol map[string]any, hdr ...string) map[string]any {
	t.Helper()
	return call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases",
		map[string]any{"key": key, "name": "Alias " + key, "policy": pol}, hdr...)
}

// textInput is a non-streaming input message body.
func textInput(text string) map[string]any {
	return map[string]any{"type": "input_message", "messages": []any{map[string]any{"type": "text", "content": text}}}
}

// eventTypes returns the types of a list of events.
func eventTypes(events []any) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.(map[string]any)["type"].(string))
	}
	return out
}

// ---- routes

// TestAliasRoutes runs the six alias operations with the contract's bodies
// and every documented status but 403 (hooks_test).
func TestAliasRoutes(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h

	// #1 create, with the guide's example body.
	guide := jsonMap(t, `{"key":"support","name":"Customer Support","description":"Stable public handle for the support agent",
	  "policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]}}`)
	created := call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases", guide)
	want := jsonMap(t, `{"key":"support","name":"Customer Support","description":"Stable public handle for the support agent",
	  "policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]},
	  "enabled":true,"metadata":{},"created_at":"<time>"}`)
	same(t, "created alias", want, created)

	// A duplicate key is 409 with the contract's message, and changes nothing.
	dup := jsonMap(t, `{"key":"support","name":"Other","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v2"}}]}}`)
	checkError(t, do(t, h, http.MethodPost, "/v2/agent_aliases", dup), http.StatusConflict, "An alias with this key already exists.")

	// Unknown agents are 400 with the contract's message.
	unknown := jsonMap(t, `{"key":"ghost","name":"Ghost","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v9"}}]}}`)
	checkError(t, do(t, h, http.MethodPost, "/v2/agent_aliases", unknown), http.StatusBadRequest, "Alias references unknown agent(s): [support-v9]")
	checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/ghost", nil), http.StatusNotFound, "Alias not found")

	// #3 get.
	got := call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support", nil)
	same(t, "got alias", want, got)
	if got["created_at"] != created["created_at"] {
		t.Errorf("created_at changed from %v to %v", created["created_at"], got["created_at"])
	}
	nf := checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/nope", nil), http.StatusNotFound, "Alias not found")
	if nf["id"] != "nope" {
		t.Errorf("404 id %v, want nope", nf["id"])
	}

	// #4 update: name, description, metadata, enabled.
	patched := call(t, h, http.StatusOK, http.MethodPatch, "/v2/agent_aliases/support",
		jsonMap(t, `{"name":"Support","description":"new","metadata":{"region":"us"},"enabled":false}`))
	want = jsonMap(t, `{"key":"support","name":"Support","description":"new",
	  "policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]},
	  "enabled":false,"metadata":{"region":"us"},"created_at":"<time>","updated_at":"<time>"}`)
	same(t, "patched alias", want, patched)
	same(t, "alias after patch", want, call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support", nil))
	checkError(t, do(t, h, http.MethodPatch, "/v2/agent_aliases/nope", jsonMap(t, `{"name":"x"}`)), http.StatusNotFound, "Alias not found")

	// #6 replace the policy.
	pol := jsonMap(t, `{"policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v2"}}]}}`)
	replaced := call(t, h, http.StatusOK, http.MethodPut, "/v2/agent_aliases/support/policy", pol)
	want["policy"] = pol["policy"]
	same(t, "alias with replaced policy", want, replaced)
	checkError(t, do(t, h, http.MethodPut, "/v2/agent_aliases/nope/policy", pol), http.StatusNotFound, "Alias not found")
	bad := jsonMap(t, `{"policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v7"}}]}}`)
	checkError(t, do(t, h, http.MethodPut, "/v2/agent_aliases/support/policy", bad), http.StatusBadRequest, "Alias references unknown agent(s): [support-v7]")
	same(t, "alias after a refused policy", want, call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support", nil))

	// #5 delete: 204 with no body, then 404.
	call(t, h, http.StatusNoContent, http.MethodDelete, "/v2/agent_aliases/support", nil)
	checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/support", nil), http.StatusNotFound, "Alias not found")
	checkError(t, do(t, h, http.MethodDelete, "/v2/agent_aliases/support", nil), http.StatusNotFound, "Alias not found")

	// The key is free again.
	createAlias(t, h, "support", singlePolicy("support-v1"))
}

// TestUnknownAgentsMessage lists every unknown agent of a policy.
func TestUnknownAgentsMessage(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := jsonMap(t, `{"key":"a","name":"A","policy":{"type":"routed","rules":[
	  {"match":"get('$.session.metadata.tier') == 'gold'","targets":{"type":"single","agent_key":"x"}},
	  {"targets":{"type":"weighted","partition_by":"get('$.session.key')","options":[{"agent_key":"support-v1","weight":1},{"agent_key":"y","weight":1}]}}]}}`)
	checkError(t, do(t, f.h, http.MethodPost, "/v2/agent_aliases", body), http.StatusBadRequest, "Alias references unknown agent(s): [x, y]")
	body = jsonMap(t, `{"key":"a","name":"A","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"x"}}]}}`)
	checkError(t, do(t, f.h, http.MethodPost, "/v2/agent_aliases", body), http.StatusBadRequest, "Alias references unknown agent(s): [x]")
}

// TestListAliases pages through aliases and filters them by every query
// parameter of #2.
func TestListAliases(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h

	// The empty list.
	same(t, "empty list", jsonMap(t, `{"aliases":[],"metadata":{}}`), call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases", nil))

	var all []string
	for i := 0; i < 25; i++ {
		key := fmt.Sprintf("alias-%02d", i)
		all = append(all, key)
		body := map[string]any{"key": key, "name": fmt.Sprintf("Alias %d", i), "policy": singlePolicy("support-v1")}
		switch {
		case i%5 == 0:
			body["name"] = fmt.Sprintf("Billing %d", i)
		case i%5 == 1:
			body["description"] = "routes billing questions"
		}
		if i%3 == 0 {
			body["enabled"] = false
		}
		if i%4 == 0 {
			body["policy"] = jsonMap(t, `{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.key')",
			  "options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}`)
		}
		if i == 7 {
			body["policy"] = singlePolicy("support-v2")
		}
		call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases", body)
	}

	// Every page size, following page keys to the end: each alias once, in
	// key order.
	for _, limit := range []int{0, 1, 7, 10, 25, 100} {
		got := keysOf(t, listAll(t, h, "/v2/agent_aliases", "aliases", limit), "key")
		if d := cmp.Diff(all, got); d != "" {
			t.Errorf("limit %d: keys (-want +got):\n%s", limit, d)
		}
	}
	// The default limit is 10.
	first := call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases", nil)
	if n := len(first["aliases"].([]any)); n != 10 {
		t.Errorf("default page holds %d aliases, want 10", n)
	}
	if pk, _ := first["metadata"].(map[string]any)["page_key"].(string); pk == "" {
		t.Errorf("first of three pages has no page_key: %v", first["metadata"])
	}

	filter := func(pred func(i int) bool) []string {
		var out []string
		for i, k := range all {
			if pred(i) {
				out = append(out, k)
			}
		}
		return out
	}
	tests := []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"FilterName", url.Values{"filter": {"^Billing"}}, filter(func(i int) bool { return i%5 == 0 })},
		{"FilterNameOrDescription", url.Values{"filter": {"(?i)billing"}}, filter(func(i int) bool { return i%5 <= 1 })},
		{"FilterDescription", url.Values{"filter": {"questions$"}}, filter(func(i int) bool { return i%5 == 1 })},
		{"FilterNothing", url.Values{"filter": {"zzz"}}, nil},
		{"EnabledTrue", url.Values{"enabled": {"true"}}, filter(func(i int) bool { return i%3 != 0 })},
		{"EnabledFalse", url.Values{"enabled": {"false"}}, filter(func(i int) bool { return i%3 == 0 })},
		{"AliasedAgentV2", url.Values{"aliased_agent_key": {"support-v2"}}, filter(func(i int) bool { return i%4 == 0 || i == 7 })},
		{"AliasedAgentV1", url.Values{"aliased_agent_key": {"support-v1"}}, filter(func(i int) bool { return i != 7 })},
		{"AliasedAgentNone", url.Values{"aliased_agent_key": {"support-acme"}}, nil},
		{"Combined", url.Values{"filter": {"(?i)billing"}, "enabled": {"false"}, "aliased_agent_key": {"support-v2"}},
			filter(func(i int) bool { return i%5 <= 1 && i%3 == 0 && i%4 == 0 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{0, 2} {
				got := keysOf(t, listAll(t, h, withQuery("/v2/agent_aliases", tc.query), "aliases", limit), "key")
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("limit %d: keys (-want +got):\n%s", limit, d)
				}
			}
		})
	}
}

// TestAliasRoutedSessions runs the session operations through an alias and
// checks the session object, secrets masking, routing, and the agent-scoped
// twins of each operation.
func TestAliasRoutedSessions(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h
	createAlias(t, h, "support", tenantPolicy())
	createAlias(t, h, "other", singlePolicy("support-acme"))

	// #7 create, with the contract's example session.
	req := jsonMap(t, `{"key":"chat-42","name":"Customer Support Session","description":"Helping customer troubleshoot widget installation issues",
	  "metadata":{"tenant":"acme","user_id":"u-123"},"secrets":{"slack_user_token":"xoxp-very-secret"}}`)
	s := call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", req)
	want := jsonMap(t, `{"key":"chat-42","agent_key":"support-acme","alias_key":"support","name":"Customer Support Session",
	  "description":"Helping customer troubleshoot widget installation issues","metadata":{"tenant":"acme","user_id":"u-123"},
	  "enabled":true,"status":"unstarted","tti_minutes":0,"created_at":"<time>","secrets":{"slack_user_token":"****"}}`)
	same(t, "created session", want, s)

	// The other branch of the policy.
	s2 := call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions",
		jsonMap(t, `{"key":"chat-43","metadata":{"tenant":"globex"}}`))
	if s2["agent_key"] != "support-v1" || s2["name"] != "chat-43" {
		t.Errorf("session chat-43: agent %v name %v, want support-v1 and its key", s2["agent_key"], s2["name"])
	}
	// A generated key, from the name.
	s3 := call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", jsonMap(t, `{"name":"Billing question"}`))
	if k, _ := s3["key"].(string); !regexp.MustCompile(`^billing-question-[0-9a-z]+$`).MatchString(k) {
		t.Errorf("generated key %q, want billing-question-<suffix>", k)
	}
	// The empty body object is a valid request.
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", map[string]any{})

	// A key in use is 409; the alias's policy not resolving is 400.
	checkError(t, do(t, h, http.MethodPost, "/v2/agent_aliases/support/sessions", jsonMap(t, `{"key":"chat-42"}`)), http.StatusConflict, "")
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases",
		jsonMap(t, `{"key":"strict","name":"Strict","policy":{"type":"routed","rules":[{"match":"get('$.session.metadata.tier') == 'gold'","targets":{"type":"single","agent_key":"support-v2"}}]}}`))
	checkError(t, do(t, h, http.MethodPost, "/v2/agent_aliases/strict/sessions", jsonMap(t, `{"key":"s1","metadata":{"tier":"free"}}`)), http.StatusBadRequest, "")
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/strict/sessions", jsonMap(t, `{"key":"s1","metadata":{"tier":"gold"}}`))
	checkError(t, do(t, h, http.MethodPost, "/v2/agent_aliases/nope/sessions", map[string]any{}), http.StatusNotFound, "Alias not found or not currently active")

	// #9 get, through the alias and through the agent it resolved to; not
	// through another alias or another agent.
	same(t, "session via alias", want, call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-42", nil))
	same(t, "session via agent", want, call(t, h, http.StatusOK, http.MethodGet, "/v2/agents/support-acme/sessions/chat-42", nil))
	r := checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/other/sessions/chat-42", nil), http.StatusNotFound, "Alias or session not found")
	if r["id"] != "chat-42" {
		t.Errorf("404 id %v, want chat-42", r["id"])
	}
	checkError(t, do(t, h, http.MethodGet, "/v2/agents/support-v1/sessions/chat-42", nil), http.StatusNotFound, "Session not found")
	checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/support/sessions/nope", nil), http.StatusNotFound, "Alias or session not found")
	// Every session operation behaves the same: the session is not there.
	for _, p := range []struct{ method, suffix string }{
		{http.MethodPatch, ""}, {http.MethodDelete, ""}, {http.MethodGet, "/events"}, {http.MethodPost, "/events"},
		{http.MethodGet, "/outstanding_client_tool_calls"}, {http.MethodGet, "/artifacts"},
	} {
		var body any
		switch {
		case p.method == http.MethodPatch:
			body = jsonMap(t, `{"name":"x"}`)
		case p.method == http.MethodPost:
			body = textInput("hi")
		}
		checkError(t, do(t, h, p.method, "/v2/agent_aliases/other/sessions/chat-42"+p.suffix, body), http.StatusNotFound, "")
		checkError(t, do(t, h, p.method, "/v2/agents/support-v2/sessions/chat-42"+p.suffix, body), http.StatusNotFound, "")
	}
	same(t, "session after refused operations", want, call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-42", nil))

	// #8 list through the alias: only its sessions, in creation order.
	got := keysOf(t, listAll(t, h, "/v2/agent_aliases/support/sessions", "sessions", 0), "key")
	if len(got) != 4 || got[0] != "chat-42" || got[1] != "chat-43" || got[2] != s3["key"] {
		t.Errorf("alias sessions %v", got)
	}
	if got := listAll(t, h, "/v2/agent_aliases/other/sessions", "sessions", 0); len(got) != 0 {
		t.Errorf("alias other lists %d sessions, want 0", len(got))
	}
	checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/nope/sessions", nil), http.StatusNotFound, "Alias not found")
	// Secrets are masked in lists too.
	for _, it := range listAll(t, h, "/v2/agents/support-acme/sessions", "sessions", 0) {
		if it["key"] == "chat-42" {
			same(t, "listed session", want, it)
		}
	}

	// #10 update, through the alias and the agent.
	up := call(t, h, http.StatusOK, http.MethodPatch, "/v2/agent_aliases/support/sessions/chat-42",
		jsonMap(t, `{"name":"Renamed","metadata":{"tenant":"acme"},"tti_minutes":60,"secrets":{"slack_user_token":null,"api_key":"k-123"}}`))
	want["name"] = "Renamed"
	want["metadata"] = map[string]any{"tenant": "acme"}
	want["tti_minutes"] = 60.0
	want["secrets"] = map[string]any{"api_key": "****"}
	same(t, "patched session", want, up)
	if strings.Contains(fmt.Sprint(up), "k-123") {
		t.Errorf("secret value in response: %v", up)
	}
	up = call(t, h, http.StatusOK, http.MethodPatch, "/v2/agents/support-acme/sessions/chat-42", jsonMap(t, `{"description":""}`))
	delete(want, "description")
	same(t, "patched session via agent", want, up)

	// #11 delete: 204, then 404 everywhere.
	call(t, h, http.StatusNoContent, http.MethodDelete, "/v2/agent_aliases/support/sessions/chat-43", nil)
	checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-43", nil), http.StatusNotFound, "")
	checkError(t, do(t, h, http.MethodGet, "/v2/agents/support-v1/sessions/chat-43", nil), http.StatusNotFound, "")
	checkError(t, do(t, h, http.MethodDelete, "/v2/agent_aliases/support/sessions/chat-43", nil), http.StatusNotFound, "")
	call(t, h, http.StatusNoContent, http.MethodDelete, "/v2/agents/support-acme/sessions/chat-42", nil)
	checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-42", nil), http.StatusNotFound, "")
}

// TestAgentScopedSessions creates sessions directly on an agent: no
// alias_key, and not reachable through any alias.
func TestAgentScopedSessions(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h
	createAlias(t, h, "support", singlePolicy("support-v1"))
	s := call(t, h, http.StatusCreated, http.MethodPost, "/v2/agents/support-v1/sessions", jsonMap(t, `{"key":"direct","name":"Direct"}`))
	same(t, "direct session", jsonMap(t, `{"key":"direct","agent_key":"support-v1","name":"Direct","metadata":{},
	  "enabled":true,"status":"unstarted","tti_minutes":0,"created_at":"<time>"}`), s)
	checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/support/sessions/direct", nil), http.StatusNotFound, "Alias or session not found")
	checkError(t, do(t, h, http.MethodPost, "/v2/agents/support-v9/sessions", map[string]any{}), http.StatusNotFound, "Agent not found")
	if got := listAll(t, h, "/v2/agent_aliases/support/sessions", "sessions", 0); len(got) != 0 {
		t.Errorf("alias lists the direct session: %v", got)
	}

	// Paging and filtering the agent-scoped list.
	var all []string
	for i := 0; i < 13; i++ {
		key := fmt.Sprintf("s-%02d", i)
		name := "plain"
		if i%2 == 0 {
			name = "Refund request"
		}
		call(t, h, http.StatusCreated, http.MethodPost, "/v2/agents/support-v2/sessions", map[string]any{"key": key, "name": name})
		all = append(all, key)
	}
	for _, limit := range []int{0, 1, 4, 13, 100} {
		if d := cmp.Diff(all, keysOf(t, listAll(t, h, "/v2/agents/support-v2/sessions", "sessions", limit), "key")); d != "" {
			t.Errorf("limit %d (-want +got):\n%s", limit, d)
		}
	}
	var refunds []string
	for i, k := range all {
		if i%2 == 0 {
			refunds = append(refunds, k)
		}
	}
	got := keysOf(t, listAll(t, h, "/v2/agents/support-v2/sessions?filter=%5ERefund", "sessions", 3), "key")
	if d := cmp.Diff(refunds, got); d != "" {
		t.Errorf("filtered (-want +got):\n%s", d)
	}
	got = keysOf(t, listAll(t, h, "/v2/agents/support-v1/sessions", "sessions", 0), "key")
	if d := cmp.Diff([]string{"direct"}, got); d != "" {
		t.Errorf("support-v1 sessions (-want +got):\n%s", d)
	}
}

// TestDisabledAliasAndDelete checks that a disabled alias creates no session
// while its sessions work on, and that an alias with an enabled session
// cannot be deleted.
func TestDisabledAliasAndDelete(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h
	createAlias(t, h, "support", singlePolicy("support-v1"))
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", jsonMap(t, `{"key":"chat-1"}`))

	call(t, h, http.StatusOK, http.MethodPatch, "/v2/agent_aliases/support", jsonMap(t, `{"enabled":false}`))
	r := checkError(t, do(t, h, http.MethodPost, "/v2/agent_aliases/support/sessions", jsonMap(t, `{"key":"chat-2"}`)),
		http.StatusNotFound, "Alias not found or not currently active")
	if r["id"] != "support" {
		t.Errorf("404 id %v, want support", r["id"])
	}
	// The alias still reads and lists; its existing session still works.
	call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support", nil)
	call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-1", nil)
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions/chat-1/events", textInput("still here?"))

	// An enabled session holds the alias.
	checkError(t, do(t, h, http.MethodDelete, "/v2/agent_aliases/support", nil), http.StatusConflict, "")
	call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support", nil)
	call(t, h, http.StatusOK, http.MethodPatch, "/v2/agent_aliases/support/sessions/chat-1", jsonMap(t, `{"enabled":false}`))
	call(t, h, http.StatusNoContent, http.MethodDelete, "/v2/agent_aliases/support", nil)

	// The session outlives its alias, reachable through its agent, and
	// still names the alias.
	s := call(t, h, http.StatusOK, http.MethodGet, "/v2/agents/support-v1/sessions/chat-1", nil)
	if s["alias_key"] != "support" || s["enabled"] != false {
		t.Errorf("session after its alias was deleted: %v", s)
	}
	// (What the alias-scoped URL answers once the alias is gone is not
	// pinned here: the contract does not say, and the router still serves
	// the session through the deleted alias's key.)
}

// TestEventRoutes submits inputs and reads, pages, hides, unhides and
// deletes their events through both URL families.
func TestEventRoutes(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h
	createAlias(t, h, "support", singlePolicy("support-v2"))
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", jsonMap(t, `{"key":"chat-42"}`))
	base := "/v2/agent_aliases/support/sessions/chat-42"
	agentBase := "/v2/agents/support-v2/sessions/chat-42"

	// #12 input, with the contract's example body.
	resp := call(t, h, http.StatusCreated, http.MethodPost, base+"/events",
		jsonMap(t, `{"type":"input_message","messages":[{"type":"text","content":"I need help with my widget installation"}],"stream_response":false}`))
	same(t, "input response", jsonMap(t, `{"session_key":"chat-42","events":[
	  {"id":"<aev>","session_key":"chat-42","created_at":"<time>","type":"input_message","messages":[{"type":"text","content":"I need help with my widget installation"}]},
	  {"id":"<aev>","session_key":"chat-42","created_at":"<time>","type":"agent_output","content":"echo from support-v2: I need help with my widget installation"}]}`), resp)
	// "type" defaults to input_message; the agent-scoped twin works alike.
	call(t, h, http.StatusCreated, http.MethodPost, base+"/events", jsonMap(t, `{"messages":[{"type":"text","content":"two"}]}`))
	call(t, h, http.StatusCreated, http.MethodPost, agentBase+"/events", textInput("three"))
	s := call(t, h, http.StatusOK, http.MethodGet, base, nil)
	if s["status"] != "stopped" {
		t.Errorf("status after turns %v, want stopped", s["status"])
	}

	// #13 list: six events, each once, in order, at every page size.
	events := listAll(t, h, base+"/events", "events", 0)
	ids := keysOf(t, events, "id")
	if len(ids) != 6 {
		t.Fatalf("listed %d events, want 6: %v", len(ids), ids)
	}
	for _, limit := range []int{1, 4, 6} {
		if d := cmp.Diff(ids, keysOf(t, listAll(t, h, base+"/events", "events", limit), "id")); d != "" {
			t.Errorf("limit %d (-want +got):\n%s", limit, d)
		}
		if d := cmp.Diff(ids, keysOf(t, listAll(t, h, agentBase+"/events", "events", limit), "id")); d != "" {
			t.Errorf("agent-scoped, limit %d (-want +got):\n%s", limit, d)
		}
	}
	first := resp["events"].([]any)[0].(map[string]any)
	if d := cmp.Diff(first, events[0]); d != "" {
		t.Errorf("listed event differs from the input response (-resp +list):\n%s", d)
	}

	// #15 get.
	id := ids[1]
	ev := call(t, h, http.StatusOK, http.MethodGet, base+"/events/"+id, nil)
	if d := cmp.Diff(events[1], ev); d != "" {
		t.Errorf("got event (-list +get):\n%s", d)
	}
	call(t, h, http.StatusOK, http.MethodGet, agentBase+"/events/"+id, nil)
	nf := checkError(t, do(t, h, http.MethodGet, base+"/events/aev_nope", nil), http.StatusNotFound, "Event not found")
	if nf["id"] != "aev_nope" {
		t.Errorf("404 id %v", nf["id"])
	}

	// #17 hide: the event leaves the lists but stays readable; the
	// agent-scoped list shows it with include_hidden.
	hidden := call(t, h, http.StatusOK, http.MethodPost, base+"/events/"+id+"/hide", nil)
	want := events[1]
	want["hide_reason"] = "manual"
	if d := cmp.Diff(want, hidden); d != "" {
		t.Errorf("hidden event (-want +got):\n%s", d)
	}
	call(t, h, http.StatusOK, http.MethodPost, base+"/events/"+id+"/hide", nil) // hiding twice is fine
	visible := keysOf(t, listAll(t, h, base+"/events", "events", 2), "id")
	if d := cmp.Diff(append(append([]string{}, ids[:1]...), ids[2:]...), visible); d != "" {
		t.Errorf("visible events after hide (-want +got):\n%s", d)
	}
	withHidden := keysOf(t, listAll(t, h, agentBase+"/events?include_hidden=true", "events", 2), "id")
	if d := cmp.Diff(ids, withHidden); d != "" {
		t.Errorf("include_hidden=true (-want +got):\n%s", d)
	}
	if got := keysOf(t, listAll(t, h, agentBase+"/events?include_hidden=false", "events", 0), "id"); len(got) != 5 {
		t.Errorf("include_hidden=false lists %d events, want 5", len(got))
	}
	call(t, h, http.StatusOK, http.MethodGet, base+"/events/"+id, nil)
	checkError(t, do(t, h, http.MethodPost, base+"/events/aev_nope/hide", nil), http.StatusNotFound, "Event not found")

	// #18 unhide.
	unhidden := call(t, h, http.StatusOK, http.MethodPost, agentBase+"/events/"+id+"/unhide", nil)
	delete(want, "hide_reason")
	if d := cmp.Diff(want, unhidden); d != "" {
		t.Errorf("unhidden event (-want +got):\n%s", d)
	}
	if d := cmp.Diff(ids, keysOf(t, listAll(t, h, base+"/events", "events", 0), "id")); d != "" {
		t.Errorf("events after unhide (-want +got):\n%s", d)
	}
	checkError(t, do(t, h, http.MethodPost, base+"/events/aev_nope/unhide", nil), http.StatusNotFound, "Event not found")

	// #16 delete.
	call(t, h, http.StatusNoContent, http.MethodDelete, base+"/events/"+id, nil)
	checkError(t, do(t, h, http.MethodGet, base+"/events/"+id, nil), http.StatusNotFound, "Event not found")
	checkError(t, do(t, h, http.MethodDelete, agentBase+"/events/"+id, nil), http.StatusNotFound, "Event not found")
	call(t, h, http.StatusNoContent, http.MethodDelete, agentBase+"/events/"+ids[2], nil)
	if got := keysOf(t, listAll(t, h, agentBase+"/events?include_hidden=true", "events", 0), "id"); len(got) != 4 {
		t.Errorf("%d events after two deletions, want 4", len(got))
	}
}

// TestArtifactRoutes lists artifacts in every order and reads one with its
// content.
func TestArtifactRoutes(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h
	createAlias(t, h, "support", singlePolicy("support-v1"))
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", jsonMap(t, `{"key":"chat-42"}`))
	base := "/v2/agent_aliases/support/sessions/chat-42"
	agentBase := "/v2/agents/support-v1/sessions/chat-42"

	same(t, "no artifacts", jsonMap(t, `{"artifacts":[],"metadata":{}}`), call(t, h, http.StatusOK, http.MethodGet, base+"/artifacts", nil))
	names := []string{"a.txt", "b.txt", "c.txt", "d.txt", "e.txt"}
	var uploads []map[string]any
	for _, n := range names {
		resp := call(t, h, http.StatusCreated, http.MethodPost, base+"/events", textInput("artifact "+n))
		evs := resp["events"].([]any)
		if d := cmp.Diff([]string{"input_message", "artifact_upload", "agent_output"}, eventTypes(evs)); d != "" {
			t.Fatalf("events of an artifact turn (-want +got):\n%s", d)
		}
		uploads = append(uploads, evs[1].(map[string]any))
	}
	same(t, "artifact_upload event", jsonMap(t, `{"id":"<aev>","session_key":"chat-42","created_at":"<time>","type":"artifact_upload",
	  "artifacts":[{"artifact_id":"<art>","filename":"a.txt","mime_type":"text/plain","size_bytes":16}]}`), uploads[0])

	// #19 list: no data; newest first by default.
	listed := listAll(t, h, base+"/artifacts", "artifacts", 0)
	var desc []string
	for i := len(names) - 1; i >= 0; i-- {
		desc = append(desc, names[i])
	}
	if d := cmp.Diff(desc, keysOf(t, listed, "filename")); d != "" {
		t.Errorf("default order (-want +got):\n%s", d)
	}
	for _, it := range listed {
		if _, ok := it["data"]; ok {
			t.Errorf("listed artifact has data: %v", it)
		}
	}
	same(t, "listed artifact", jsonMap(t, `{"artifact_id":"<art>","filename":"e.txt","mime_type":"text/plain","size_bytes":16,
	  "checksum_sha256":"`+sha("content of e.txt")+`","metadata":{"original_filename":"e.txt","source":"agent"},
	  "created_at":"<time>","updated_at":"<time>"}`), listed[0])
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"sort_by=created_at&order_by=asc", names},
		{"sort_by=created_at&order_by=desc", desc},
		{"sort_by=updated_at&order_by=asc", names},
		{"sort_by=updated_at", desc},
		{"order_by=asc", names},
	} {
		for _, limit := range []int{0, 2} {
			got := keysOf(t, listAll(t, h, base+"/artifacts?"+tc.query, "artifacts", limit), "filename")
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("%s limit %d (-want +got):\n%s", tc.query, limit, d)
			}
			got = keysOf(t, listAll(t, h, agentBase+"/artifacts?"+tc.query, "artifacts", limit), "filename")
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("agent-scoped %s limit %d (-want +got):\n%s", tc.query, limit, d)
			}
		}
	}

	// #20 get: with base64 data.
	id := uploads[0]["artifacts"].([]any)[0].(map[string]any)["artifact_id"].(string)
	a := call(t, h, http.StatusOK, http.MethodGet, base+"/artifacts/"+id, nil)
	if a["artifact_id"] != id {
		t.Errorf("artifact_id %v, want %s", a["artifact_id"], id)
	}
	same(t, "artifact", jsonMap(t, `{"artifact_id":"<art>","filename":"a.txt","mime_type":"text/plain","size_bytes":16,
	  "checksum_sha256":"`+sha("content of a.txt")+`","metadata":{"original_filename":"a.txt","source":"agent"},
	  "created_at":"<time>","updated_at":"<time>","data":"`+base64.StdEncoding.EncodeToString([]byte("content of a.txt"))+`"}`), a)
	call(t, h, http.StatusOK, http.MethodGet, agentBase+"/artifacts/"+id, nil)
	nf := checkError(t, do(t, h, http.MethodGet, base+"/artifacts/art_nope", nil), http.StatusNotFound, "Artifact not found")
	if nf["id"] != "art_nope" {
		t.Errorf("404 id %v", nf["id"])
	}
	// Not reachable from another session.
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", jsonMap(t, `{"key":"chat-43"}`))
	checkError(t, do(t, h, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-43/artifacts/"+id, nil), http.StatusNotFound, "Artifact not found")
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestOutstandingClientToolCalls pauses a turn for a client tool and answers
// it with a tool_output input.
func TestOutstandingClientToolCalls(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h
	createAlias(t, h, "support", singlePolicy("support-v1"))
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", jsonMap(t, `{"key":"chat-42"}`))
	base := "/v2/agent_aliases/support/sessions/chat-42"
	agentBase := "/v2/agents/support-v1/sessions/chat-42"

	same(t, "no calls", jsonMap(t, `{"client_tool_calls":[]}`), call(t, h, http.StatusOK, http.MethodGet, base+"/outstanding_client_tool_calls", nil))

	resp := call(t, h, http.StatusCreated, http.MethodPost, base+"/events", textInput("tool"))
	if d := cmp.Diff([]string{"input_message", "tool_input", "client_tool_pending"}, eventTypes(resp["events"].([]any))); d != "" {
		t.Errorf("events of a tool turn (-want +got):\n%s", d)
	}
	want := jsonMap(t, `{"client_tool_calls":[{"event_id":"aev_call_0","tool_configuration_name":"lookup","tool_name":"lookup","arguments":{"q":"widgets"}}]}`)
	for _, p := range []string{base, agentBase} {
		got := call(t, h, http.StatusOK, http.MethodGet, p+"/outstanding_client_tool_calls", nil)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: outstanding calls (-want +got):\n%s", p, d)
		}
	}
	// The transient client_tool_pending event is not stored.
	if d := cmp.Diff([]string{"input_message", "tool_input"}, valuesOf(listAll(t, h, base+"/events", "events", 0), "type")); d != "" {
		t.Errorf("stored events (-want +got):\n%s", d)
	}

	// An answer to an unknown call is 400; the right one runs the agent.
	checkError(t, do(t, h, http.MethodPost, base+"/events", jsonMap(t, `{"type":"tool_output","tool_outputs":[{"type":"success","event_id":"aev_other","output":{}}]}`)),
		http.StatusBadRequest, "", "tool_outputs[0].event_id")
	resp = call(t, h, http.StatusCreated, http.MethodPost, agentBase+"/events",
		jsonMap(t, `{"type":"tool_output","tool_outputs":[{"type":"success","event_id":"aev_call_0","output":{"count":3}}]}`))
	same(t, "tool output response", jsonMap(t, `{"session_key":"chat-42","events":[
	  {"id":"<aev>","session_key":"chat-42","created_at":"<time>","type":"tool_output","tool_call_id":"<aev>",
	   "tool_configuration_name":"lookup","tool_name":"lookup","tool_output":{"count":3},"error":false},
	  {"id":"<aev>","session_key":"chat-42","created_at":"<time>","type":"agent_output","content":"thanks for the tool output"}]}`),
		scrubToolCallID(resp))
	same(t, "no calls left", jsonMap(t, `{"client_tool_calls":[]}`), call(t, h, http.StatusOK, http.MethodGet, base+"/outstanding_client_tool_calls", nil))
}

// scrubToolCallID replaces tool_call_id values that are event ids so that
// scrub treats them as ids.
func scrubToolCallID(v map[string]any) map[string]any {
	for _, e := range v["events"].([]any) {
		m := e.(map[string]any)
		if id, ok := m["tool_call_id"].(string); ok && eventIDRe.MatchString(id) {
			m["tool_call_id"] = "<aev>"
		}
	}
	return v
}

// TestReplacePolicyContractExample replaces a policy with the contract's
// 90/10 example: sessions created before keep their agent; new ones split.
func TestReplacePolicyContractExample(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h
	createAlias(t, h, "support", singlePolicy("support-acme"))
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", jsonMap(t, `{"key":"before"}`))

	body := jsonMap(t, `{ "policy": { "type": "routed", "rules": [ { "targets": { "type": "weighted",
	  "partition_by": "get('$.session.key')",
	  "options": [ { "agent_key": "support-v1", "weight": 90 }, { "agent_key": "support-v2", "weight": 10 } ] } } ] } }`)
	a := call(t, h, http.StatusOK, http.MethodPut, "/v2/agent_aliases/support/policy", body)
	if d := cmp.Diff(body["policy"], a["policy"]); d != "" {
		t.Errorf("policy (-want +got):\n%s", d)
	}
	if _, ok := a["updated_at"]; !ok {
		t.Errorf("no updated_at after a policy replacement: %v", a)
	}

	counts := map[string]int{}
	for i := 0; i < 200; i++ {
		s := call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", map[string]any{"key": fmt.Sprintf("after-%d", i)})
		counts[s["agent_key"].(string)]++
	}
	if counts["support-acme"] != 0 || counts["support-v1"] < 150 || counts["support-v2"] < 5 {
		t.Errorf("agents of 200 new sessions: %v; want about 180 support-v1 and 20 support-v2", counts)
	}
	s := call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support/sessions/before", nil)
	if s["agent_key"] != "support-acme" {
		t.Errorf("the session created before moved to %v", s["agent_key"])
	}
	// The alias lists for both agents now, and no longer for the old one.
	for agent, want := range map[string]int{"support-v1": 1, "support-v2": 1, "support-acme": 0} {
		if got := listAll(t, h, "/v2/agent_aliases?aliased_agent_key="+agent, "aliases", 0); len(got) != want {
			t.Errorf("aliased_agent_key=%s lists %d aliases, want %d", agent, len(got), want)
		}
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
