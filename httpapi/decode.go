package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/internal/keys"
	"github.com/agentalias/agentalias/storage"
)

// body reads the request body, at most MaxBodyBytes (413 beyond), and checks
// that it is one JSON value with nothing after it.
func (h *Handler) body(c *call) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, h.opts.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &agentalias.Error{Code: agentalias.TooLarge, Message: fmt.Sprintf("the request body is larger than %d bytes", h.opts.MaxBodyBytes)}
	case err != nil:
		return nil, &agentalias.Error{Code: agentalias.Invalid, Message: "could not read the request body", Err: err}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &agentalias.Error{Code: agentalias.Invalid, Message: "the request body is empty; a JSON object is required"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, &agentalias.Error{Code: agentalias.Invalid, Message: "malformed JSON: " + jsonProblem(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &agentalias.Error{Code: agentalias.Invalid, Message: fmt.Sprintf("malformed JSON: unexpected data after the JSON value at offset %d", dec.InputOffset())}
	}
	return raw, nil
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at offset %d)", syn.Error(), syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

// decode reads the body into dst, whose UnmarshalJSON reports field errors.
func (h *Handler) decode(c *call, dst json.Unmarshaler) error {
	b, err := h.body(c)
	if err != nil {
		return err
	}
	if err := dst.UnmarshalJSON(b); err != nil {
		return invalidBody(err)
	}
	return nil
}

// invalidBody turns a decoding error into a 400 with field errors.
func invalidBody(err error) error {
	e := &agentalias.Error{Code: agentalias.Invalid, Message: "invalid request body", Err: err}
	var fe interface{ FieldErrors() map[string]string }
	if errors.As(err, &fe) {
		e.Fields = fe.FieldErrors()
		if msg, ok := e.Fields[""]; ok {
			delete(e.Fields, "")
			e.Message = "invalid request body: " + msg
		}
	}
	return e
}

// pathKey returns the path parameter name, which must be a valid key.
func pathKey(c *call, name string) (string, error) {
	v := c.r.PathValue(name)
	if !keys.Valid(v) {
		return "", &agentalias.Error{Code: agentalias.Invalid, Message: "invalid " + name,
			Fields: map[string]string{name: keys.Message}}
	}
	return v, nil
}

// pathID returns the path parameter name, which must be an id with prefix.
func pathID(c *call, name, prefix string, lower bool) (string, error) {
	v := c.r.PathValue(name)
	if !keys.ValidID(v, prefix, lower) {
		pattern := prefix + "[0-9a-zA-Z_-]+"
		if lower {
			pattern = prefix + "[a-z0-9_-]+"
		}
		return "", &agentalias.Error{Code: agentalias.Invalid, Message: "invalid " + name,
			Fields: map[string]string{name: "must match " + pattern}}
	}
	return v, nil
}

// query collects the problems of a request's query parameters.
type query struct {
	c      *call
	fields map[string]string
}

func newQuery(c *call) *query { return &query{c: c, fields: map[string]string{}} }

func (q *query) str(name string) string { return q.c.r.URL.Query().Get(name) }

func (q *query) limit() int {
	s := q.str("limit")
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > storage.MaxLimit {
		q.fields["limit"] = fmt.Sprintf("must be an integer between 1 and %d", storage.MaxLimit)
		return 0
	}
	return n
}

func (q *query) boolean(name string) *bool {
	s := q.str(name)
	if s == "" {
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		q.fields[name] = "must be true or false"
		return nil
	}
	return &b
}

func (q *query) regexp(name string) *regexp.Regexp {
	s := q.str(name)
	if s == "" {
		return nil
	}
	if len(s) > 1024 {
		q.fields[name] = "must be at most 1024 characters"
		return nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		q.fields[name] = "must be a valid regular expression: " + err.Error()
		return nil
	}
	return re
}

func (q *query) key(name string) string {
	s := q.str(name)
	if s != "" && !keys.Valid(s) {
		q.fields[name] = keys.Message
	}
	return s
}

func (q *query) oneOf(name string, values ...string) string {
	s := q.str(name)
	if s == "" {
		return ""
	}
	for _, v := range values {
		if s == v {
			return s
		}
	}
	q.fields[name] = fmt.Sprintf("must be one of %q", values)
	return ""
}

func (q *query) err() error {
	if len(q.fields) == 0 {
		return nil
	}
	return &agentalias.Error{Code: agentalias.Invalid, Message: "invalid query parameters", Fields: q.fields}
}

// list is the contract's list response: the items under their collection
// name, and metadata.page_key.
func list(c *call, collection string, items any, next string) error {
	type metadata struct {
		PageKey string `json:"page_key,omitempty"`
	}
	writeJSON(c.w, http.StatusOK, map[string]any{collection: items, "metadata": metadata{PageKey: next}})
	return nil
}
