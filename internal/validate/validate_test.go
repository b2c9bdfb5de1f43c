package validate_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/internal/validate"
)

func TestErrors_Err(t *testing.T) {
	t.Run("NilIsNoError", func(t *testing.T) {
		var e *validate.Errors
		if err := e.Err(); err != nil {
			t.Errorf("(*Errors)(nil).Err() = %v, want nil", err)
		}
		if got := e.Len(); got != 0 {
			t.Errorf("(*Errors)(nil).Len() = %d, want 0", got)
		}
	})
	t.Run("ZeroIsNoError", func(t *testing.T) {
		var e validate.Errors
		// An untyped nil, not a typed nil pointer wrapped in an interface.
		if err := e.Err(); err != nil {
			t.Errorf("Errors{}.Err() = %#v, want nil", err)
		}
	})
	t.Run("OneProblem", func(t *testing.T) {
		var e validate.Errors
		e.Add("name", "is required")
		err := e.Err()
		if err == nil {
			t.Fatal("Err() = nil, want an error")
		}
		var got *validate.Errors
		if !errors.As(err, &got) {
			t.Fatalf("errors.As(%T, *validate.Errors) = false", err)
		}
		if diff := cmp.Diff([]validate.Field{{Path: "name", Message: "is required"}}, got.Fields); diff != "" {
			t.Errorf("Fields (-want +got):\n%s", diff)
		}
	})
}

func TestErrors_Error(t *testing.T) {
	tests := []struct {
		name string
		in   []validate.Field
		want string
	}{
		{name: "One", in: []validate.Field{{"key", "bad"}}, want: "key: bad"},
		{name: "Two", in: []validate.Field{{"key", "bad"}, {"name", "is required"}}, want: "key: bad; name: is required"},
		{name: "EmptyPath", in: []validate.Field{{"", "must be a JSON object"}}, want: "must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e validate.Errors
			for _, f := range tt.in {
				e.Add(f.Path, f.Message)
			}
			if diff := cmp.Diff(tt.want, e.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrors_Addf(t *testing.T) {
	var e validate.Errors
	e.Addf("name", "must be at most %d characters", 100)
	want := []validate.Field{{Path: "name", Message: "must be at most 100 characters"}}
	if diff := cmp.Diff(want, e.Fields); diff != "" {
		t.Errorf("Fields (-want +got):\n%s", diff)
	}
}

func TestErrors_FieldErrors(t *testing.T) {
	var e validate.Errors
	e.Add("key", "bad key")
	e.Add("name", "is required")
	e.Add("key", "second problem")
	e.Add("", "whole body")
	want := map[string]string{
		"key":  "bad key; second problem",
		"name": "is required",
		"":     "whole body",
	}
	if diff := cmp.Diff(want, e.FieldErrors()); diff != "" {
		t.Errorf("FieldErrors() (-want +got):\n%s", diff)
	}

	// The documented way for callers outside the module.
	var fe interface{ FieldErrors() map[string]string }
	if !errors.As(e.Err(), &fe) {
		t.Fatal("errors.As(err, FieldErrors interface) = false")
	}
	if diff := cmp.Diff(want, fe.FieldErrors()); diff != "" {
		t.Errorf("FieldErrors() via errors.As (-want +got):\n%s", diff)
	}
}

func TestErrors_Paths(t *testing.T) {
	var e validate.Errors
	e.Add("name", "a")
	e.Add("key", "b")
	e.Add("name", "c")
	e.Add("policy.rules[0]", "d")
	want := []string{"key", "name", "policy.rules[0]"}
	if diff := cmp.Diff(want, e.Paths()); diff != "" {
		t.Errorf("Paths() (-want +got):\n%s", diff)
	}
}

func TestErrors_Merge(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		in     *validate.Errors
		want   []validate.Field
	}{
		{
			name:   "Prefixed",
			prefix: "policy",
			in: &validate.Errors{Fields: []validate.Field{
				{"rules", "at least one rule is required"},
				{"rules[1].targets.agent_key", "is required"},
				{"", "is required"},
			}},
			want: []validate.Field{
				{"key", "existing"},
				{"policy.rules", "at least one rule is required"},
				{"policy.rules[1].targets.agent_key", "is required"},
				{"policy", "is required"},
			},
		},
		{
			name:   "IndexPath",
			prefix: "rules",
			in:     &validate.Errors{Fields: []validate.Field{{"[2]", "unreachable"}}},
			want:   []validate.Field{{"key", "existing"}, {"rules[2]", "unreachable"}},
		},
		{
			name:   "NoPrefix",
			prefix: "",
			in:     &validate.Errors{Fields: []validate.Field{{"type", "is required"}}},
			want:   []validate.Field{{"key", "existing"}, {"type", "is required"}},
		},
		{
			name:   "Nil",
			prefix: "policy",
			in:     nil,
			want:   []validate.Field{{"key", "existing"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e validate.Errors
			e.Add("key", "existing")
			e.Merge(tt.prefix, tt.in)
			if diff := cmp.Diff(tt.want, e.Fields); diff != "" {
				t.Errorf("Fields after Merge (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	type in struct{ prefix, name string }
	tests := []struct {
		name string
		in   in
		want string
	}{
		{name: "Both", in: in{"policy", "rules"}, want: "policy.rules"},
		{name: "NoPrefix", in: in{"", "rules"}, want: "rules"},
		{name: "NoName", in: in{"policy", ""}, want: "policy"},
		{name: "Index", in: in{"rules", "[3]"}, want: "rules[3]"},
		{name: "Nested", in: in{"rules[0]", "targets"}, want: "rules[0].targets"},
		{name: "Neither", in: in{"", ""}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, validate.Join(tt.in.prefix, tt.in.name)); diff != "" {
				t.Errorf("Join(%q, %q) (-want +got):\n%s", tt.in.prefix, tt.in.name, diff)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		in     int
		want   string
	}{
		{name: "Zero", prefix: "rules", in: 0, want: "rules[0]"},
		{name: "Nested", prefix: "rules[1].targets.options", in: 12, want: "rules[1].targets.options[12]"},
		{name: "NoPrefix", prefix: "", in: 2, want: "[2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, validate.Index(tt.prefix, tt.in)); diff != "" {
				t.Errorf("Index(%q, %d) (-want +got):\n%s", tt.prefix, tt.in, diff)
			}
		})
	}
}
