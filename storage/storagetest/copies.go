package storagetest

import (
	"testing"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/artifact"
	"github.com/agentalias/agentalias/event"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
)

// The scribble functions change every part of a value that a store could
// share with its caller: fields, maps, slices and what pointers point to.

func scribbleMap(m map[string]any) {
	if m == nil {
		return
	}
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			scribbleMap(v)
		case []any:
			for i := range v {
				v[i] = "scribbled"
			}
		default:
			m[k] = "scribbled"
		}
	}
	m["scribbled"] = true
}

func scribbleAlias(a *alias.Alias) {
	a.Name = "scribbled"
	a.Description = "scribbled"
	scribbleMap(a.Metadata)
	for i := range a.Policy.Rules {
		r := &a.Policy.Rules[i]
		r.Match = "scribbled"
		r.Targets.AgentKey = "scribbled"
		for j := range r.Targets.Options {
			r.Targets.Options[j].AgentKey = "scribbled"
			r.Targets.Options[j].Weight = 1
		}
		for j := range r.Targets.AgentKeys {
			r.Targets.AgentKeys[j] = "scribbled"
		}
	}
	if a.Stickiness != nil {
		a.Stickiness.Key = "scribbled"
		a.Stickiness.TTLMinutes = 1
	}
}

func scribbleSession(s *session.Session) {
	s.Name = "scribbled"
	scribbleMap(s.Metadata)
	if s.CurrentStepName != nil {
		*s.CurrentStepName = "scribbled"
	}
	if s.ContextUsage != nil {
		s.ContextUsage.TotalTokens = 1
		s.ContextUsage.InputTokens.Count = 1
	}
	if s.Compaction != nil {
		s.Compaction.CompactionMessage = "scribbled"
	}
	for k := range s.Secrets {
		s.Secrets[k] = "scribbled"
	}
	if s.Secrets != nil {
		s.Secrets["scribbled"] = "scribbled"
	}
}

func scribbleEvent(e *event.Event) {
	e.Content = "scribbled"
	e.HideReason = "scribbled"
	for i := range e.Messages {
		e.Messages[i].Content = "scribbled"
	}
	for i := range e.MessageDiffs {
		e.MessageDiffs[i] = "scribbled"
	}
	for i := range e.Artifacts {
		e.Artifacts[i].Filename = "scribbled"
	}
	for i := range e.ArgumentOverridePaths {
		e.ArgumentOverridePaths[i] = "scribbled"
	}
	scribbleMap(e.ToolInput)
	scribbleMap(e.ToolOutput)
	scribbleMap(e.ResolvedArgumentOverrides)
	if m, ok := e.Structured.(map[string]any); ok {
		scribbleMap(m)
	}
	for i := range e.PendingCalls {
		e.PendingCalls[i].ToolName = "scribbled"
		scribbleMap(e.PendingCalls[i].Arguments)
	}
}

func scribbleArtifact(a *artifact.Artifact) {
	a.Filename = "scribbled"
	scribbleMap(a.Metadata)
	for i := range a.Data {
		a.Data[i] = 'X'
	}
}

