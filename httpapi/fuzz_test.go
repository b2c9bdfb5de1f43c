package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/memstore"
)

// The request bodies of the contract, used as seeds.
const (
	fuzzCreateAlias   = `{"key":"support","name":"Customer Support","description":"Stable public handle for the support agent","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]}}`
	fuzzCreateSession = `{"key":"chat-42","name":"Chat","metadata":{"tenant":"acme"},"tti_minutes":5,"secrets":{"slack_user_token":"x"},"from_session":{"session_key":"s1"}}`
	fuzzPatchSession  = `{"secrets":{"a":"b","old":null},"metadata":null}`
	fuzzInput         = `{"type":"input_message","messages":[{"type":"text","content":"hi"}]}`
	fuzzReplacePolicy = `{"policy":{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.key')","options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}}`
)

// fuzzBodySeeds are the seed request bodies: the contract's, variations of
// them, and malformed ones.
func fuzzBodySeeds() []string {
	// Deep, but not so big that minimising its offspring stalls the fuzzer.
	deep := strings.Repeat(`{"a":`, 1000) + `1` + strings.Repeat(`}`, 1000)
	deepMeta := `{"metadata":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `}`
	deepArr := `{"key":"deep","name":"d","metadata":{"a":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}}`
	return []string{
		fuzzCreateAlias, fuzzCreateSession, fuzzPatchSession, fuzzInput, fuzzReplacePolicy,
		strings.Replace(fuzzCreateAlias, `"support"`, `"support-2"`, 1),
		`{"name":"Renamed","description":null,"enabled":false,"metadata":{"team":"core"}}`,
		`{"type":"input_message","stream_response":true,"messages":[{"type":"text","content":"hi"}]}`,
		`{"type":"interrupt"}`,
		`{"type":"tool_output","tool_outputs":[{"type":"success","event_id":"aev_x","output":{}}]}`,
		`{"key":"s3","from_session":{"session_key":"s1","include_up_to_event_id":"aev_nope"}}`,
		`{"policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"unknown-agent"}}]}}`,
		`{"policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v2"}}]},"stickiness":{"key":"get('$.session.metadata.user')","ttl_minutes":60}}`,
		// Malformed JSON.
		``, ` `, `{`, `}`, `{"key":}`, `{"key":"a",}`, `{"key":"a"} {"key":"b"}`, `{"key":"a"}x`, `nul`, "\xff\xfe", `{"a":"\ud800"}`,
		`null`, `[]`, `"str"`, `1`, `true`,
		// Huge numbers.
		`{"tti_minutes":1e400}`, `{"tti_minutes":-9223372036854775809}`, `{"tti_minutes":9223372036854775807}`,
		`{"metadata":{"n":1e308,"m":-1e308,"big":123456789012345678901234567890}}`,
		`{"policy":{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.key')","options":[{"agent_key":"support-v1","weight":1e400},{"agent_key":"support-v2","weight":18446744073709551616}]}}]}}`,
		// Deep nesting.
		deep, deepMeta, deepArr,
	}
}

// fuzzQuerySeeds are the seed query strings of the GET routes.
var fuzzQuerySeeds = []string{
	"", "limit=1", "limit=100", "limit=0", "limit=101", "limit=-1", "limit=99999999999999999999", "limit=x",
	"page_key=", "page_key=YTpzdXBwb3J0", "page_key=%00", "page_key=!!!", "page_key=czox&limit=1", "page_key=ZTox",
	"enabled=true", "enabled=maybe", "aliased_agent_key=support-v1", "aliased_agent_key=bad%20key",
	"filter=Chat", "filter=(", "filter=" + strings.Repeat("a", 1025), "filter=a{1000}{1000}",
	"include_hidden=true", "sort_by=updated_at&order_by=asc", "sort_by=size", "order_by=up",
	"limit=1&limit=2", "%zz", ";;;", "a=%ff",
}

