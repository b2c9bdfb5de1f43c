package agentalias_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/agentalias/agentalias"
	"github.com/agentalias/agentalias/alias"
	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/session"
	"github.com/agentalias/agentalias/storage"
	"github.com/agentalias/agentalias/storage/memstore"
)

// TestLimits checks every resource limit the router enforces: each answers
// Invalid (or TooLarge) naming the field, and nothing is stored.
func TestLimits(t *testing.T) {
	ctx := context.Background()
	noop := agentalias.AgentFunc(func(context.Context, *agentalias.Turn) error { return nil })
	r, err := agentalias.New(memstore.New(), &agentalias.Options{
		Agents:           map[string]agentalias.Agent{"v1": noop, "v2": noop},
		MaxArtifactBytes: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	single := policy.Targets{Type: policy.TargetSingle, AgentKey: "v1"}
	okPolicy := policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: single}}}
	if _, err := r.CreateAlias(ctx, alias.Params{Key: "base", Name: "Base", Policy: okPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateSession(ctx, agentalias.ViaAlias("base"), session.Params{Key: "s1"}); err != nil {
		t.Fatal(err)
	}

	manyRules := policy.Document{Type: policy.TypeRouted}
	for i := range policy.MaxRules + 1 {
		manyRules.Rules = append(manyRules.Rules, policy.Rule{Match: fmt.Sprintf("get('$.session.key') == '%d'", i), Targets: single})
	}
	manyOptions := policy.Targets{Type: policy.TargetWeighted, PartitionBy: "get('$.session.key')"}
	for i := range policy.MaxOptions + 1 {
		manyOptions.Options = append(manyOptions.Options, policy.Option{AgentKey: fmt.Sprintf("a%d", i), Weight: 1})
	}
	longExpr := "get('$.session.key') == '" + strings.Repeat("x", policy.MaxExpressionLength) + "'"
	bigMetadata := map[string]any{"blob": strings.Repeat("x", alias.MaxMetadataBytes)}

	aliasCases := []struct {
		name  string
		in    alias.Params
		field string
	}{
		{"Rules", alias.Params{Key: "a", Name: "A", Policy: manyRules}, "policy.rules"},
		{"Options", alias.Params{Key: "a", Name: "A", Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: manyOptions}}}}, "policy.rules[0].targets.options"},
		{"Weight", alias.Params{Key: "a", Name: "A", Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Targets: policy.Targets{
			Type: policy.TargetWeighted, PartitionBy: "get('$.session.key')", Options: []policy.Option{{AgentKey: "v1", Weight: policy.MaxWeight + 1}}}}}}}, "policy.rules[0].targets.options[0].weight"},
		{"ExpressionLength", alias.Params{Key: "a", Name: "A", Policy: policy.Document{Type: policy.TypeRouted, Rules: []policy.Rule{{Match: longExpr, Targets: single}}}}, "policy.rules[0].match"},
		{"Metadata", alias.Params{Key: "a", Name: "A", Policy: okPolicy, Metadata: bigMetadata}, "metadata"},
		{"Name", alias.Params{Key: "a", Name: strings.Repeat("n", alias.MaxNameLen+1), Policy: okPolicy}, "name"},
		{"Key", alias.Params{Key: strings.Repeat("k", alias.MaxKeyLen+1), Name: "A", Policy: okPolicy}, "key"},
	}
	for _, tt := range aliasCases {
		t.Run("Alias/"+tt.name, func(t *testing.T) {
			_, err := r.CreateAlias(ctx, tt.in)
			if agentalias.ErrorCode(err) != agentalias.Invalid {
				t.Fatalf("CreateAlias = %v, want Invalid", err)
			}
			if _, ok := agentalias.FieldErrors(err)[tt.field]; !ok {
				t.Errorf("field errors %v do not name %q", agentalias.FieldErrors(err), tt.field)
			}
			if _, err := r.Alias(ctx, tt.in.Key); agentalias.ErrorCode(err) != agentalias.NotFound {
				t.Errorf("the refused alias was stored: Alias = %v", err)
			}
		})
	}

	t.Run("SessionMetadata", func(t *testing.T) {
		_, err := r.CreateSession(ctx, agentalias.ViaAlias("base"), session.Params{Key: "big", Metadata: bigMetadata})
		if _, ok := agentalias.FieldErrors(err)["metadata"]; !ok {
			t.Fatalf("CreateSession = %v, want a field error on metadata", err)
		}
		if _, err := r.Session(ctx, agentalias.ViaAlias("base"), "big"); agentalias.ErrorCode(err) != agentalias.NotFound {
			t.Errorf("the refused session was stored: %v", err)
		}
	})
	t.Run("ArtifactSize", func(t *testing.T) {
		_, err := r.UploadArtifact(ctx, agentalias.ViaAlias("base"), "s1", agentalias.ArtifactParams{
			Filename: "big.bin", MimeType: "application/octet-stream", Data: make([]byte, 1001)})
		if agentalias.ErrorCode(err) != agentalias.TooLarge {
			t.Fatalf("UploadArtifact(1001 bytes) = %v, want TooLarge", err)
		}
		page, err := r.ListArtifacts(ctx, agentalias.ViaAlias("base"), "s1", storage.ArtifactQuery{})
		if err != nil || len(page.Items) != 0 {
			t.Errorf("ListArtifacts = %d items, %v; want none", len(page.Items), err)
		}
	})
	t.Run("PageSize", func(t *testing.T) {
		_, err := r.ListAliases(ctx, storage.AliasQuery{Limit: storage.MaxLimit + 1})
		if _, ok := agentalias.FieldErrors(err)["limit"]; !ok {
			t.Fatalf("ListAliases(limit 101) = %v, want a field error on limit", err)
		}
	})
}
