package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/httpapi"
)

// sseFrame is one server-sent event: "event: <type>\ndata: <json>\n\n".
type sseFrame struct {
	Event string
	Data  map[string]any
}

// readFrame reads one frame strictly: exactly an event line, a data line
// holding one JSON object whose "type" is the event's, and a blank line. It
// returns io.EOF at the end of the stream.
func readFrame(br *bufio.Reader) (sseFrame, error) {
	var f sseFrame
	line, err := br.ReadString('\n')
	if err == io.EOF && line == "" {
		return f, io.EOF
	}
	if err != nil {
		return f, fmt.Errorf("reading the event line: %v (got %q)", err, line)
	}
	ev, ok := strings.CutPrefix(line, "event: ")
	if !ok || !strings.HasSuffix(ev, "\n") {
		return f, fmt.Errorf("want an event line, got %q", line)
	}
	f.Event = strings.TrimSuffix(ev, "\n")
	line, err = br.ReadString('\n')
	if err != nil {
		return f, fmt.Errorf("reading the data line: %v (got %q)", err, line)
	}
	data, ok := strings.CutPrefix(line, "data: ")
	if !ok {
		return f, fmt.Errorf("want a data line, got %q", line)
	}
	if err := json.Unmarshal([]byte(data), &f.Data); err != nil {
		return f, fmt.Errorf("data of %s is not a JSON object: %v: %q", f.Event, err, data)
	}
	if f.Data["type"] != f.Event {
		return f, fmt.Errorf("event %s carries data of type %v", f.Event, f.Data["type"])
	}
	line, err = br.ReadString('\n')
	if err != nil || line != "\n" {
		return f, fmt.Errorf("want a blank line after the %s frame, got %q (%v)", f.Event, line, err)
	}
	return f, nil
}

// stream is a streaming input in progress over a real connection.
type stream struct {
	t      *testing.T
	resp   *http.Response
	br     *bufio.Reader
	cancel context.CancelFunc
}

