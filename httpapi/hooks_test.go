package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/httpapi"
)

// tenantHook takes the tenant from X-Tenant; "evil" is refused and "down"
// fails with the hook's own code.
func tenantHook(r *http.Request) (string, error) {
	switch t := r.Header.Get("X-Tenant"); t {
	case "evil":
		return "", errors.New("unknown API key")
	case "down":
		return "", &agentalias.Error{Code: agentalias.Unavailable, Message: "the tenant directory is down"}
	default:
		return t, nil
	}
}

// request is one valid request of a route in a world.
func (w *world) request(rt route) (path string, body any) {
	path = w.fill(rt.path, nil)
	if rt.body != nil {
		body = rt.body()
	}
	return path, body
}

// TestTenantIsolation creates a world in tenant "a" and checks that tenant
// "b" sees none of it on any route, and that "a" sees nothing of what
// another tenant creates.
func TestTenantIsolation(t *testing.T) {
	f := newFixture(t, &httpapi.Options{Tenant: tenantHook}, nil)
	w := populate(t, f, "X-Tenant", "a")
	ra := f.router.Tenant("a")
	before := snapshot(t, ra)
	if len(before.Aliases) != 2 || len(before.Sessions) != 2 {
		t.Fatalf("tenant a holds %d aliases and %d sessions, want 2 and 2", len(before.Aliases), len(before.Sessions))
	}
	if st := snapshot(t, f.router); len(st.Aliases)+len(st.Sessions) != 0 {
		t.Fatalf("the default tenant holds tenant a's items: %+v", st)
	}

	for _, rt := range allRoutes() {
		path, body := w.request(rt)
		for _, tenant := range []string{"b", ""} {
			hdr := []string{"X-Tenant", tenant}
			t.Run(rt.id+"/tenant="+tenant, func(t *testing.T) {
				switch rt.id {
				case "getOpenAPIDocument":
					call(t, f.h, http.StatusOK, rt.method, path, body, hdr...)
				case "listAgentAliases":
					same(t, "aliases of another tenant", jsonMap(t, `{"aliases":[],"metadata":{}}`), call(t, f.h, http.StatusOK, rt.method, path, body, hdr...))
				case "listAgentSessions":
					same(t, "sessions of another tenant", jsonMap(t, `{"sessions":[],"metadata":{}}`), call(t, f.h, http.StatusOK, rt.method, path, body, hdr...))
				case "createAgentAlias", "createAgentSession":
					// Tested below: they create in the other tenant.
				default:
					checkError(t, do(t, f.h, rt.method, path, body, hdr...), http.StatusNotFound, "")
				}
			})
		}
	}
	unchanged(t, ra, before)
	if st := snapshot(t, f.router.Tenant("b")); len(st.Aliases)+len(st.Sessions) != 0 {
		t.Fatalf("tenant b holds items after refused requests: %+v", st)
	}

	// Keys are per tenant: tenant "c" may reuse tenant a's keys, and what it
	// creates never shows up in tenant a.
	hc := []string{"X-Tenant", "c"}
	createAlias(t, f.h, "support", singlePolicy("support-v2"), hc...)
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agents/support-v1/sessions", map[string]any{"key": "chat-1"}, hc...)
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", map[string]any{"key": "direct"}, hc...)
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agents/support-v1/sessions/chat-1/events", textInput("artifact c.txt"), hc...)
	unchanged(t, ra, before)
	if got := keysOf(t, listAll(t, f.h, "/v2/agents/support-v1/sessions", "sessions", 0), "key"); len(got) != 0 {
		t.Errorf("the default tenant lists sessions %v", got)
	}
	s := call(t, f.h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-1", nil, "X-Tenant", "a")
	if s["agent_key"] != "support-v1" {
		t.Errorf("tenant a's chat-1 changed: %v", s)
	}
}

// TestTenantHookError refuses every route with 403 when the Tenant hook
// fails, and with the hook's own code when it is an *agentalias.Error.
func TestTenantHookError(t *testing.T) {
	f := newFixture(t, &httpapi.Options{Tenant: tenantHook}, nil)
	w := populate(t, f)
	before := snapshot(t, f.router)
	for _, rt := range allRoutes() {
		path, body := w.request(rt)
		t.Run(rt.id, func(t *testing.T) {
			m := checkError(t, do(t, f.h, rt.method, path, body, "X-Tenant", "evil"), http.StatusForbidden, "")
			if msg := m["messages"].([]any)[0].(string); !strings.Contains(msg, "unknown API key") {
				t.Errorf("message %q does not give the hook's reason", msg)
			}
			checkError(t, do(t, f.h, rt.method, path, body, "X-Tenant", "down"), http.StatusServiceUnavailable, "the tenant directory is down")
		})
	}
	unchanged(t, f.router, before)
}

// authLog records the operations Authorize was asked about.
type authLog struct {
	mu   sync.Mutex
	seen []string // "tenant/operation"
}

func (l *authLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.seen
	l.seen = nil
	return out
}

// authorizer records each call and denies an operation named in X-Deny (or
// every one, for "all").
func (l *authLog) authorize(r *http.Request, tenant, op string) error {
	l.mu.Lock()
	l.seen = append(l.seen, tenant+"/"+op)
	l.mu.Unlock()
	if d := r.Header.Get("X-Deny"); d == "all" || d == op {
		return errors.New("role agent_viewer may not call " + op)
	}
	return nil
}

// TestAuthorize checks that every route asks Authorize with its
// operationId and the request's tenant, and that a denial is 403 with the
// hook's message and writes nothing.
func TestAuthorize(t *testing.T) {
	log := &authLog{}
	f := newFixture(t, &httpapi.Options{Tenant: tenantHook, Authorize: log.authorize}, nil)
	w := populate(t, f, "X-Tenant", "t1")
	log.take()
	rt1 := f.router.Tenant("t1")

	// Denied: every route, nothing written.
	before := snapshot(t, rt1)
	for _, rt := range allRoutes() {
		path, body := w.request(rt)
		t.Run("Deny/"+rt.id, func(t *testing.T) {
			checkError(t, do(t, f.h, rt.method, path, body, "X-Tenant", "t1", "X-Deny", rt.id), http.StatusForbidden, "role agent_viewer may not call "+rt.id)
			if d := cmp.Diff([]string{"t1/" + rt.id}, log.take()); d != "" {
				t.Errorf("Authorize calls (-want +got):\n%s", d)
			}
		})
	}
	unchanged(t, rt1, before)

	// Allowed: each route asks once with its own operationId, and the table
	// of ids seen is the whole contract.
	seen := map[string]bool{}
	for _, rt := range allRoutes() {
		path, body := w.request(rt)
		r := do(t, f.h, rt.method, path, body, "X-Tenant", "t1", "X-Deny", "none")
		if r.Status == http.StatusForbidden || r.Status == http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d: %s", rt.method, path, r.Status, r.Body)
		}
		got := log.take()
		if d := cmp.Diff([]string{"t1/" + rt.id}, got); d != "" {
			t.Errorf("%s %s: Authorize calls (-want +got):\n%s", rt.method, path, d)
		}
		for _, g := range got {
			seen[strings.TrimPrefix(g, "t1/")] = true
		}
	}
	want := []string{
		"createAgentAlias", "listAgentAliases", "getAgentAlias", "updateAgentAlias", "deleteAgentAlias", "replaceAgentAliasPolicy",
		"createAliasRoutedSession", "listAliasRoutedSessions", "getAliasRoutedSession", "updateAliasRoutedSession", "deleteAliasRoutedSession",
		"createAliasRoutedInput", "listAliasRoutedEvents", "listAliasRoutedOutstandingClientToolCalls", "getAliasRoutedEvent",
		"deleteAliasRoutedEvent", "hideAliasRoutedEvent", "unhideAliasRoutedEvent", "listAliasRoutedSessionArtifacts", "getAliasRoutedSessionArtifact",
		"createAgentSession", "listAgentSessions", "getAgentSession", "updateAgentSession", "deleteAgentSession", "createAgentInput",
		"listAgentEvents", "listOutstandingClientToolCalls", "getAgentEvent", "deleteAgentEvent", "hideAgentEvent", "unhideAgentEvent",
		"listSessionArtifacts", "getSessionArtifact", "getOpenAPIDocument",
	}
	if d := cmp.Diff(sortedKeys(setOf(want)), sortedKeys(seen)); d != "" {
		t.Errorf("operationIds seen (-want +got):\n%s", d)
	}
	// The contract's 20 alias operations are all there.
	n := 0
	for id := range seen {
		if strings.Contains(id, "Alias") {
			n++
		}
	}
	if n != 20 {
		t.Errorf("%d alias operations, want 20", n)
	}
}

