package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// checkExchange is called for every request the tests send and the response
// they get. openapi_test.go sets it to validate both against the handler's
// OpenAPI document, so every exchange of the suite is checked.
var checkExchange = func(t *testing.T, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {}

// response is a recorded response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r *response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response body is not JSON (%v): %s", err, r.Body)
	}
}

// do sends one request to h through httptest and records the response.
// body may be nil, a string or []byte (sent as is), or a value (sent as
// JSON). hdr adds headers as name, value pairs.
func do(t *testing.T, h http.Handler, method, path string, body any, hdr ...string) *response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	out, _ := io.ReadAll(res.Body)
	// The handler consumed req's body: the check gets a copy of the request
	// with the body restored and the headers that were sent.
	sent := httptest.NewRequest(method, path, bytes.NewReader(raw))
	sent.Header = req.Header.Clone()
	checkExchange(t, sent, raw, res, out)
	return &response{Status: res.StatusCode, Header: res.Header, Body: out}
}
