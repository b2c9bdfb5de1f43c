package policy_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/policy/expr"
)

// The frozen test vectors of the weighted split. They pin the algorithm
// forever: a change that makes one of them fail would move live users between
// agents, and is a bug however good its reasons. The package documentation
// publishes the same vectors.

// TestHash_FrozenVectors pins Hash and RendezvousScore.
func TestHash_FrozenVectors(t *testing.T) {
	tests := []struct {
		partition, agent string
		hash, score      uint64
	}{
		{"u-1", "support-v1", 0x45a6b92958c8d3b4, 8065615270},
		{"u-42", "support-v1", 0xf6b25854ee08fa40, 229375413},
		{"user-123", "support-v1", 0x16f5591ce90b771b, 14942407552},
		{"", "support-v1", 0x75a861a847e4662b, 4817010172},
		{"ünïcødé", "support-v1", 0xbda812f8689f2a73, 1858667253},
	}
	for _, tt := range tests {
		if got := policy.Hash([]byte(tt.partition), tt.agent); got != tt.hash {
			t.Errorf("Hash(%q, %q) = %#x, want %#x", tt.partition, tt.agent, got, tt.hash)
		}
		if got := policy.RendezvousScore([]byte(tt.partition), tt.agent); got != tt.score {
			t.Errorf("RendezvousScore(%q, %q) = %d, want %d", tt.partition, tt.agent, got, tt.score)
		}
	}
}

// TestWeighted_FrozenVectors pins which option the partition values "u-0" to
// "u-39" get, one digit (the option's index) per value.
func TestWeighted_FrozenVectors(t *testing.T) {
	tests := []struct {
		name    string
		options []policy.Option
		want    string
	}{
		{"90/10", []policy.Option{{AgentKey: "support-v1", Weight: 90}, {AgentKey: "support-v2", Weight: 10}},
			"0000010000100000000000000000000000000000"},
		{"1/1/1", []policy.Option{{AgentKey: "a", Weight: 1}, {AgentKey: "b", Weight: 1}, {AgentKey: "c", Weight: 1}},
			"1212121020022000102112202211201101220101"},
		{"50/30/20", []policy.Option{{AgentKey: "blue", Weight: 50}, {AgentKey: "green", Weight: 30}, {AgentKey: "red", Weight: 20}},
			"2020010110200022210001120120201200020001"},
		{"0/3/1000000", []policy.Option{{AgentKey: "x", Weight: 0}, {AgentKey: "y", Weight: 3}, {AgentKey: "z", Weight: 1000000}},
			"2222222222222222222222222222222222222222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := policy.NewWeighted(expr.MustCompile("get('$.session.key')"), tt.options)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 0, 40)
			for i := range 40 {
				req := &policy.Request{Input: expr.Input{Session: expr.Object{Key: fmt.Sprintf("u-%d", i)}}}
				d, err := w.Choose(context.Background(), req)
				if err != nil {
					t.Fatalf("u-%d: %v", i, err)
				}
				got = append(got, byte('0'+d.Option))
			}
			if string(got) != tt.want {
				t.Errorf("options for u-0..u-39:\ngot  %s\nwant %s", got, tt.want)
			}
		})
	}
}
