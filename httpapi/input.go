package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/internal/jsonvalue"
	"github.com/agentalias/agentalias/internal/validate"
)

// inputRequest is the contract's CreateInputRequest.
type inputRequest struct {
	in     agentalias.Input
	stream bool
}

// UnmarshalJSON decodes the request strictly. "since" and "behavior" are
// accepted (the contract uses them to queue input for a running session) but
// have no effect: a second input while a turn runs is 409.
func (p *inputRequest) UnmarshalJSON(b []byte) error {
	fields, names, err := jsonvalue.Fields(b)
	if err != nil {
		return err
	}
	var errs validate.Errors
	out := inputRequest{in: agentalias.Input{Type: agentalias.InputMessage}}
	for _, name := range names {
		raw := fields[name]
		if jsonvalue.IsNull(raw) {
			continue
		}
		switch name {
		case "type":
			jsonvalue.Decode(&errs, name, raw, &out.in.Type, "must be a string")
		case "stream_response":
			jsonvalue.Decode(&errs, name, raw, &out.stream, "must be a boolean")
		case "messages":
			out.in.Messages = decodeMessages(&errs, raw)
		case "tool_outputs":
			out.in.ToolOutputs = decodeToolOutputs(&errs, raw)
		case "since":
			var since string
			if jsonvalue.Decode(&errs, name, raw, &since, "must be a string") && since != "start" && !event.ValidID(since) {
				errs.Add(name, "must be start or an event id (aev_...)")
			}
		case "behavior":
			var behavior string
			if jsonvalue.Decode(&errs, name, raw, &behavior, "must be a string") && behavior != "steer" && behavior != "follow_up" {
				errs.Add(name, "must be steer or follow_up")
			}
		case "compact_up_to_event_id", "compaction_message":
			// Fields of the "compact" input type, which the router refuses
			// as unsupported with a clear message; with any other type
			// they do not belong.
			var typ string
			json.Unmarshal(fields["type"], &typ)
			if typ != "compact" {
				errs.Add(name, "only allowed with type compact")
			}
		default:
			errs.Add(name, "unknown field")
		}
	}
	if err := errs.Err(); err != nil {
		return err
	}
	*p = out
	return nil
}

func decodeMessages(errs *validate.Errors, raw []byte) []event.Input {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		errs.Add("messages", "must be an array")
		return nil
	}
	out := make([]event.Input, len(items))
	for i, item := range items {
		path := validate.Index("messages", i)
		fields, names, err := jsonvalue.Fields(item)
		if err != nil {
			errs.Add(path, "must be a JSON object")
			continue
		}
		for _, name := range names {
			switch name {
			case "type":
				jsonvalue.Decode(errs, path+".type", fields[name], &out[i].Type, "must be a string")
			case "content":
				jsonvalue.Decode(errs, path+".content", fields[name], &out[i].Content, "must be a string")
			case "skill_name":
				jsonvalue.Decode(errs, path+".skill_name", fields[name], &out[i].SkillName, "must be a string")
			default:
				errs.Add(path+"."+name, "unknown field")
			}
		}
		if out[i].Type == "" {
			out[i].Type = event.InputText
		}
	}
	return out
}

func decodeToolOutputs(errs *validate.Errors, raw []byte) []agentalias.ToolOutput {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		errs.Add("tool_outputs", "must be an array")
		return nil
	}
	out := make([]agentalias.ToolOutput, len(items))
	for i, item := range items {
		path := validate.Index("tool_outputs", i)
		fields, names, err := jsonvalue.Fields(item)
		if err != nil {
			errs.Add(path, "must be a JSON object")
			continue
		}
		for _, name := range names {
			f := fields[name]
			switch name {
			case "type":
				jsonvalue.Decode(errs, path+".type", f, &out[i].Type, "must be a string")
			case "event_id":
				jsonvalue.Decode(errs, path+".event_id", f, &out[i].EventID, "must be a string")
			case "output":
				jsonvalue.Decode(errs, path+".output", f, &out[i].Output, "must be a JSON object")
			case "error":
				jsonvalue.Decode(errs, path+".error", f, &out[i].Error, "must be a string or a JSON object")
			default:
				errs.Add(path+"."+name, "unknown field")
			}
		}
	}
	return out
}

// inputResponse is the contract's AgentResponse.
type inputResponse struct {
	Events     []*event.Event `json:"events"`
	SessionKey string         `json:"session_key"`
}

func (h *Handler) createInput(c *call) error {
	sc, key, err := sessionPath(c)
	if err != nil {
		return err
	}
	var req inputRequest
	if err := h.decode(c, &req); err != nil {
		return err
	}
	if !req.stream {
		resp, err := c.router.Submit(c.r.Context(), sc, key, req.in, nil)
		if err != nil {
			return err
		}
		writeJSON(c.w, http.StatusCreated, inputResponse{Events: nonNil(resp.Events), SessionKey: resp.SessionKey})
		return nil
	}
	return h.stream(c, sc, key, req.in)
}

// stream answers an input with server-sent events as the turn runs.
func (h *Handler) stream(c *call, sc agentalias.Scope, key string, in agentalias.Input) error {
	flusher, _ := c.w.(http.Flusher)
	var (
		mu      sync.Mutex
		started bool
	)
	start := func() {
		if started {
			return
		}
		started = true
		hdr := c.w.Header()
		hdr.Set("Content-Type", "text/event-stream")
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("X-Accel-Buffering", "no")
		c.w.WriteHeader(http.StatusCreated)
	}
	send := func(typ string, v any) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		fmt.Fprintf(c.w, "event: %s\ndata: %s\n\n", typ, bytes.TrimSpace(buf.Bytes()))
		if flusher != nil {
			flusher.Flush()
		}
	}
	onEvent := func(ev *event.Event) {
		mu.Lock()
		defer mu.Unlock()
		start()
		if ev.Type == event.AgentOutput {
			// The contract streams an agent_output as chunks and an end
			// marker naming the stored event.
			send("streaming_agent_output", map[string]any{"type": "streaming_agent_output", "content": ev.Content, "created_at": ev.CreatedAt.UTC().Format(time.RFC3339Nano)})
			send("streaming_agent_output_end", map[string]any{"type": "streaming_agent_output_end", "event_id": ev.ID, "created_at": ev.CreatedAt.UTC().Format(time.RFC3339Nano)})
			return
		}
		send(string(ev.Type), ev)
	}
	_, err := c.router.Submit(c.r.Context(), sc, key, in, onEvent)
	mu.Lock()
	defer mu.Unlock()
	if err != nil && !started {
		// Nothing was sent yet: answer with an ordinary error response.
		return err
	}
	start()
	if err != nil {
		msg := agentalias.ErrorMessage(err)
		if agentalias.ErrorCode(err) == agentalias.Internal {
			h.opts.Logger.Error("httpapi: streamed turn failed", "request_id", requestID(c.r), "err", err)
		}
		send("error", map[string]any{"type": "error", "messages": []string{msg}})
	}
	send("end", map[string]any{"type": "end"})
	return nil
}
