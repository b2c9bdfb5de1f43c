package keys_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agentalias/agentalias/internal/keys"
)

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "Simple", in: "support", want: true},
		{name: "AllClasses", in: "Support_v1-2", want: true},
		{name: "SingleChar", in: "a", want: true},
		{name: "OnlyDash", in: "-", want: true},
		{name: "OnlyUnderscore", in: "_", want: true},
		{name: "Max50", in: strings.Repeat("a", 50), want: true},
		{name: "Empty", in: "", want: false},
		{name: "TooLong51", in: strings.Repeat("a", 51), want: false},
		{name: "Space", in: "sup port", want: false},
		{name: "Dot", in: "support.v1", want: false},
		{name: "Slash", in: "support/v1", want: false},
		{name: "Colon", in: "agt:1", want: false},
		{name: "Unicode", in: "suppört", want: false},
		{name: "NUL", in: "a\x00", want: false},
		{name: "Newline", in: "a\n", want: false},
		{name: "Plus", in: "a+b", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, keys.Valid(tt.in)); diff != "" {
				t.Errorf("Valid(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestKeyByte(t *testing.T) {
	var got []byte
	for c := 0; c < 256; c++ {
		if keys.KeyByte(byte(c)) {
			got = append(got, byte(c))
		}
	}
	want := "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("KeyByte accepts (-want +got):\n%s", diff)
	}
}

func TestValidID(t *testing.T) {
	type in struct {
		s      string
		prefix string
		lower  bool
	}
	tests := []struct {
		name string
		in   in
		want bool
	}{
		{name: "EventOK", in: in{"aev_user_001", "aev_", false}, want: true},
		{name: "EventMixedCase", in: in{"aev_User-01", "aev_", false}, want: true},
		{name: "EventPrefixOnly", in: in{"aev_", "aev_", false}, want: false},
		{name: "EventEmpty", in: in{"", "aev_", false}, want: false},
		{name: "EventWrongPrefix", in: in{"evt_1", "aev_", false}, want: false},
		{name: "EventPrefixCase", in: in{"AEV_1", "aev_", false}, want: false},
		{name: "EventBadChar", in: in{"aev_a.b", "aev_", false}, want: false},
		{name: "EventSpace", in: in{"aev_a b", "aev_", false}, want: false},
		{name: "ArtifactOK", in: in{"art_report_pdf_a3f2", "art_", true}, want: true},
		{name: "ArtifactDash", in: in{"art_a-b", "art_", true}, want: true},
		{name: "ArtifactUpper", in: in{"art_Report", "art_", true}, want: false},
		{name: "ArtifactPrefixOnly", in: in{"art_", "art_", true}, want: false},
		{name: "ArtifactBadChar", in: in{"art_a/b", "art_", true}, want: false},
		{name: "Max200", in: in{"aev_" + strings.Repeat("x", 196), "aev_", false}, want: true},
		{name: "TooLong201", in: in{"aev_" + strings.Repeat("x", 197), "aev_", false}, want: false},
		{name: "ShorterThanPrefix", in: in{"ae", "aev_", false}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keys.ValidID(tt.in.s, tt.in.prefix, tt.in.lower)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidID(%q, %q, %v) mismatch (-want +got):\n%s", tt.in.s, tt.in.prefix, tt.in.lower, diff)
			}
		})
	}
}

func TestConstants(t *testing.T) {
	if diff := cmp.Diff(50, keys.MaxLen); diff != "" {
		t.Errorf("MaxLen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("^[0-9a-zA-Z_-]+$", keys.Pattern); diff != "" {
		t.Errorf("Pattern (-want +got):\n%s", diff)
	}
}