// fuzzRoute is one request the fuzzer may send: a body route (POST, PUT,
// PATCH) gets the fuzzed bytes as its body, a GET route as its query.
type fuzzRoute struct {
	method, path string
	body         bool
}

// fuzzEnv is a router over a memstore, populated with an alias "support",
// a session "s1" created through it (with a secret, events and an
// artifact), a session "s2" of agent support-v2, and a handler serving it.
type fuzzEnv struct {
	store      *memstore.Store
	router     *agentalias.AliasRouter
	h          *Handler
	eventID    string // the input event of s1
	artifactID string // the artifact of s1
}

var fuzzTime = time.Date(2026, time.June, 2, 10, 35, 0, 0, time.UTC)

func newFuzzEnv(t testing.TB) *fuzzEnv {
	t.Helper()
	ok := agentalias.AgentFunc(func(ctx context.Context, turn *agentalias.Turn) error { return turn.Reply("ok") })
	var n atomic.Int64
	store := memstore.New() // the router does not own it: keep it to snapshot
	r, err := agentalias.New(store, &agentalias.Options{
		Agents:        map[string]agentalias.Agent{"support-v1": ok, "support-v2": ok},
		Now:           func() time.Time { return fuzzTime },
		NewID:         func() string { return fmt.Sprintf("id%06d", n.Add(1)) },
		SweepInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.CreateAlias(ctx, alias.Params{Key: "support", Name: "Customer Support",
		Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{
			{Targets: policy.Targets{Type: policy.TargetSingle, AgentKey: "support-v1"}},
		}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateSession(ctx, agentalias.ViaAlias("support"), session.Params{Key: "s1", Name: "Chat",
		Metadata: map[string]any{"tenant": "acme"}, Secrets: map[string]string{"old": "secret-value"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := r.Submit(ctx, agentalias.ViaAlias("support"), "s1",
		agentalias.Input{Messages: []event.Input{event.Text("hello")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	art, err := r.UploadArtifact(ctx, agentalias.ViaAlias("support"), "s1",
		agentalias.ArtifactParams{Filename: "a.txt", MimeType: "text/plain", Data: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateSession(ctx, agentalias.ViaAgent("support-v2"), session.Params{Key: "s2"}); err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fuzzEnv{store: store, router: r, h: h, eventID: resp.Events[0].ID, artifactID: art.ID}
}

// routes returns every POST, PUT and PATCH route of operations and every GET
// route, with valid path parameters naming what env holds.
func (env *fuzzEnv) routes() []fuzzRoute {
	params := strings.NewReplacer("{alias_key}", "support", "{agent_key}", "support-v1", "{session_key}", "s1",
		"{event_id}", env.eventID, "{artifact_id}", env.artifactID)
	var out []fuzzRoute
	for _, o := range operations {
		switch o.method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			out = append(out, fuzzRoute{o.method, params.Replace(o.path), true})
		case http.MethodGet:
			out = append(out, fuzzRoute{o.method, params.Replace(o.path), false})
		}
	}
	return out
}

// snapshot describes everything the store holds for the default tenant,
// including what JSON leaves out (revisions, expiry, secrets).
func (env *fuzzEnv) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	add := func(v any) {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	for pk := ""; ; {
		page, err := env.store.ListAliases(ctx, "", storage.AliasQuery{Limit: storage.MaxLimit, PageKey: pk})
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		for _, a := range page.Items {
			add(a)
			add(a.Revision)
		}
		if pk = page.Next; pk == "" {
			break
		}
	}
	var keys []string
	for pk := ""; ; {
		page, err := env.store.ListSessions(ctx, "", storage.SessionQuery{Limit: storage.MaxLimit, PageKey: pk})
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		for _, s := range page.Items {
			keys = append(keys, s.Key)
			add(s)
			add([]any{s.Revision, s.ExpiresAt, s.PendingToolCalls, map[string]string(s.Secrets)})
		}
		if pk = page.Next; pk == "" {
			break
		}
	}
	for _, key := range keys {
		for pk := ""; ; {
			page, err := env.store.ListEvents(ctx, "", key, storage.EventQuery{Limit: storage.MaxLimit, PageKey: pk, IncludeHidden: true})
			if err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			for _, ev := range page.Items {
				add(ev)
			}
			if pk = page.Next; pk == "" {
				break
			}
		}
		for pk := ""; ; {
			page, err := env.store.ListArtifacts(ctx, "", key, storage.ArtifactQuery{Limit: storage.MaxLimit, PageKey: pk})
			if err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			for _, a := range page.Items {
				add(a)
			}
			if pk = page.Next; pk == "" {
				break
			}
		}
	}
	return b.String()
}

// FuzzHandler sends fuzzed bodies to every POST, PUT and PATCH route, and
// fuzzed query strings to every GET route, of a handler over a populated
// store. The handler must not panic or answer 5xx; a 4xx must have the
// contract's error body (messages, request_id, and field_errors on a 400)
// and change nothing in the store; a 2xx JSON body must be valid JSON.
func FuzzHandler(f *testing.F) {
	probe := newFuzzEnv(f)
	routes := probe.routes()
	probe.router.Close()
	if len(routes) == 0 || len(routes) > 256 {
		f.Fatalf("%d routes", len(routes))
	}
	for i, rt := range routes {
		seeds := fuzzQuerySeeds
		if rt.body {
			seeds = fuzzBodySeeds()
		}
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, data []byte) {
		env := newFuzzEnv(t)
		defer env.router.Close()
		rt := env.routes()[int(route)%len(routes)]
		before := env.snapshot(t)

		var req *http.Request
		if rt.body {
			req = httptest.NewRequest(rt.method, rt.path, bytes.NewReader(data))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req = httptest.NewRequest(rt.method, rt.path, nil)
			req.URL.RawQuery = string(data)
		}
		rec := httptest.NewRecorder()
		env.h.ServeHTTP(rec, req)
		res := rec.Result()
		body := rec.Body.Bytes()
		what := fmt.Sprintf("%s %s with %q", rt.method, rt.path, data)

		switch {
		case res.StatusCode >= 500:
			t.Fatalf("%s: status %d; body: %s", what, res.StatusCode, body)
		case res.StatusCode >= 400:
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: status %d with Content-Type %q", what, res.StatusCode, ct)
			}
			var e struct {
				Messages    []string          `json:"messages"`
				RequestID   *string           `json:"request_id"`
				FieldErrors map[string]string `json:"field_errors"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%s: status %d with a body that is not the error object: %v; body: %s", what, res.StatusCode, err, body)
			}
			if len(e.Messages) == 0 || e.Messages[0] == "" {
				t.Errorf("%s: status %d without messages; body: %s", what, res.StatusCode, body)
			}
			if e.RequestID == nil || *e.RequestID == "" {
				t.Errorf("%s: status %d without request_id; body: %s", what, res.StatusCode, body)
			}
			if res.StatusCode == http.StatusBadRequest && e.FieldErrors == nil {
				t.Errorf("%s: 400 without field_errors; body: %s", what, body)
			}
			if after := env.snapshot(t); after != before {
				t.Fatalf("%s: status %d changed the store; body: %s\nbefore:\n%s\nafter:\n%s", what, res.StatusCode, body, before, after)
			}
		case res.StatusCode >= 200 && res.StatusCode < 300:
			if res.StatusCode != http.StatusNoContent && res.Header.Get("Content-Type") == "application/json" && !json.Valid(body) {
				t.Fatalf("%s: status %d with invalid JSON: %s", what, res.StatusCode, body)
			}
		default:
			t.Fatalf("%s: unexpected status %d; body: %s", what, res.StatusCode, body)
		}
	})
}