func (s *suite) copies(t *testing.T) {
	s.test(t, "Aliases", func(t *testing.T, st storage.Storage) {
		in := richAlias("al")
		got := mustCreateAlias(t, st, "", in)
		scribbleAlias(in)
		scribbleAlias(got)
		want := richAlias("al")
		want.Revision = 1
		diff(t, "Alias after changing CreateAlias's argument and result", want, mustAlias(t, st, "", "al"))

		scribbleAlias(mustAlias(t, st, "", "al"))
		diff(t, "Alias after changing an earlier Alias result", want, mustAlias(t, st, "", "al"))

		for _, a := range allAliases(t, st, "", storage.AliasQuery{}) {
			scribbleAlias(a)
		}
		diff(t, "Alias after changing ListAliases items", want, mustAlias(t, st, "", "al"))

		upd := mustAlias(t, st, "", "al")
		upd.Name = "v2"
		want = upd.Clone()
		want.Revision = 2
		res, err := st.UpdateAlias(t.Context(), "", upd)
		must(t, "UpdateAlias", err)
		scribbleAlias(upd)
		scribbleAlias(res)
		diff(t, "Alias after changing UpdateAlias's argument and result", want, mustAlias(t, st, "", "al"))
	})
	s.test(t, "Sessions", func(t *testing.T, st storage.Storage) {
		in := richSession("s1", "", "agent-1")
		got := mustCreateSession(t, st, "", in)
		scribbleSession(in)
		scribbleSession(got)
		want := richSession("s1", "", "agent-1")
		want.Revision = 1
		diff(t, "Session after changing CreateSession's argument and result", want, mustSession(t, st, "", "s1"))

		scribbleSession(mustSession(t, st, "", "s1"))
		diff(t, "Session after changing an earlier Session result", want, mustSession(t, st, "", "s1"))

		for _, sess := range allSessions(t, st, "", storage.SessionQuery{}) {
			scribbleSession(sess)
		}
		diff(t, "Session after changing ListSessions items", want, mustSession(t, st, "", "s1"))

		upd := mustSession(t, st, "", "s1")
		upd.Name = "v2"
		want = upd.Clone()
		want.Revision = 2
		res := mustUpdateSession(t, st, "", upd)
		scribbleSession(upd)
		scribbleSession(res)
		diff(t, "Session after changing UpdateSession's argument and result", want, mustSession(t, st, "", "s1"))
	})
	s.test(t, "Events", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		in := richEvents("s1")
		mustAppend(t, st, "", "s1", in...)
		for _, e := range in {
			scribbleEvent(e)
		}
		in[0] = newEvent("s1", "aev_replaced")
		want := richEvents("s1")
		all := storage.EventQuery{IncludeHidden: true}
		diff(t, "events after changing AppendEvents's argument", want, allEvents(t, st, "", "s1", all))

		for _, e := range allEvents(t, st, "", "s1", all) {
			scribbleEvent(e)
		}
		diff(t, "events after changing ListEvents items", want, allEvents(t, st, "", "s1", all))

		for _, w := range want {
			scribbleEvent(mustEvent(t, st, "", "s1", w.ID))
		}
		diff(t, "events after changing Event results", want, allEvents(t, st, "", "s1", all))

		scribbleEvent(mustHide(t, st, "", "s1", want[0].ID, event.HiddenManual))
		want[0].HideReason = event.HiddenManual
		diff(t, "events after changing a SetEventHidden result", want, allEvents(t, st, "", "s1", all))
	})
	s.test(t, "Artifacts", func(t *testing.T, st storage.Storage) {
		withSession(t, st)
		in := newArtifact("s1", "art_1")
		mustCreateArtifact(t, st, "", in)
		scribbleArtifact(in)
		want := newArtifact("s1", "art_1")
		diff(t, "Artifact after changing CreateArtifact's argument", want, mustArtifact(t, st, "", "s1", "art_1"))

		scribbleArtifact(mustArtifact(t, st, "", "s1", "art_1"))
		diff(t, "Artifact after changing an earlier Artifact result", want, mustArtifact(t, st, "", "s1", "art_1"))

		for _, a := range allArtifacts(t, st, "", "s1", storage.ArtifactQuery{}) {
			scribbleArtifact(a)
		}
		diff(t, "Artifact after changing ListArtifacts items", want, mustArtifact(t, st, "", "s1", "art_1"))
	})
	s.test(t, "Pins", func(t *testing.T, st storage.Storage) {
		p := newPin("al", "u1", "agent-1")
		mustSetPin(t, st, "", p, nil)
		p.AgentKey = "scribbled"
		p.ExpiresAt = at(1)
		diff(t, "Pin after changing SetPin's argument", newPin("al", "u1", "agent-1"), mustPin(t, st, "", "al", "u1"))

		got := mustPin(t, st, "", "al", "u1")
		got.AgentKey = "scribbled"
		got.ExpiresAt = at(1)
		diff(t, "Pin after changing an earlier Pin result", newPin("al", "u1", "agent-1"), mustPin(t, st, "", "al", "u1"))

		// prev changed after a successful SetPin does not matter either.
		prev := mustPin(t, st, "", "al", "u1")
		next := newPin("al", "u1", "agent-2")
		mustSetPin(t, st, "", next, prev)
		prev.AgentKey = "agent-2"
		next.AgentKey = "scribbled"
		diff(t, "Pin after changing SetPin's arguments", newPin("al", "u1", "agent-2"), mustPin(t, st, "", "al", "u1"))
	})
}
