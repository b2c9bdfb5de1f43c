// Package httpapi serves an AliasRouter over HTTP with the REST contract of
// Vectara's /v2/agent_aliases API: aliases, policy replacement, sessions
// created through an alias, inputs (plain and streamed), events and
// artifacts, plus the same session operations under /v2/agents/{agent_key}.
//
// # Use
//
//	h, err := httpapi.NewHandler(router, &httpapi.Options{
//		Tenant: func(r *http.Request) (string, error) { return tenantOf(r), nil },
//	})
//	...
//	http.ListenAndServe("127.0.0.1:8080", h)
//
// The handler only translates: it decodes and validates requests, calls the
// router, and encodes responses and errors in the contract's shapes. TLS,
// credentials and metrics are the host's, around the handler; the host plugs
// in what only it knows through Options: which tenant a request belongs to,
// whether it may run an operation (named by the contract's operationId), and
// how requests are identified.
//
// # Errors
//
// Every failure has the contract's body: {"messages": [...], "request_id":
// ...}, plus "field_errors" on 400 and "id" on 404. Router error codes map to
// statuses in one table: Invalid 400, Forbidden 403, NotFound 404,
// AlreadyExists and Conflict 409, TooLarge 413, Internal 500, Unavailable
// 503. Malformed JSON, unknown fields, wrong types and trailing data are 400;
// a body over Options.MaxBodyBytes is 413; a wrong method is 405 with Allow;
// an unknown path is 404. Internal error text never reaches a client; it is
// logged with the request id.
//
// # Timeouts
//
// The contract's Request-Timeout (seconds) and Request-Timeout-Millis
// headers bound a request: its context is cancelled when the shorter one
// runs out, a running agent turn with it, and the request answers 503. A
// value that is not a whole number of at least 1 is 400.
//
// # Streaming
//
// An input with "stream_response": true answers 201 with
// text/event-stream: one server-sent event per event of the turn, as it
// happens ("event: <type>" and "data: <json>"), an agent_output as a
// streaming_agent_output chunk followed by streaming_agent_output_end naming
// the stored event, an "error" event if the turn fails, and "end" last. A
// client that disconnects cancels the turn.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentalias/agentalias"
)

// Options configures a Handler. The zero value (or nil) gives the defaults.
type Options struct {
	// Tenant returns the tenant a request belongs to. The default puts every
	// request in the default tenant "". An error refuses the request with 403
	// (or with its own code, if it is an *agentalias.Error).
	Tenant func(r *http.Request) (string, error)

	// Authorize, if not nil, is asked before every operation, with the
	// contract's operationId (for example "createAliasRoutedSession"). An
	// error refuses the request with 403 and the error's text as message.
	Authorize func(r *http.Request, tenant, operation string) error

	// RequestID returns the id of a request, echoed as "request_id" in error
	// bodies and in the X-Request-Id response header. The default takes a
	// well-formed X-Request-Id request header, or makes one up.
	RequestID func(r *http.Request) string

	// Logger receives internal errors with their request ids. The default
	// discards them.
	Logger *slog.Logger

	// MaxBodyBytes is the largest request body accepted; larger ones are
	// 413. The default is 1 MiB.
	MaxBodyBytes int64
}

// Handler serves the REST contract. It is safe for concurrent use.
type Handler struct {
	r    *agentalias.AliasRouter
	opts Options
	mux  *http.ServeMux
}

