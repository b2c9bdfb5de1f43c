package httpapi_test

// This file checks the handler against its own OpenAPI document
// (openapi.json, served at GET /v2/openapi.json):
//
//   - TestOpenAPI_Document: the document loads and validates, lists exactly
//     the handler's routes and operationIds, and is what the handler serves.
//   - validateExchange, installed as checkExchange: every exchange any test of
//     the package sends through do is validated against the document.
//   - TestOpenAPI_Exchanges: a walk over every operation, success and error,
//     so that every documented operation and response schema is exercised by
//     the validator even without the other tests.
//   - TestOpenAPI_ValidatorCatches: the validator refuses exchanges that
//     break the document.
//
// Every other identifier here starts with "oas", to stay clear of the
// helpers of the package's other test files.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/httpapi"
	"github.com/agentalias/agentalias/storage/memstore"
)

func init() { checkExchange = validateExchange }

// ---------------------------------------------------------------------------
// The document, loaded once.

var oasSpec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// oasLoad returns the handler's document, loaded and validated, and a router
// over it. It fails the test if the document is broken.
func oasLoad(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	oasSpec.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(httpapi.OpenAPI())
		if err != nil {
			oasSpec.err = fmt.Errorf("loading: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			oasSpec.err = fmt.Errorf("validating: %w", err)
			return
		}
		router, err := legacy.NewRouter(doc)
		if err != nil {
			oasSpec.err = fmt.Errorf("routing: %w", err)
			return
		}
		oasSpec.doc, oasSpec.router = doc, router
	})
	if oasSpec.err != nil {
		t.Fatalf("openapi.json: %v", oasSpec.err)
	}
	return oasSpec.doc, oasSpec.router
}

// ---------------------------------------------------------------------------
// What the validator saw, by top-level test, for the coverage check.

type oasSeen struct {
	ops      map[string]bool // operationId
	statuses map[string]bool // operationId + " " + status
	schemas  map[string]bool // response schema names validated
}

var oasCoverage = struct {
	sync.Mutex
	byTest map[string]*oasSeen
}{byTest: map[string]*oasSeen{}}

func oasRecord(t *testing.T, opID string, status int, schema string) {
	top, _, _ := strings.Cut(t.Name(), "/")
	oasCoverage.Lock()
	defer oasCoverage.Unlock()
	s := oasCoverage.byTest[top]
	if s == nil {
		s = &oasSeen{ops: map[string]bool{}, statuses: map[string]bool{}, schemas: map[string]bool{}}
		oasCoverage.byTest[top] = s
	}
	if opID != "" {
		s.ops[opID] = true
		s.statuses[opID+" "+strconv.Itoa(status)] = true
	}
	if schema != "" {
		s.schemas[schema] = true
	}
}

// ---------------------------------------------------------------------------
// The validator.

// oasOptions are the validation options: responses must have a documented
// status, schema errors are reported briefly with their location.
func oasOptions(excludeResponseBody bool) *openapi3filter.Options {
	o := &openapi3filter.Options{
		IncludeResponseStatus: true,
		ExcludeResponseBody:   excludeResponseBody,
		SkipSettingDefaults:   true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	}
	o.WithCustomSchemaErrorFunc(oasSchemaError)
	return o
}

// oasErr returns the message of a validation error without the dump of the
// schema and value that kin-openapi appends to the errors oasSchemaError
// does not format (discriminator errors, for one).
func oasErr(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\nSchema:\n"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// oasSchemaError formats a schema error as "at /json/pointer: reason", with
// the reasons of nested errors, and without kin-openapi's dump of the schema
// and value.
func oasSchemaError(e *openapi3.SchemaError) string {
	msg := "at /" + strings.Join(e.JSONPointer(), "/") + ": " + e.Reason
	if e.Origin != nil {
		msg += " (" + oasErr(e.Origin) + ")"
	}
	return msg
}

// validateExchange validates one exchange against the document: the request
// (unless the handler refused it with a 4xx: tests send bad requests on
// purpose), and the response, whatever its status: status, headers, content
// type and body. The body of a text/event-stream response is not validated
// here (TestOpenAPI_Exchanges validates streams event by event).
func validateExchange(t *testing.T, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	t.Helper()
	doc, router := oasLoad(t)
	problems, opID, schema := oasCheck(doc, router, req, reqBody, resp, respBody)
	for _, p := range problems {
		t.Errorf("openapi: %s %s → %d: %s", req.Method, req.URL.RequestURI(), resp.StatusCode, p)
	}
	if len(problems) == 0 {
		oasRecord(t, opID, resp.StatusCode, schema)
	}
}

// oasMethods are the methods kin-openapi's router knows (it panics on
// others).
var oasMethods = []string{http.MethodConnect, http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions,
	http.MethodPatch, http.MethodPost, http.MethodPut, http.MethodTrace}

// oasCheck validates one exchange and returns its problems, the operation
// it matched ("" for none) and the name of the response schema validated.
func oasCheck(doc *openapi3.T, router routers.Router, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) (problems []string, opID, schema string) {
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if resp.Header.Get("X-Request-Id") == "" {
		fail("no X-Request-Id response header")
	}

	method := req.Method
	err := error(routers.ErrMethodNotAllowed)
	var route *routers.Route
	var pathParams map[string]string
	if slices.Contains(oasMethods, method) {
		route, pathParams, err = router.FindRoute(oasWithMethod(req, oasRouteMethod(method)))
	}
	if err == nil && oasExpand(route.Path, pathParams) != req.URL.Path {
		// kin-openapi's legacy router also matches a path parameter to an
		// empty segment, or to none: /v2/agent_aliases as
		// /v2/agent_aliases/{alias_key}. Such a match is no match.
		err = routers.ErrPathNotFound
	}
	if err != nil {
		schema = oasCheckUnrouted(doc, resp, respBody, fail)
		return problems, "", schema
	}
	opID = route.Operation.OperationID

	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		reqInput := &openapi3filter.RequestValidationInput{
			Request: oasWithBody(req, reqBody), PathParams: pathParams, Route: route, Options: oasOptions(false),
		}
		if err := openapi3filter.ValidateRequest(context.Background(), reqInput); err != nil {
			fail("the request does not match %s, yet the handler accepted it: %s", opID, oasErr(err))
		}
	}

	ctype := resp.Header.Get("Content-Type")
	mediaType, _, _ := mime.ParseMediaType(ctype)
	sse := mediaType == "text/event-stream"
	respInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: oasWithBody(req, reqBody), PathParams: pathParams, Route: route,
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: oasOptions(sse),
	}
	respInput.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), respInput); err != nil {
		fail("the response does not match %s: %s", opID, oasErr(err))
		return problems, opID, ""
	}

	// What ValidateResponse leaves out: the status of a HEAD, a body where
	// none is documented, and the content type of a response whose body it
	// did not read.
	ref := route.Operation.Responses.Status(resp.StatusCode)
	if ref == nil || ref.Value == nil {
		fail("status %d is not documented for %s", resp.StatusCode, opID)
		return problems, opID, ""
	}
	content := ref.Value.Content
	switch {
	case len(content) == 0:
		if len(bytes.TrimSpace(respBody)) > 0 && method != http.MethodHead {
			fail("%s documents no body for %d, yet the response has one: %q", opID, resp.StatusCode, oasShort(respBody))
		}
	case content.Get(mediaType) == nil:
		fail("%s does not document content type %q for %d", opID, ctype, resp.StatusCode)
	default:
		if s := content.Get(mediaType).Schema; s != nil {
			schema = oasRefName(s.Ref)
		}
		if sse {
			schema += " (text/event-stream)"
		}
	}
	return problems, opID, schema
}

