package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is this library's own OpenAPI 3 description of every route
// the handler serves.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the handler's OpenAPI 3 document (JSON), as served at
// GET /v2/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

func (h *Handler) openAPI(c *call) error {
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(openAPIDocument)
	return nil
}
