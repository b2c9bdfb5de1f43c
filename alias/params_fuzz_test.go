package alias_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
)

// FuzzParams_UnmarshalJSON decodes create-alias request bodies. Decoding must
// not panic; a failure must carry field errors and leave the Params zero. A
// decoded Params must build an alias that validates without panicking, the
// same way twice; a valid alias must compile (or fail cleanly), encode, and
// its encoding, sent back as a request body, must decode to the same alias.
func FuzzParams_UnmarshalJSON(f *testing.F) {
	for _, s := range []string{
		// The contract's create request.
		`{"key":"support","name":"Customer Support","description":"Stable public handle for the support agent","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]}}`,
		// Every field, with stickiness and a weighted split.
		`{"key":"canary","name":"Canary","description":null,"enabled":false,"metadata":{"team":"core","n":1,"l":[true,null,{"x":"y"}]},"stickiness":{"key":"get('$.session.metadata.user_id')","ttl_minutes":60},"policy":{"type":"routed","rules":[{"targets":{"type":"weighted","partition_by":"get('$.session.key')","options":[{"agent_key":"support-v1","weight":90},{"agent_key":"support-v2","weight":10}]}}]}}`,
		// Non-ASCII text, escaped and raw.
		`{"key":"intl","name":"Caf\u00e9 \u2019support\u2019\u2026","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"support-v1"}}]},"metadata":{"note":"d\u00e9j\u00e0 vu\u2026 <b>&amp;</b>","emoji":"\ud83d\ude00","raw":"ünï ‘quoted’ …"}}`,
		`{"key":"fb","name":"Fallback","policy":{"type":"routed","rules":[{"match":"get('$.session.metadata.tier') == 'gold'","targets":{"type":"fallback","agent_keys":["a","b"]}},{"targets":{"type":"single","agent_key":"c"}}]},"stickiness":null,"enabled":null,"metadata":null}`,
		// Broken ones.
		`{}`, `null`, `[]`, `"x"`, `{`, `{"key":1,"name":false,"policy":[]}`,
		`{"key":"bad key","name":"","policy":{"type":"other","rules":[]}}`,
		`{"key":"k","name":"n","policy":null}`,
		`{"key":"k","name":"n","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"a"}}]},"extra":1}`,
		`{"key":"k","name":"n","policy":{"type":"routed","rules":[{"targets":{"type":"single","agent_key":"a"}}]},"metadata":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":{"p":{"q":{"r":{"s":{"t":{"u":{"v":{"w":{"x":{"y":{"z":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":{"p":{"q":{"r":{"s":{"t":{"u":{"v":{"w":{"x":{"y":{"z":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}`,
		`{"key":"k","name":"n","policy":{"type":"routed","rules":[{"targets":{"type":"weighted","options":[{"agent_key":"a","weight":1e400}]}}]},"stickiness":{"key":"","ttl_minutes":-1}}`,
	} {
		f.Add(s)
	}
	now := time.Date(2026, time.June, 2, 10, 35, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in string) {
		var p alias.Params
		if err := p.UnmarshalJSON([]byte(in)); err != nil {
			fuzzRequireFieldErrors(t, err)
			if !reflect.DeepEqual(p, alias.Params{}) {
				t.Fatalf("Params set on error %v: %+v", err, p)
			}
			return
		}
		a := p.New(now)
		err := a.Validate()
		again := a.Validate() // Validate may normalise; it must be stable
		if (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("Validate is not stable: %v, then %v", err, again)
		}
		if err != nil {
			fuzzRequireFieldErrors(t, err)
			return
		}
		fuzzCheckMetadataLimit(t, a.Metadata)
		if _, err := policy.Compile(&a.Policy, a.Stickiness); err != nil {
			fuzzRequireFieldErrors(t, err)
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("Marshal of a valid alias: %v", err)
		}
		// The alias, without its timestamps, is a valid create request for
		// the same alias.
		var body map[string]json.RawMessage
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		delete(body, "created_at")
		delete(body, "updated_at")
		req, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		var p2 alias.Params
		if err := p2.UnmarshalJSON(req); err != nil {
			t.Fatalf("re-decoding %s: %v", req, err)
		}
		a2 := p2.New(now)
		if err := a2.Validate(); err != nil {
			t.Fatalf("re-decoded alias is invalid: %v\nbody: %s", err, req)
		}
		b2, err := json.Marshal(a2)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(b2) {
			t.Fatalf("round trip changed the alias:\nfirst:  %s\nsecond: %s", b, b2)
		}
	})
}

// fuzzCheckMetadataLimit checks that metadata made of enough copies of the
// valid metadata m to encode to more than MaxMetadataBytes is refused:
// the size check may overestimate, never underestimate.
func fuzzCheckMetadataLimit(t *testing.T, m map[string]any) {
	t.Helper()
	if len(m) == 0 {
		return
	}
	one, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("Marshal of valid metadata: %v", err)
	}
	copies := make([]any, alias.MaxMetadataBytes/len(one)+1)
	for i := range copies {
		copies[i] = m
	}
	big := map[string]any{"copies": copies}
	b, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) <= alias.MaxMetadataBytes {
		t.Fatalf("%d copies of %d bytes encode to only %d bytes", len(copies), len(one), len(b))
	}
	if _, err := alias.CheckMetadata(big); err == nil {
		t.Fatalf("metadata of %d bytes of JSON, over the limit of %d, is accepted; it is %d copies of %s", len(b), alias.MaxMetadataBytes, len(copies), one)
	}
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