// oasCheckUnrouted validates the response to a request that matches no
// documented operation: it must be the handler's 404 for an unknown path or
// its 405 for a method the path does not allow, as the document describes
// them in components/responses. It returns the schema validated.
func oasCheckUnrouted(doc *openapi3.T, resp *http.Response, respBody []byte, fail func(string, ...any)) string {
	var respName string
	switch resp.StatusCode {
	case http.StatusNotFound:
		respName = "NotFound"
	case http.StatusMethodNotAllowed:
		respName = "MethodNotAllowed"
	case http.StatusBadRequest:
		// A path the document's router cannot match but the handler's can
		// (an escaped "/" in a key, for example), refused as invalid.
		respName = "BadRequest"
	default:
		fail("no documented operation matches this request, yet the handler answered it")
		return ""
	}
	r := doc.Components.Responses[respName]
	if r == nil || r.Value == nil {
		fail("components/responses/%s is missing", respName)
		return ""
	}
	for name, h := range r.Value.Headers {
		if h.Value.Required && resp.Header.Get(name) == "" {
			fail("response header %s missing (components/responses/%s)", name, respName)
		}
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	mt := r.Value.Content.Get(mediaType)
	if mt == nil {
		fail("content type %q is not documented in components/responses/%s", resp.Header.Get("Content-Type"), respName)
		return ""
	}
	var v any
	if err := json.Unmarshal(respBody, &v); err != nil {
		fail("the body is not JSON: %v: %q", err, oasShort(respBody))
		return ""
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.SetSchemaErrorMessageCustomizer(oasSchemaError)); err != nil {
		fail("the body does not match components/responses/%s: %s", respName, oasErr(err))
		return ""
	}
	if resp.StatusCode == http.StatusMethodNotAllowed && !oasAllowOK(resp.Header.Get("Allow")) {
		fail("malformed Allow header %q", resp.Header.Get("Allow"))
	}
	return oasRefName(mt.Schema.Ref)
}

func oasAllowOK(s string) bool {
	for _, m := range strings.Split(s, ", ") {
		if m == "" || strings.ToUpper(m) != m {
			return false
		}
	}
	return true
}

// oasExpand fills the parameters of a documented path.
func oasExpand(path string, params map[string]string) string {
	for name, v := range params {
		path = strings.ReplaceAll(path, "{"+name+"}", v)
	}
	return path
}

// oasRouteMethod is the method whose operation documents a request: HEAD is
// served by the GET operation.
func oasRouteMethod(m string) string {
	if m == http.MethodHead {
		return http.MethodGet
	}
	return m
}

func oasWithMethod(r *http.Request, method string) *http.Request {
	c := r.Clone(context.Background())
	c.Method = method
	return c
}

func oasWithBody(r *http.Request, body []byte) *http.Request {
	c := r.Clone(context.Background())
	c.Body = http.NoBody
	if body != nil {
		c.Body = io.NopCloser(bytes.NewReader(body))
		c.ContentLength = int64(len(body))
	}
	return c
}

func oasRefName(ref string) string {
	return strings.TrimPrefix(ref, "#/components/schemas/")
}

func oasShort(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// TestOpenAPI_Document

// oasRoute is one documented or served route.
type oasRoute struct{ method, path, opID string }

func (r oasRoute) String() string { return r.method + " " + r.path + " (" + r.opID + ")" }

// oasDocRoutes returns the document's operations, sorted.
func oasDocRoutes(doc *openapi3.T) []oasRoute {
	var out []oasRoute
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out = append(out, oasRoute{method, path, op.OperationID})
		}
	}
	oasSortRoutes(out)
	return out
}

func oasSortRoutes(rs []oasRoute) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].path != rs[j].path {
			return rs[i].path < rs[j].path
		}
		return rs[i].method < rs[j].method
	})
}

