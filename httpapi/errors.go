package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/agentalias/agentalias"
)

// methodNotAllowed is an internal code for 405; the router has no such code.
const methodNotAllowed agentalias.Code = "method_not_allowed"

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[agentalias.Code]int{
	agentalias.Invalid:       http.StatusBadRequest,
	agentalias.Forbidden:     http.StatusForbidden,
	agentalias.NotFound:      http.StatusNotFound,
	agentalias.AlreadyExists: http.StatusConflict,
	agentalias.Conflict:      http.StatusConflict,
	agentalias.TooLarge:      http.StatusRequestEntityTooLarge,
	agentalias.Internal:      http.StatusInternalServerError,
	agentalias.Unavailable:   http.StatusServiceUnavailable,
	methodNotAllowed:         http.StatusMethodNotAllowed,
}

// errorBody is the contract's Error, BadRequestError and NotFoundError.
// FieldErrors is omitzero, not omitempty: writeError sets it on every 400,
// empty when no field is to blame, and leaves it nil otherwise.
type errorBody struct {
	FieldErrors map[string]string `json:"field_errors,omitzero"`
	ID          string            `json:"id,omitempty"`
	Messages    []string          `json:"messages"`
	RequestID   string            `json:"request_id"`
}

// writeError is the one error path: it maps err to a status and writes the
// contract's body. Internal errors are logged and never shown.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := agentalias.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	body := errorBody{Messages: []string{agentalias.ErrorMessage(err)}, RequestID: requestID(r)}
	var e *agentalias.Error
	if errors.As(err, &e) {
		if status == http.StatusBadRequest {
			body.FieldErrors = e.Fields
			if body.FieldErrors == nil {
				body.FieldErrors = map[string]string{}
			}
		}
		if status == http.StatusNotFound {
			body.ID = e.ID
		}
	}
	if status == http.StatusInternalServerError {
		body.Messages = []string{"internal error"}
		h.opts.Logger.Error("httpapi: internal error", "request_id", body.RequestID, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, body)
}

// writeJSON writes v as JSON without escaping <, > and &.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