func setOf(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// TestRequestID echoes a well-formed X-Request-Id and makes one up
// otherwise, in the header of every response and in error bodies.
func TestRequestID(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := f.h

	r := do(t, h, http.MethodGet, "/v2/agent_aliases/nope", nil, "X-Request-Id", "req_client-42")
	if m := checkError(t, r, http.StatusNotFound, ""); m["request_id"] != "req_client-42" {
		t.Errorf("request_id %v, want req_client-42", m["request_id"])
	}
	r = do(t, h, http.MethodGet, "/v2/agent_aliases", nil, "X-Request-Id", "abc.123")
	if got := r.Header.Get("X-Request-Id"); got != "abc.123" {
		t.Errorf("success response X-Request-Id %q, want abc.123", got)
	}

	generated := regexp.MustCompile(`^req_[0-9a-f]{24}$`)
	ids := map[string]bool{}
	for _, hdr := range [][]string{nil, {"X-Request-Id", "has space"}, {"X-Request-Id", strings.Repeat("x", 129)}, {"X-Request-Id", "tab\there"}, nil} {
		r := do(t, h, http.MethodPost, "/v2/agent_aliases", "{", hdr...)
		m := checkError(t, r, http.StatusBadRequest, "")
		id, _ := m["request_id"].(string)
		if !generated.MatchString(id) {
			t.Errorf("header %q: request_id %q is not a generated id", hdr, id)
		}
		if ids[id] {
			t.Errorf("request id %q made twice", id)
		}
		ids[id] = true
	}
	r = do(t, h, http.MethodGet, "/v2/agent_aliases", nil)
	if !generated.MatchString(r.Header.Get("X-Request-Id")) {
		t.Errorf("success response X-Request-Id %q", r.Header.Get("X-Request-Id"))
	}

	// Options.RequestID decides.
	f2 := newFixture(t, &httpapi.Options{RequestID: func(r *http.Request) string { return "trace-" + r.Header.Get("Traceparent") }}, nil)
	r = do(t, f2.h, http.MethodDelete, "/v2/agent_aliases/nope", nil, "Traceparent", "00-abc-01", "X-Request-Id", "ignored")
	if m := checkError(t, r, http.StatusNotFound, ""); m["request_id"] != "trace-00-abc-01" {
		t.Errorf("request_id %v, want trace-00-abc-01", m["request_id"])
	}
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestInternalErrorsDoNotLeak makes agents fail and panic with a secret in
// the error: the client gets a bare 500, the log gets the detail with the
// request id.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	var logs lockedBuffer
	panicky := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
		panic("SECRET-DETAIL in a panic")
	})
	f := newFixture(t, &httpapi.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, map[string]agentalias.Agent{"panicky": panicky})
	h := f.h
	createAlias(t, h, "support", singlePolicy("support-v1"))
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions", map[string]any{"key": "chat-1"})
	call(t, h, http.StatusCreated, http.MethodPost, "/v2/agents/panicky/sessions", map[string]any{"key": "chat-2"})

	for _, tc := range []struct{ name, path, text, rid string }{
		{"AgentError", "/v2/agent_aliases/support/sessions/chat-1/events", "fail", "req-leak-1"},
		{"AgentPanic", "/v2/agents/panicky/sessions/chat-2/events", "hi", "req-leak-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, h, http.MethodPost, tc.path, textInput(tc.text), "X-Request-Id", tc.rid)
			m := checkError(t, r, http.StatusInternalServerError, "")
			if bytes.Contains(r.Body, []byte("SECRET")) || bytes.Contains(r.Body, []byte("hunter2")) {
				t.Errorf("500 body leaks the error: %s", r.Body)
			}
			if m["request_id"] != tc.rid {
				t.Errorf("request_id %v, want %s", m["request_id"], tc.rid)
			}
			found := false
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "SECRET-DETAIL") && strings.Contains(line, tc.rid) {
					found = true
				}
			}
			if !found {
				t.Errorf("no log record holds both SECRET-DETAIL and %s:\n%s", tc.rid, logs.String())
			}
		})
	}
	// The session is usable after the failure.
	resp := call(t, h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/support/sessions/chat-1/events", textInput("again"))
	if d := cmp.Diff([]string{"input_message", "agent_output"}, eventTypes(resp["events"].([]any))); d != "" {
		t.Errorf("events after a failed turn (-want +got):\n%s", d)
	}
	s := call(t, h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/support/sessions/chat-1", nil)
	if s["status"] != "stopped" {
		t.Errorf("status %v after turns, want stopped", s["status"])
	}
}
