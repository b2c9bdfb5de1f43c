package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/agentalias/agentalias"
)

// TestRequestTimeout: a request with a timeout header is cut short when it
// runs out, cancelling the turn it runs, with 503; the shorter header wins;
// a generous timeout changes nothing.
func TestRequestTimeout(t *testing.T) {
	cancelled := make(chan struct{}, 1)
	waiter := agentalias.AgentFunc(func(ctx context.Context, turn *agentalias.Turn) error {
		select {
		case <-ctx.Done():
			cancelled <- struct{}{}
			return ctx.Err()
		case <-time.After(5 * time.Second):
			return errors.New("the turn was not cancelled in 5 s")
		}
	})
	f := newFixture(t, nil, map[string]agentalias.Agent{"waiter": waiter})
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agents/waiter/sessions", map[string]any{"key": "slow"})

	for _, hdr := range [][]string{
		{"Request-Timeout-Millis", "50"},
		{"Request-Timeout", "3600", "Request-Timeout-Millis", "50"},
	} {
		start := time.Now()
		r := do(t, f.h, http.MethodPost, "/v2/agents/waiter/sessions/slow/events", textInput("hi"), hdr...)
		checkError(t, r, http.StatusServiceUnavailable, "")
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%v: the request took %v", hdr, took)
		}
		select {
		case <-cancelled:
		default:
			t.Errorf("%v: the turn was not cancelled", hdr)
		}
	}
	// A generous timeout: the request completes as without one.
	call(t, f.h, http.StatusOK, http.MethodGet, "/v2/agents/waiter/sessions/slow", nil, "Request-Timeout", "60")
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agents/support-v1/sessions", map[string]any{"key": "quick"}, "Request-Timeout-Millis", "60000")
}