// oasSourceRoutes reads the handler's route table, the operations variable
// of operations.go, from the source: the external test package cannot see
// it otherwise. Paths are built from the file's string constants.
func oasSourceRoutes(t *testing.T) []oasRoute {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "operations.go", nil, 0)
	if err != nil {
		t.Fatalf("reading the route table: %v", err)
	}
	consts := map[string]string{}
	var eval func(e ast.Expr) (string, bool)
	eval = func(e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		case *ast.Ident:
			s, ok := consts[e.Name]
			return s, ok
		case *ast.SelectorExpr: // http.MethodGet and friends
			if x, ok := e.X.(*ast.Ident); ok && x.Name == "http" && strings.HasPrefix(e.Sel.Name, "Method") {
				return strings.ToUpper(strings.TrimPrefix(e.Sel.Name, "Method")), true
			}
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				a, ok1 := eval(e.X)
				b, ok2 := eval(e.Y)
				return a + b, ok1 && ok2
			}
		case *ast.ParenExpr:
			return eval(e.X)
		}
		return "", false
	}
	var table *ast.CompositeLit
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range g.Specs {
			vs, ok := s.(*ast.ValueSpec)
			if !ok {
				continue
			}
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				switch {
				case g.Tok == token.CONST:
					if v, ok := eval(vs.Values[i]); ok {
						consts[name.Name] = v
					}
				case g.Tok == token.VAR && name.Name == "operations":
					table, _ = vs.Values[i].(*ast.CompositeLit)
				}
			}
		}
	}
	if table == nil {
		t.Fatal("operations.go has no composite literal `var operations = []op{...}`; update oasSourceRoutes")
	}
	var out []oasRoute
	for _, elt := range table.Elts {
		cl, ok := elt.(*ast.CompositeLit)
		if !ok || len(cl.Elts) < 3 {
			t.Fatalf("unexpected entry in operations: %T", elt)
		}
		var r oasRoute
		var ok1, ok2, ok3 bool
		r.method, ok1 = eval(cl.Elts[0])
		r.path, ok2 = eval(cl.Elts[1])
		r.opID, ok3 = eval(cl.Elts[2])
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("%v: cannot evaluate this entry of operations; update oasSourceRoutes", fset.Position(cl.Pos()))
		}
		out = append(out, r)
	}
	oasSortRoutes(out)
	return out
}

// oasConcrete fills a documented path's parameters with valid values.
func oasConcrete(path string) string {
	r := strings.NewReplacer(
		"{alias_key}", "probe-alias", "{agent_key}", "probe-agent", "{session_key}", "probe-session",
		"{event_id}", "aev_probe", "{artifact_id}", "art_probe")
	return r.Replace(path)
}

