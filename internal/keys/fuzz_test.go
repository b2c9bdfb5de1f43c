package keys_test

import (
	"regexp"
	"testing"

	"github.com/agentalias/agentalias/internal/keys"
)

// The contract's patterns with their length limits folded in: keys are
// 1-50 characters, event and artifact ids at most 200 (so 1-196 after their
// four-character prefix).
var (
	fuzzKeyRE        = regexp.MustCompile(`^[0-9a-zA-Z_-]{1,50}$`)
	fuzzEventIDRE    = regexp.MustCompile(`^aev_[0-9a-zA-Z_-]{1,196}$`)
	fuzzArtifactIDRE = regexp.MustCompile(`^art_[a-z0-9_-]{1,196}$`)
)

// FuzzValid checks Valid and ValidID against the regular expressions they
// implement by hand, for any string, and for any string behind each prefix
// (which random strings would almost never start with).
func FuzzValid(f *testing.F) {
	for _, s := range []string{
		"", "a", "support", "Support_v1-2", "-", "_",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",  // 50
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 51
		"aev_", "aev_user_001", "aev_User-01", "AEV_1", "aev_a.b",
		"art_", "art_report_pdf_a3f2", "art_Report", "art_a/b",
		"a\x00", "a\n", "suppört", "\xff", "a b", "a\u212a", // Kelvin sign folds to k
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := keys.Valid(s), fuzzKeyRE.MatchString(s); got != want {
			t.Errorf("Valid(%q) = %v, regexp says %v", s, got, want)
		}
		for _, in := range []string{s, "aev_" + s, "art_" + s} {
			if got, want := keys.ValidID(in, "aev_", false), fuzzEventIDRE.MatchString(in); got != want {
				t.Errorf("ValidID(%q, \"aev_\", false) = %v, regexp says %v", in, got, want)
			}
			if got, want := keys.ValidID(in, "art_", true), fuzzArtifactIDRE.MatchString(in); got != want {
				t.Errorf("ValidID(%q, \"art_\", true) = %v, regexp says %v", in, got, want)
			}
		}
	})
}