// startStream posts a streaming input and checks the response head.
func startStream(t *testing.T, srv *httptest.Server, path, text string, hdr ...string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	body := `{"type":"input_message","messages":[{"type":"text","content":` + mustJSON(t, text) + `}],"stream_response":true}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{t: t, resp: resp, br: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, want 201: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on a stream")
	}
	return s
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next reads the next frame and checks its event type.
func (s *stream) next(want string) sseFrame {
	s.t.Helper()
	f, err := readFrame(s.br)
	if err != nil {
		s.t.Fatalf("want a %s frame: %v", want, err)
	}
	if f.Event != want {
		s.t.Fatalf("frame %s (%v), want %s", f.Event, f.Data, want)
	}
	return f
}

// end reads the end frame and then the end of the stream.
func (s *stream) end() {
	s.t.Helper()
	f := s.next("end")
	if d := cmp.Diff(map[string]any{"type": "end"}, f.Data); d != "" {
		s.t.Errorf("end frame (-want +got):\n%s", d)
	}
	if f, err := readFrame(s.br); err != io.EOF {
		s.t.Errorf("after end: frame %v, err %v; want EOF", f, err)
	}
}

// TestStreamDeliversEventsLive checks that frames reach the client while the
// turn runs: the agent blocks after its first reply until the test has read
// that reply from the wire.
func TestStreamDeliversEventsLive(t *testing.T) {
	proceed := make(chan struct{})
	streamer := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
		if err := t.Reply("first part"); err != nil {
			return err
		}
		select {
		case <-proceed:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("the client never read the first part")
		}
		if err := t.Think("considering"); err != nil {
			return err
		}
		return t.Reply("second part")
	})
	f := newFixture(t, nil, map[string]agentalias.Agent{"streamer": streamer})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases", map[string]any{"key": "live", "name": "Live", "policy": singlePolicy("streamer")})
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agent_aliases/live/sessions", map[string]any{"key": "s1"})

	s := startStream(t, srv, "/v2/agent_aliases/live/sessions/s1/events", "hello")
	in := s.next("input_message")
	same(t, "input frame", jsonMap(t, `{"id":"<aev>","session_key":"s1","created_at":"<time>","type":"input_message",
	  "messages":[{"type":"text","content":"hello"}]}`), in.Data)
	chunk := s.next("streaming_agent_output")
	same(t, "first chunk", jsonMap(t, `{"type":"streaming_agent_output","content":"first part","created_at":"<time>"}`), chunk.Data)

	// The agent is blocked now: the turn is running, and a second input is
	// refused with an ordinary JSON error.
	sess := call(t, f.h, http.StatusOK, http.MethodGet, "/v2/agent_aliases/live/sessions/s1", nil)
	if sess["status"] != "running" {
		t.Errorf("status during the turn %v, want running", sess["status"])
	}
	checkError(t, do(t, f.h, http.MethodPost, "/v2/agent_aliases/live/sessions/s1/events",
		jsonMap(t, `{"messages":[{"type":"text","content":"again"}],"stream_response":true}`)), http.StatusConflict, "Session is already running.")
	close(proceed)

	end1 := s.next("streaming_agent_output_end")
	s.next("thinking")
	chunk2 := s.next("streaming_agent_output")
	if chunk2.Data["content"] != "second part" {
		t.Errorf("second chunk %v", chunk2.Data)
	}
	end2 := s.next("streaming_agent_output_end")
	s.end()

	// The end frames name the stored agent_output events.
	events := listAll(t, f.h, "/v2/agent_aliases/live/sessions/s1/events", "events", 0)
	if d := cmp.Diff([]string{"input_message", "agent_output", "thinking", "agent_output"}, valuesOf(events, "type")); d != "" {
		t.Fatalf("stored events (-want +got):\n%s", d)
	}
	if end1.Data["event_id"] != events[1]["id"] || end2.Data["event_id"] != events[3]["id"] {
		t.Errorf("end frames name %v and %v, stored ids are %v and %v", end1.Data["event_id"], end2.Data["event_id"], events[1]["id"], events[3]["id"])
	}
	if in.Data["id"] != events[0]["id"] {
		t.Errorf("input frame id %v, stored %v", in.Data["id"], events[0]["id"])
	}
	if events[1]["content"] != "first part" || events[3]["content"] != "second part" {
		t.Errorf("stored outputs %v, %v", events[1], events[3])
	}
}

// TestStreamAgentError ends a failed turn with an error frame (without the
// internal detail) and then end.
func TestStreamAgentError(t *testing.T) {
	var logs lockedBuffer
	failing := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
		if err := t.Reply("partial"); err != nil {
			return err
		}
		return errors.New("SECRET-DETAIL: the model server is at 10.0.0.7")
	})
	f := newFixture(t, &httpapi.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, map[string]agentalias.Agent{"failing": failing})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agents/failing/sessions", map[string]any{"key": "s1"})

	s := startStream(t, srv, "/v2/agents/failing/sessions/s1/events", "hi", "X-Request-Id", "req-stream-fail")
	s.next("input_message")
	s.next("streaming_agent_output")
	s.next("streaming_agent_output_end")
	e := s.next("error")
	msgs, _ := e.Data["messages"].([]any)
	if len(msgs) == 0 {
		t.Errorf("error frame without messages: %v", e.Data)
	}
	if strings.Contains(fmt.Sprint(e.Data), "SECRET") {
		t.Errorf("error frame leaks the cause: %v", e.Data)
	}
	s.end()
	if !strings.Contains(logs.String(), "SECRET-DETAIL") || !strings.Contains(logs.String(), "req-stream-fail") {
		t.Errorf("the failure was not logged with its request id:\n%s", logs.String())
	}
	sess := call(t, f.h, http.StatusOK, http.MethodGet, "/v2/agents/failing/sessions/s1", nil)
	if sess["status"] != "stopped" {
		t.Errorf("status after a failed turn %v, want stopped", sess["status"])
	}
}

// TestStreamErrorsBeforeTheTurn answers a streaming input that cannot start
// with an ordinary JSON error, not a stream.
func TestStreamErrorsBeforeTheTurn(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := jsonMap(t, `{"messages":[{"type":"text","content":"hi"}],"stream_response":true}`)
	checkError(t, do(t, f.h, http.MethodPost, "/v2/agents/support-v1/sessions/nope/events", body), http.StatusNotFound, "Session not found")
	body["stream_response"] = "yes"
	checkError(t, do(t, f.h, http.MethodPost, "/v2/agents/support-v1/sessions/nope/events", body), http.StatusBadRequest, "", "stream_response")
}

// TestStreamClientDisconnect cancels the agent's context when the client
// goes away mid-turn.
func TestStreamClientDisconnect(t *testing.T) {
	cancelled := make(chan struct{})
	blocker := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
		if err := t.Reply("started"); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			close(cancelled)
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return errors.New("never cancelled")
		}
	})
	f := newFixture(t, nil, map[string]agentalias.Agent{"blocker": blocker})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agents/blocker/sessions", map[string]any{"key": "s1"})

	s := startStream(t, srv, "/v2/agents/blocker/sessions/s1/events", "hi")
	s.next("input_message")
	s.next("streaming_agent_output")
	s.close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent's context was not cancelled within 5s of the client disconnecting")
	}

	// The turn ends; the session stops running and keeps what was emitted.
	deadline := time.Now().Add(5 * time.Second)
	for {
		sess := call(t, f.h, http.StatusOK, http.MethodGet, "/v2/agents/blocker/sessions/s1", nil)
		if sess["status"] == "stopped" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session status %v 5s after the disconnect, want stopped", sess["status"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	events := listAll(t, f.h, "/v2/agents/blocker/sessions/s1/events", "events", 0)
	if d := cmp.Diff([]string{"input_message", "agent_output"}, valuesOf(events, "type")); d != "" {
		t.Errorf("stored events (-want +got):\n%s", d)
	}
}

// TestStreamInterrupt interrupts a streamed turn with an interrupt input:
// the stream reports session_interrupted and ends.
func TestStreamInterrupt(t *testing.T) {
	blocker := agentalias.AgentFunc(func(ctx context.Context, t *agentalias.Turn) error {
		if err := t.Reply("started"); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return errors.New("never interrupted")
		}
	})
	f := newFixture(t, nil, map[string]agentalias.Agent{"blocker": blocker})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agents/blocker/sessions", map[string]any{"key": "s1"})

	s := startStream(t, srv, "/v2/agents/blocker/sessions/s1/events", "hi")
	s.next("input_message")
	s.next("streaming_agent_output")
	s.next("streaming_agent_output_end")
	resp := call(t, f.h, http.StatusCreated, http.MethodPost, "/v2/agents/blocker/sessions/s1/events", map[string]any{"type": "interrupt"})
	if d := cmp.Diff([]string{"session_interrupted"}, eventTypes(resp["events"].([]any))); d != "" {
		t.Errorf("interrupt response (-want +got):\n%s", d)
	}
	f2 := s.next("session_interrupted")
	if f2.Data["session_key"] != "s1" {
		t.Errorf("session_interrupted frame %v", f2.Data)
	}
	s.end()
	var buf bytes.Buffer
	io.Copy(&buf, s.resp.Body)
	if buf.Len() != 0 {
		t.Errorf("data after the end: %q", buf.String())
	}
}