func TestOpenAPI_Document(t *testing.T) {
	doc, _ := oasLoad(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	documented := oasDocRoutes(doc)

	// The document lists exactly the handler's route table, with its
	// operationIds.
	served := oasSourceRoutes(t)
	if !slices.Equal(documented, served) {
		for _, r := range served {
			if !slices.Contains(documented, r) {
				t.Errorf("served but not documented: %v", r)
			}
		}
		for _, r := range documented {
			if !slices.Contains(served, r) {
				t.Errorf("documented but not served: %v", r)
			}
		}
	}
	ids := map[string]bool{}
	for _, r := range documented {
		if r.opID == "" || ids[r.opID] {
			t.Errorf("%v: operationId empty or repeated", r)
		}
		ids[r.opID] = true
	}

	// The handler serves the document.
	var authorized sync.Map // method + " " + concrete path -> operation
	deny := errors.New("probe: denied")
	h := oasHandler(t, &httpapi.Options{Authorize: func(r *http.Request, tenant, operation string) error {
		authorized.Store(r.Method+" "+r.URL.Path, operation)
		if r.URL.Path == "/v2/openapi.json" {
			return nil
		}
		return deny
	}}, nil)
	res := do(t, h, http.MethodGet, "/v2/openapi.json", nil)
	if res.Status != http.StatusOK || !bytes.Equal(res.Body, httpapi.OpenAPI()) {
		t.Errorf("GET /v2/openapi.json = %d, %d bytes; want 200 with OpenAPI() (%d bytes)", res.Status, len(res.Body), len(httpapi.OpenAPI()))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET /v2/openapi.json Content-Type = %q, want application/json", ct)
	}

	// Probing: every documented operation is routed (the Authorize hook sees
	// its operationId and denies it: 403), and every other method of a
	// documented path is 405 with an Allow header naming the documented ones.
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
	for path, item := range doc.Paths.Map() {
		concrete := oasConcrete(path)
		var allow []string
		for m := range item.Operations() {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
		sort.Strings(allow)
		for _, m := range methods {
			op := item.GetOperation(m)
			res := do(t, h, m, concrete, nil)
			if op == nil {
				if res.Status != http.StatusMethodNotAllowed || res.Header.Get("Allow") != strings.Join(allow, ", ") {
					t.Errorf("%s %s (not documented) = %d, Allow %q; want 405, Allow %q", m, concrete, res.Status, res.Header.Get("Allow"), strings.Join(allow, ", "))
				}
				continue
			}
			want := http.StatusForbidden
			if path == "/v2/openapi.json" {
				want = http.StatusOK
			}
			if res.Status != want {
				t.Errorf("%s %s (%s) = %d %s; want %d from the Authorize hook", m, concrete, op.OperationID, res.Status, oasShort(res.Body), want)
			}
			got, _ := authorized.Load(m + " " + concrete)
			if got != op.OperationID {
				t.Errorf("%s %s: the handler names the operation %v, the document %q", m, concrete, got, op.OperationID)
			}
		}
	}

	// Paths the document does not list are 404.
	for _, p := range []string{"/", "/v2", "/v2/agents", "/v2/agents/probe-agent", "/v2/agent_aliases/probe-alias/nothing",
		"/v2/agent_aliases/probe-alias/sessions/probe-session/nothing", "/v2/agents/probe-agent/sessions/probe-session/events/aev_probe/nothing"} {
		res := do(t, h, http.MethodGet, p, nil)
		var body struct{ ID string }
		json.Unmarshal(res.Body, &body)
		if res.Status != http.StatusNotFound || body.ID != p {
			t.Errorf("GET %s = %d %s; want 404 for an unknown path", p, res.Status, oasShort(res.Body))
		}
	}

	// Every extension is marked, and says so.
	for _, r := range documented {
		op := doc.Paths.Value(r.path).GetOperation(r.method)
		ext := op.Extensions["x-agentalias-extension"] == true
		wantExt := strings.HasPrefix(r.path, "/v2/agents/") || r.path == "/v2/openapi.json"
		if ext != wantExt {
			t.Errorf("%v: x-agentalias-extension = %v, want %v", r, ext, wantExt)
		}
		if ext && !strings.Contains(op.Description, "Extension of this library") {
			t.Errorf("%v: an extension whose description does not say so", r)
		}
	}
	for _, name := range []string{"FallbackRuleTargets", "AliasStickiness", "AliasStickinessRequest"} {
		if s := doc.Components.Schemas[name]; s == nil || s.Value.Extensions["x-agentalias-extension"] != true {
			t.Errorf("schema %s is not marked x-agentalias-extension", name)
		}
	}
	for name, s := range doc.Components.Schemas {
		if !strings.HasSuffix(name, "Event") || name == "AgentEvent" {
			continue
		}
		hr := s.Value.Properties["hide_reason"]
		if hr == nil || hr.Value.Extensions["x-agentalias-extension"] != true {
			t.Errorf("schema %s: hide_reason missing or not marked x-agentalias-extension", name)
		}
	}
}

// ---------------------------------------------------------------------------
// TestOpenAPI_Exchanges

// oasAgent answers a text input by its first message:
//
//	"everything"  emits an event of every type but input_message (the input
//	              itself) and session_interrupted (an interrupt's), saves an
//	              artifact and waits for a client tool
//	"await"       emits a tool_input and waits for the client to run it
//	"fail"        thinks, then fails
//	anything else thinks, saves an artifact and replies
//
// A tool_output input is answered with a reply.
func oasAgent(ctx context.Context, t *agentalias.Turn) error {
	if t.Input.Type == agentalias.InputToolOutput {
		return t.Reply("thanks for the tool output")
	}
	text := ""
	if len(t.Input.Messages) > 0 {
		text = t.Input.Messages[0].Content
	}
	n := len(t.History)
	callID := fmt.Sprintf("aev_call_%d", n)
	awaitTool := func() error {
		if _, err := t.Emit(&event.Event{ID: callID, Type: event.ToolInput, ToolCallID: callID, ToolConfigurationName: "lookup",
			ToolName: "lookup", ToolInput: map[string]any{"q": "widgets"}, ArgumentOverridePaths: []string{"q"}}); err != nil {
			return err
		}
		return t.AwaitClientTools(event.PendingCall{EventID: callID, ToolConfigurationName: "lookup", ToolName: "lookup",
			Arguments: map[string]any{"q": "widgets"}})
	}
	switch text {
	case "everything":
		a, err := t.SaveArtifact(agentalias.ArtifactParams{Filename: "chart.png", MimeType: "image/png", Data: []byte("\x89PNG"),
			Description: "a chart", Metadata: map[string]any{"source": "agent"}, TTLDays: 7})
		if err != nil {
			return err
		}
		for _, ev := range []*event.Event{
			{Type: event.SkillLoad, SkillName: "charts", Content: "how to draw charts"},
			{Type: event.Thinking, Content: "drawing"},
			{Type: event.Thinking},
			{Type: event.ToolInput, ToolCallID: "call_srv", ToolConfigurationName: "search", ToolName: "web_search", ToolInput: map[string]any{"query": "widgets"}},
			{Type: event.ToolOutput, ToolCallID: "call_srv", ToolConfigurationName: "search", ToolName: "web_search",
				ToolOutput: map[string]any{"result": "found"}, ResolvedArgumentOverrides: map[string]any{"token": "****"}},
			{Type: event.ImageRead, ArtifactID: a.ID, Detail: "high"},
			{Type: event.StepTransition, FromStep: "draft", ToStep: "review", Content: "draft done"},
			{Type: event.StructuredOutput, SchemaName: "chart", Structured: map[string]any{"bars": []any{1.0, 2.0}}},
			{Type: event.StructuredOutput, SchemaName: "nothing"},
			{Type: event.ContextLimitExceeded, Message: "context full", ContextLimit: 1000, ActualTokens: 1200},
			{Type: event.StepTransitionLimitExceeded, Message: "too many steps", TransitionLimit: 10},
			{Type: event.Compaction, TurnsCompacted: 1, EventsCompacted: 2, SummaryKey: "sum-1", SummaryText: "earlier"},
			{Type: event.AgentOutput, Content: "all done"},
		} {
			if _, err := t.Emit(ev); err != nil {
				return err
			}
		}
		return awaitTool()
	case "await":
		return awaitTool()
	case "fail":
		t.Think("about to fail")
		return errors.New("oas agent failed on purpose")
	}
	t.Think("considering " + text)
	if _, err := t.SaveArtifact(agentalias.ArtifactParams{Filename: "report.txt", MimeType: "text/plain", Data: []byte("report " + text)}); err != nil {
		return err
	}
	return t.Reply("hello from " + t.Session.AgentKey)
}

// oasHandler returns a handler over a fresh router with oasAgent as
// support-v1, support-v2 and spare, plus extra agents.
func oasHandler(t *testing.T, hopts *httpapi.Options, r **agentalias.AliasRouter) http.Handler {
	t.Helper()
	agents := map[string]agentalias.Agent{}
	for _, k := range []string{"support-v1", "support-v2", "spare"} {
		agents[k] = agentalias.AgentFunc(oasAgent)
	}
	router, err := agentalias.New(memstore.New(), &agentalias.Options{Agents: agents, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { router.Close() })
	h, err := httpapi.NewHandler(router, hopts)
	if err != nil {
		t.Fatal(err)
	}
	if r != nil {
		*r = router
	}
	return h
}

// oasCall sends one request through do and checks its status; it returns
// the JSON body as a map (nil when empty).
func oasCall(t *testing.T, h http.Handler, want int, method, path string, body any, hdr ...string) map[string]any {
	t.Helper()
	res := do(t, h, method, path, body, hdr...)
	if res.Status != want {
		t.Fatalf("%s %s = %d %s; want %d", method, path, res.Status, oasShort(res.Body), want)
	}
	if len(bytes.TrimSpace(res.Body)) == 0 {
		return nil
	}
	var m map[string]any
	res.JSON(t, &m)
	return m
}

func oasText(s string) map[string]any {
	return map[string]any{"messages": []any{map[string]any{"type": "text", "content": s}}}
}

// oasEvents returns the events of an AgentResponse or a list.
func oasEvents(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	raw, _ := m["events"].([]any)
	var out []map[string]any
	for _, e := range raw {
		out = append(out, e.(map[string]any))
	}
	return out
}

func oasFirst(t *testing.T, events []map[string]any, typ string) map[string]any {
	t.Helper()
	for _, e := range events {
		if e["type"] == typ {
			return e
		}
	}
	t.Fatalf("no %s event among %d", typ, len(events))
	return nil
}

// oasStream parses a text/event-stream body and validates each event's data
// against AgentStreamedResponse; it returns the types in order.
func oasStream(t *testing.T, doc *openapi3.T, body []byte) []string {
	t.Helper()
	schema := doc.Components.Schemas["AgentStreamedResponse"].Value
	var types []string
	for _, block := range strings.Split(strings.TrimSpace(string(body)), "\n\n") {
		var name, data string
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			default:
				t.Errorf("stream: unexpected line %q", line)
			}
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Errorf("stream: data of %q is not a JSON object: %v", name, err)
			continue
		}
		if v["type"] != name {
			t.Errorf("stream: event %q carries data of type %v", name, v["type"])
		}
		if err := schema.VisitJSON(any(v), openapi3.VisitAsResponse(), openapi3.SetSchemaErrorMessageCustomizer(oasSchemaError)); err != nil {
			t.Errorf("stream: event %q does not match AgentStreamedResponse: %s", name, oasErr(err))
		}
		types = append(types, name)
	}
	if len(types) == 0 || types[len(types)-1] != "end" {
		t.Errorf("stream: events %v do not end with end", types)
	}
	return types
}

func TestOpenAPI_Exchanges(t *testing.T) {
	doc, _ := oasLoad(t)
	var router *agentalias.AliasRouter
	h := oasHandler(t, nil, &router)

	policyDoc := map[string]any{"type": "routed", "rules": []any{
		map[string]any{"match": "get('$.session.metadata.tenant') == 'acme'",
			"targets": map[string]any{"type": "single", "agent_key": "support-v1"}},
		map[string]any{"match": "get('$.session.metadata.tier') == 'gold'",
			"targets": map[string]any{"type": "fallback", "agent_keys": []any{"support-v2", "spare"}}},
		map[string]any{"targets": map[string]any{"type": "weighted", "partition_by": "get('$.session.key')",
			"options": []any{map[string]any{"agent_key": "support-v1", "weight": 90}, map[string]any{"agent_key": "support-v2", "weight": 10}}}},
	}}

	// ---- aliases
	created := oasCall(t, h, 201, "POST", "/v2/agent_aliases", map[string]any{
		"key": "support", "name": "Customer Support", "description": "Stable public handle",
		"policy": policyDoc, "stickiness": map[string]any{"key": "get('$.session.metadata.user_id', '')", "ttl_minutes": 60},
		"enabled": true, "metadata": map[string]any{"region": "us"},
	})
	if created["stickiness"] == nil {
		t.Errorf("created alias has no stickiness: %v", created)
	}
	oasCall(t, h, 201, "POST", "/v2/agent_aliases", map[string]any{
		"key": "billing", "name": "Billing", "policy": map[string]any{"type": "routed", "rules": []any{
			map[string]any{"targets": map[string]any{"type": "single", "agent_key": "support-v2"}}}},
	})
	page := oasCall(t, h, 200, "GET", "/v2/agent_aliases?limit=1", nil)
	pk, _ := page["metadata"].(map[string]any)["page_key"].(string)
	if pk == "" {
		t.Fatalf("first page of two aliases has no page_key: %v", page)
	}
	oasCall(t, h, 200, "GET", "/v2/agent_aliases?limit=1&page_key="+url.QueryEscape(pk), nil)
	oasCall(t, h, 200, "GET", "/v2/agent_aliases?filter=Support.*&enabled=true&aliased_agent_key=spare", nil)
	oasCall(t, h, 200, "GET", "/v2/agent_aliases/support", nil)
	oasCall(t, h, 200, "PATCH", "/v2/agent_aliases/support", map[string]any{
		"name": "Support", "description": nil, "enabled": true, "metadata": map[string]any{"region": "eu"}})
	oasCall(t, h, 200, "PUT", "/v2/agent_aliases/support/policy", map[string]any{"policy": policyDoc, "stickiness": nil})
	oasCall(t, h, 200, "PUT", "/v2/agent_aliases/billing/policy", map[string]any{"policy": map[string]any{"type": "routed", "rules": []any{
		map[string]any{"targets": map[string]any{"type": "single", "agent_key": "support-v1"}}}},
		"stickiness": map[string]any{"key": "get('$.session.key')"}})

	// ---- sessions through the alias, and the same operations on the agent
	scopes := []struct {
		name, base, key string
		create          map[string]any
	}{
		{"alias", "/v2/agent_aliases/support/sessions", "chat-1", map[string]any{
			"key": "chat-1", "name": "Chat", "description": "A chat", "metadata": map[string]any{"tenant": "acme"},
			"enabled": true, "tti_minutes": 30, "secrets": map[string]any{"token": "s3cret"}}},
		{"agent", "/v2/agents/support-v2/sessions", "", map[string]any{"name": "Direct chat", "from_session": nil}},
	}
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			s := oasCall(t, h, 201, "POST", sc.base, sc.create)
			key, _ := s["key"].(string)
			if key == "" {
				t.Fatalf("created session has no key: %v", s)
			}
			sess := sc.base + "/" + key
			oasCall(t, h, 200, "GET", sc.base+"?limit=5&filter=.*", nil)
			oasCall(t, h, 200, "GET", sess, nil)
			oasCall(t, h, 200, "PATCH", sess, map[string]any{"description": "updated", "metadata": map[string]any{"tenant": "acme", "n": 1},
				"enabled": true, "tti_minutes": 0, "secrets": map[string]any{"token": nil, "other": "v"}, "name": nil})

			// A plain turn: thinking, an artifact, a reply.
			resp := oasCall(t, h, 201, "POST", sess+"/events", map[string]any{
				"type": "input_message", "messages": []any{map[string]any{"type": "text", "content": "hi"}, map[string]any{"type": "skill", "skill_name": "greet"}},
				"since": "start", "behavior": "follow_up", "stream_response": false})
			evs := oasEvents(t, resp)
			reply := oasFirst(t, evs, "agent_output")

			// A turn with every event type, waiting for a client tool.
			resp = oasCall(t, h, 201, "POST", sess+"/events", oasText("everything"))
			types := map[string]bool{}
			for _, e := range oasEvents(t, resp) {
				types[e["type"].(string)] = true
			}
			calls := oasCall(t, h, 200, "GET", sess+"/outstanding_client_tool_calls", nil)
			list, _ := calls["client_tool_calls"].([]any)
			if len(list) != 1 {
				t.Fatalf("outstanding calls = %v, want one", calls)
			}
			callID := list[0].(map[string]any)["event_id"].(string)
			oasCall(t, h, 201, "POST", sess+"/events", map[string]any{"type": "tool_output", "tool_outputs": []any{
				map[string]any{"type": "success", "event_id": callID, "output": map[string]any{"widgets": 3}}}})

			// Await again, answer with an error, streamed.
			oasCall(t, h, 201, "POST", sess+"/events", oasText("await"))
			calls = oasCall(t, h, 200, "GET", sess+"/outstanding_client_tool_calls", nil)
			callID = calls["client_tool_calls"].([]any)[0].(map[string]any)["event_id"].(string)
			res := do(t, h, "POST", sess+"/events", map[string]any{"type": "tool_output", "stream_response": true, "tool_outputs": []any{
				map[string]any{"type": "error", "event_id": callID, "error": "the client tool crashed"}}})
			if res.Status != 201 {
				t.Fatalf("streamed tool_output = %d %s", res.Status, oasShort(res.Body))
			}
			oasStream(t, doc, res.Body)

			// An interrupt.
			resp = oasCall(t, h, 201, "POST", sess+"/events", map[string]any{"type": "interrupt"})
			for _, e := range oasEvents(t, resp) {
				types[e["type"].(string)] = true
			}
			types["input_message"] = true
			for _, typ := range []string{"input_message", "skill_load", "artifact_upload", "tool_input", "tool_output", "thinking",
				"agent_output", "structured_output", "context_limit_exceeded", "step_transition_limit_exceeded",
				"session_interrupted", "client_tool_pending", "image_read", "step_transition", "compaction"} {
				if !types[typ] {
					t.Errorf("no %s event was validated", typ)
				}
			}

			// Streams: a plain turn (agent_output as chunks), a failed turn
			// (an error event), everything.
			for _, text := range []string{"streamed", "fail", "everything"} {
				res := do(t, h, "POST", sess+"/events", map[string]any{"messages": []any{map[string]any{"content": text}}, "stream_response": true})
				if res.Status != 201 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
					t.Fatalf("streamed %q = %d %q", text, res.Status, res.Header.Get("Content-Type"))
				}
				got := oasStream(t, doc, res.Body)
				want := map[string]string{"streamed": "streaming_agent_output_end", "fail": "error", "everything": "client_tool_pending"}[text]
				if !slices.Contains(got, want) {
					t.Errorf("stream of %q: %v has no %s", text, got, want)
				}
			}
			// Answer the pending call of the last stream, so the session is idle.
			calls = oasCall(t, h, 200, "GET", sess+"/outstanding_client_tool_calls", nil)
			callID = calls["client_tool_calls"].([]any)[0].(map[string]any)["event_id"].(string)
			oasCall(t, h, 201, "POST", sess+"/events", map[string]any{"type": "tool_output", "tool_outputs": []any{
				map[string]any{"type": "error", "event_id": callID, "error": map[string]any{"code": 7}}}})
			// A failed non-streamed turn is 500.
			oasCall(t, h, 500, "POST", sess+"/events", oasText("fail"))

			// Events.
			id := reply["id"].(string)
			oasCall(t, h, 200, "GET", sess+"/events?limit=100", nil)
			oasCall(t, h, 200, "GET", sess+"/events/"+id, nil)
			hidden := oasCall(t, h, 200, "POST", sess+"/events/"+id+"/hide", nil)
			if hidden["hide_reason"] != "manual" {
				t.Errorf("hidden event: %v", hidden)
			}
			oasCall(t, h, 200, "GET", sess+"/events?include_hidden=true&limit=2", nil)
			oasCall(t, h, 200, "POST", sess+"/events/"+id+"/unhide", nil)
			oasCall(t, h, 204, "DELETE", sess+"/events/"+id, nil)
			oasCall(t, h, 404, "GET", sess+"/events/"+id, nil)

			// Artifacts.
			arts := oasCall(t, h, 200, "GET", sess+"/artifacts?sort_by=updated_at&order_by=asc&limit=10", nil)
			items, _ := arts["artifacts"].([]any)
			if len(items) == 0 {
				t.Fatalf("no artifacts: %v", arts)
			}
			for _, it := range items {
				oasCall(t, h, 200, "GET", sess+"/artifacts/"+it.(map[string]any)["artifact_id"].(string), nil)
			}
			oasCall(t, h, 404, "GET", sess+"/artifacts/art_missing", nil)

			oasCall(t, h, 204, "DELETE", sess, nil)
			oasCall(t, h, 404, "GET", sess, nil)
		})
	}

	// ---- errors of every documented shape
	oasCall(t, h, 400, "POST", "/v2/agent_aliases", map[string]any{"key": "x", "name": "X", "policy": policyDoc, "colour": "red"})
	oasCall(t, h, 400, "GET", "/v2/agent_aliases?limit=0", nil)
	oasCall(t, h, 400, "GET", "/v2/agent_aliases/bad%21key", nil)
	oasCall(t, h, 409, "POST", "/v2/agent_aliases", map[string]any{"key": "billing", "name": "Billing", "policy": policyDoc})
	oasCall(t, h, 404, "GET", "/v2/agent_aliases/nobody", nil)
	oasCall(t, h, 404, "GET", "/v2/no/such/path", nil)
	oasCall(t, h, 405, "DELETE", "/v2/agent_aliases", nil)
	oasCall(t, h, 404, "POST", "/v2/agents/nobody/sessions", map[string]any{})

	// A session created through billing blocks its deletion while enabled.
	oasCall(t, h, 201, "POST", "/v2/agent_aliases/billing/sessions", map[string]any{"key": "b-1"})
	oasCall(t, h, 409, "DELETE", "/v2/agent_aliases/billing", nil)
	oasCall(t, h, 204, "DELETE", "/v2/agent_aliases/billing/sessions/b-1", nil)
	oasCall(t, h, 204, "DELETE", "/v2/agent_aliases/billing", nil)
	oasCall(t, h, 200, "GET", "/v2/openapi.json", nil)

	// 413, 403 and 503 need handlers of their own.
	small := oasHandler(t, &httpapi.Options{MaxBodyBytes: 64}, nil)
	oasCall(t, small, 413, "POST", "/v2/agent_aliases", map[string]any{"key": "big", "name": strings.Repeat("n", 100), "policy": policyDoc})
	denied := oasHandler(t, &httpapi.Options{Authorize: func(*http.Request, string, string) error { return errors.New("not you") }}, nil)
	oasCall(t, denied, 403, "GET", "/v2/agent_aliases", nil)
	var closedRouter *agentalias.AliasRouter
	closed := oasHandler(t, nil, &closedRouter)
	closedRouter.Close()
	oasCall(t, closed, 503, "GET", "/v2/agent_aliases", nil)

	if t.Failed() {
		return
	}

	// Coverage: this test alone exercised every documented operation with
	// its success status, and every response schema the document names.
	oasCoverage.Lock()
	seen := oasCoverage.byTest[t.Name()]
	oasCoverage.Unlock()
	if seen == nil {
		t.Fatal("the validator saw nothing: is checkExchange wired?")
	}
	wantSchemas := map[string]bool{}
	for _, r := range oasDocRoutes(doc) {
		op := doc.Paths.Value(r.path).GetOperation(r.method)
		if !seen.ops[r.opID] {
			t.Errorf("operation %s was not exercised", r.opID)
		}
		for code, resp := range op.Responses.Map() {
			if strings.HasPrefix(code, "2") && !seen.statuses[r.opID+" "+code] {
				t.Errorf("operation %s: response %s was not exercised", r.opID, code)
			}
			for mt, c := range resp.Value.Content {
				name := oasRefName(c.Schema.Ref)
				if mt == "text/event-stream" {
					name += " (text/event-stream)"
				}
				wantSchemas[name] = true
			}
		}
	}
	for name := range wantSchemas {
		if !seen.schemas[name] {
			t.Errorf("response schema %s was not exercised", name)
		}
	}
}

