package session_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentalias/agentalias/session"
)

var fuzzNow = time.Date(2026, time.June, 2, 10, 40, 0, 0, time.UTC)

// FuzzParams_UnmarshalJSON decodes create-session request bodies. Decoding
// must not panic; a failure must carry field errors and leave the Params
// zero. A decoded Params must validate without panicking, the same way
// twice; valid Params must make a valid session, as the router makes it (with
// a key generated from the name when none is given).
func FuzzParams_UnmarshalJSON(f *testing.F) {
	for _, s := range []string{
		// The contract's create request.
		`{"key":"chat-42","name":"Chat","metadata":{"tenant":"acme"},"tti_minutes":5,"secrets":{"slack_user_token":"x"},"from_session":{"session_key":"s1"}}`,
		`{}`,
		`{"name":"Customer Support Session","description":"Helping","enabled":false,"tti_minutes":0,"metadata":{"a":[1,2.5,-0,1e300,null,true,{"b":"c"}]}}`,
		`{"key":null,"name":null,"description":null,"metadata":null,"enabled":null,"tti_minutes":null,"secrets":null,"from_session":null}`,
		`{"from_session":{"session_key":"s1","agent_key":"support-v1","include_up_to_event_id":"aev_1"}}`,
		`{"from_session":{"session_key":"s1","compact_up_to_event_id":"aev_1","include_up_to_event_id":"aev_2"}}`,
		`{"from_session":{}}`, `{"from_session":[]}`, `{"from_session":{"x":1}}`,
		`{"key":"bad key!","tti_minutes":-1,"secrets":{"bad name":"","ok":""}}`,
		`{"tti_minutes":1.5}`, `{"tti_minutes":99999999999999999999}`, `{"tti_minutes":52596000}`, `{"tti_minutes":52596001}`,
		`{"name":"\u00e9\u00e9\u00e9","secrets":{"a":"b","c":null}}`,
		`{"unknown":1}`, `null`, `[]`, `"x"`, `{`, `{"key":"a"} trailing`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var p session.Params
		if err := p.UnmarshalJSON([]byte(in)); err != nil {
			fuzzRequireFieldErrors(t, err)
			if !reflect.DeepEqual(p, session.Params{}) {
				t.Fatalf("Params set on error %v: %+v", err, p)
			}
			return
		}
		err := p.Validate()
		again := p.Validate() // Validate may normalise; it must be stable
		if !fuzzSameErr(err, again) {
			t.Fatalf("Validate is not stable: %v, then %v", err, again)
		}
		if err != nil {
			fuzzRequireFieldErrors(t, err)
			return
		}
		key := p.Key
		if key == "" {
			key = session.KeyFromName(p.Name, "a1b2c3d4")
		}
		s := p.New(key, "support-v1", "support", fuzzNow)
		if err := s.Validate(); err != nil {
			t.Fatalf("valid Params %+v make an invalid session: %v", p, err)
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("Marshal of a valid session: %v", err)
		}
	})
}

// FuzzPatch_UnmarshalJSON decodes update-session request bodies. Decoding
// must not panic; a failure must carry field errors and leave the Patch
// zero. A decoded Patch must validate without panicking, the same way
// twice, and re-encode to a body that decodes to the same Patch (secret
// values masked). A valid Patch applied to a valid session must give a valid
// session, or fail with field errors (too many secrets).
func FuzzPatch_UnmarshalJSON(f *testing.F) {
	for _, s := range []string{
		// The contract's patch request.
		`{"secrets":{"a":"b","old":null},"metadata":null}`,
		`{}`,
		`{"name":"n","description":"d","metadata":{"tenant":"acme","n":[1,{"x":null}]},"enabled":false,"tti_minutes":30}`,
		`{"name":null,"description":null}`, `{"name":""}`,
		`{"enabled":null}`, `{"tti_minutes":null}`, `{"secrets":null}`, `{"secrets":{}}`,
		`{"tti_minutes":-1}`, `{"tti_minutes":1e3}`, `{"tti_minutes":"5"}`, `{"enabled":"true"}`,
		`{"secrets":{"bad name":"x","":"y","ok":""}}`, `{"secrets":{"api_key":null}}`, `{"secrets":[]}`,
		`{"metadata":[]}`, `{"metadata":"x"}`, `{"key":"k"}`, `{"agent_key":"a"}`,
		`null`, `[]`, `{`, `1`,
	} {
		f.Add(s)
	}
	base := &session.Session{
		Key: "chat-42", AgentKey: "support-v1", AliasKey: "support", Name: "Chat",
		Metadata: map[string]any{"tenant": "acme"}, Enabled: true, Status: session.Unstarted,
		TTIMinutes: 5, CreatedAt: fuzzNow, Secrets: session.Secrets{"old": "v", "keep": "w"},
	}
	base.Touch(fuzzNow)
	if err := base.Validate(); err != nil {
		f.Fatalf("base session: %v", err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var p session.Patch
		if err := p.UnmarshalJSON([]byte(in)); err != nil {
			fuzzRequireFieldErrors(t, err)
			if !reflect.DeepEqual(p, session.Patch{}) {
				t.Fatalf("Patch set on error %v: %+v", err, p)
			}
			return
		}
		// A decoded patch re-encodes to a body that decodes to the same
		// patch, with its secret values masked.
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var back session.Patch
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		// An empty secrets object changes nothing and is left out.
		want := p
		if len(p.Secrets) == 0 {
			want.Secrets = nil
		} else {
			want.Secrets = map[string]*string{}
			for k, v := range p.Secrets {
				if v != nil {
					m := session.Mask
					v = &m
				}
				want.Secrets[k] = v
			}
		}
		if !reflect.DeepEqual(want, back) {
			t.Fatalf("round trip of %s through %s changed the patch:\nwant %s\ngot  %s", in, b, fuzzDump(want), fuzzDump(back))
		}

		err = p.Validate()
		again := p.Validate()
		if !fuzzSameErr(err, again) {
			t.Fatalf("Validate is not stable: %v, then %v", err, again)
		}
		if err != nil {
			fuzzRequireFieldErrors(t, err)
			return
		}
		s, err := p.Apply(base, fuzzNow.Add(time.Minute))
		if err != nil {
			fuzzRequireFieldErrors(t, err)
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("valid patch %s makes an invalid session: %v", in, err)
		}
		if base.Secrets["old"] != "v" || base.Name != "Chat" || base.Metadata["tenant"] != "acme" {
			t.Fatalf("Apply changed the session it was given: %+v", base)
		}
	})
}

func fuzzSameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}

// fuzzDump shows a patch with its pointers followed.
func fuzzDump(p session.Patch) string {
	var b strings.Builder
	show := func(name string, v any) { b.WriteString(name + "=" + string(fuzzMust(json.Marshal(v))) + " ") }
	show("name", p.Name)
	show("description", p.Description)
	show("metadata", p.Metadata)
	show("enabled", p.Enabled)
	show("tti", p.TTIMinutes)
	show("secrets", p.Secrets)
	return b.String()
}

func fuzzMust(b []byte, err error) []byte {
	if err != nil {
		return []byte(err.Error())
	}
	return b
}

// fuzzRequireFieldErrors fails unless err has a FieldErrors method that
// reports at least one field.
func fuzzRequireFieldErrors(t *testing.T, err error) {
	t.Helper()
	var fe interface{ FieldErrors() map[string]string }
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) has no FieldErrors method", err, err)
	}
	if len(fe.FieldErrors()) == 0 {
		t.Fatalf("error %v has no field errors", err)
	}
}