// NewHandler returns a handler serving r.
func NewHandler(r *agentalias.AliasRouter, opts *Options) (*Handler, error) {
	if r == nil {
		return nil, errors.New("httpapi: NewHandler: nil router")
	}
	h := &Handler{r: r, mux: http.NewServeMux()}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Tenant == nil {
		h.opts.Tenant = func(*http.Request) (string, error) { return "", nil }
	}
	if h.opts.RequestID == nil {
		h.opts.RequestID = defaultRequestID
	}
	if h.opts.Logger == nil {
		h.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if h.opts.MaxBodyBytes <= 0 {
		h.opts.MaxBodyBytes = 1 << 20
	}
	h.routes()
	return h, nil
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := h.opts.RequestID(r)
	w.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	if !clean(r.URL.Path) {
		// http.ServeMux would redirect to the clean path; the contract
		// knows no such path.
		h.writeError(w, r, &agentalias.Error{Code: agentalias.NotFound, Message: "no such path: " + r.URL.Path, ID: r.URL.Path})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// clean reports whether p is a clean absolute path (a trailing slash
// allowed), one that http.ServeMux serves without redirecting.
func clean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

type requestIDKey struct{}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// defaultRequestID takes X-Request-Id when it is short and printable, or
// makes a new id.
func defaultRequestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 && printable(id) {
		return id
	}
	var b [12]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// op is one operation of the contract.
type op struct {
	method, path, id string
	serve            func(h *Handler, c *call) error
}

// routes registers every operation, a 405 answer for the other methods of
// each path, and the 404 answer for unknown paths.
func (h *Handler) routes() {
	methods := map[string][]string{}
	for _, o := range operations {
		o := o
		h.mux.HandleFunc(o.method+" "+o.path, func(w http.ResponseWriter, r *http.Request) {
			h.serve(w, r, o)
		})
		methods[o.path] = append(methods[o.path], o.method)
	}
	for path, ms := range methods {
		allow := allowed(ms)
		h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			h.writeError(w, r, &agentalias.Error{Code: methodNotAllowed, Message: "method " + r.Method + " is not allowed here; allowed: " + allow})
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, &agentalias.Error{Code: agentalias.NotFound, Message: "no such path: " + r.URL.Path, ID: r.URL.Path})
	})
}

func allowed(ms []string) string {
	set := map[string]bool{}
	for _, m := range ms {
		set[m] = true
		if m == http.MethodGet {
			set[http.MethodHead] = true
		}
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// requestTimeout reads the Request-Timeout and Request-Timeout-Millis
// headers: the shorter applies; 0 means neither is set.
func requestTimeout(r *http.Request) (time.Duration, error) {
	var d time.Duration
	var fields map[string]string
	for _, hd := range []struct {
		name string
		unit time.Duration
	}{{"Request-Timeout", time.Second}, {"Request-Timeout-Millis", time.Millisecond}} {
		v := r.Header.Get(hd.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > int64(math.MaxInt64/hd.unit) {
			if fields == nil {
				fields = map[string]string{}
			}
			fields[hd.name] = "must be a whole number, at least 1"
			continue
		}
		if t := time.Duration(n) * hd.unit; d == 0 || t < d {
			d = t
		}
	}
	if fields != nil {
		return 0, &agentalias.Error{Code: agentalias.Invalid, Message: "invalid request headers", Fields: fields}
	}
	return d, nil
}

// call is one request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	router *agentalias.AliasRouter // scoped to the request's tenant
	tenant string
}

// serve runs one operation: tenant, authorization, then the operation, with
// every failure going through writeError.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, o op) {
	timeout, err := requestTimeout(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if timeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	tenant, err := h.opts.Tenant(r)
	if err != nil {
		var e *agentalias.Error
		if !errors.As(err, &e) {
			err = &agentalias.Error{Code: agentalias.Forbidden, Message: "forbidden: " + err.Error(), Err: err}
		}
		h.writeError(w, r, err)
		return
	}
	if h.opts.Authorize != nil {
		if err := h.opts.Authorize(r, tenant, o.id); err != nil {
			h.writeError(w, r, &agentalias.Error{Code: agentalias.Forbidden, Message: err.Error(), Err: err})
			return
		}
	}
	c := &call{w: w, r: r, router: h.r.Tenant(tenant), tenant: tenant}
	if err := o.serve(h, c); err != nil {
		h.writeError(w, r, err)
	}
}