// TestOpenAPI_ValidatorCatches feeds the validator exchanges that break the
// document, and ones that do not, to show that it tells them apart.
func TestOpenAPI_ValidatorCatches(t *testing.T) {
	doc, router := oasLoad(t)
	alias := `{"key":"support","name":"Support","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"a"}}]},` +
		`"enabled":true,"metadata":{},"created_at":"2026-06-02T10:35:00Z"`
	event := `{"id":"aev_1","session_key":"s","created_at":"2026-06-02T10:35:00Z",`
	createAlias := `{"key":"support","name":"Support","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"a"}}]}}`
	tests := []struct {
		name                      string
		method, path, reqBody     string
		status                    int
		ctype, respBody, wantFail string // wantFail: "" when the exchange is valid
		noRequestID               bool
	}{
		{name: "ValidAlias", method: "GET", path: "/v2/agent_aliases/support", status: 200, ctype: "application/json", respBody: alias + `}`},
		{name: "UnknownResponseField", method: "GET", path: "/v2/agent_aliases/support", status: 200, ctype: "application/json",
			respBody: alias + `,"owner":"me"}`, wantFail: "owner"},
		{name: "MissingRequiredField", method: "GET", path: "/v2/agent_aliases/support", status: 200, ctype: "application/json",
			respBody: `{"key":"support"}`, wantFail: "name"},
		{name: "UndocumentedStatus", method: "GET", path: "/v2/agent_aliases/support", status: 418, ctype: "application/json",
			respBody: `{"messages":["teapot"],"request_id":"r"}`, wantFail: "status is not supported"},
		{name: "NoRequestID", method: "GET", path: "/v2/agent_aliases/support", status: 200, ctype: "application/json",
			respBody: alias + `}`, noRequestID: true, wantFail: "X-Request-Id"},
		{name: "AcceptedBadRequest", method: "POST", path: "/v2/agent_aliases", reqBody: `{"key":"support","colour":"red"}`,
			status: 201, ctype: "application/json", respBody: alias + `}`, wantFail: "the request does not match createAgentAlias"},
		{name: "RefusedBadRequest", method: "POST", path: "/v2/agent_aliases", reqBody: `{"key":"support","colour":"red"}`,
			status: 400, ctype: "application/json", respBody: `{"field_errors":{"colour":"unknown field"},"messages":["invalid request body"],"request_id":"r"}`},
		{name: "ValidCreate", method: "POST", path: "/v2/agent_aliases", reqBody: createAlias,
			status: 201, ctype: "application/json", respBody: alias + `}`},
		{name: "BadRequestWithoutFieldErrors", method: "POST", path: "/v2/agent_aliases", reqBody: `{}`,
			status: 400, ctype: "application/json", respBody: `{"messages":["x"],"request_id":"r"}`, wantFail: "field_errors"},
		{name: "NotFoundWithFieldErrors", method: "GET", path: "/v2/agent_aliases/support", status: 404, ctype: "application/json",
			respBody: `{"field_errors":{},"messages":["x"],"request_id":"r"}`, wantFail: "field_errors"},
		{name: "EventOfUnknownType", method: "GET", path: "/v2/agents/a/sessions/s/events/aev_1", status: 200, ctype: "application/json",
			respBody: event + `"type":"telepathy"}`, wantFail: "discriminator"},
		{name: "EventWithForeignField", method: "GET", path: "/v2/agents/a/sessions/s/events/aev_1", status: 200, ctype: "application/json",
			respBody: event + `"type":"agent_output","content":"hi","tool_name":"x"}`, wantFail: "tool_name"},
		{name: "ValidEvent", method: "GET", path: "/v2/agents/a/sessions/s/events/aev_1", status: 200, ctype: "application/json",
			respBody: event + `"type":"agent_output","content":"hi","hide_reason":"manual"}`},
		{name: "StreamOfWrongType", method: "POST", path: "/v2/agents/a/sessions/s/events", reqBody: `{"messages":[{"content":"hi"}],"stream_response":true}`,
			status: 201, ctype: "text/plain", respBody: "hello", wantFail: "text/plain"},
		{name: "ValidStream", method: "POST", path: "/v2/agents/a/sessions/s/events", reqBody: `{"messages":[{"content":"hi"}],"stream_response":true}`,
			status: 201, ctype: "text/event-stream", respBody: "event: end\ndata: {\"type\":\"end\"}\n\n"},
		{name: "NoContentWithBody", method: "DELETE", path: "/v2/agent_aliases/support", status: 204, respBody: "{}", wantFail: "no body"},
		{name: "UnroutedSuccess", method: "GET", path: "/v2/secret", status: 200, ctype: "application/json", respBody: `{}`,
			wantFail: "no documented operation"},
		{name: "UnroutedNotFound", method: "GET", path: "/v2/secret", status: 404, ctype: "application/json",
			respBody: `{"id":"/v2/secret","messages":["no such path: /v2/secret"],"request_id":"r"}`},
		{name: "BadArtifactData", method: "GET", path: "/v2/agents/a/sessions/s/artifacts/art_1", status: 200, ctype: "application/json",
			respBody: `{"artifact_id":"art_1","filename":"f","mime_type":"text/plain","size_bytes":1,"checksum_sha256":"` + strings.Repeat("0", 64) +
				`","metadata":{},"created_at":"2026-06-02T10:35:00Z","updated_at":"2026-06-02T10:35:00Z"}`, wantFail: "data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.reqBody != "" {
				body = []byte(tt.reqBody)
			}
			req, err := http.NewRequest(tt.method, "http://example.com"+tt.path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
			if tt.ctype != "" {
				resp.Header.Set("Content-Type", tt.ctype)
			}
			if !tt.noRequestID {
				resp.Header.Set("X-Request-Id", "r")
			}
			problems, _, _ := oasCheck(doc, router, req, body, resp, []byte(tt.respBody))
			got := strings.Join(problems, "\n")
			switch {
			case tt.wantFail == "" && got != "":
				t.Errorf("a valid exchange was refused:\n%s", got)
			case tt.wantFail != "" && !strings.Contains(got, tt.wantFail):
				t.Errorf("problems %q do not mention %q", got, tt.wantFail)
			case got != "":
				t.Logf("caught: %s", got)
			}
		})
	}
}
