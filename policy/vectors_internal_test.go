package policy

import (
	"hash/fnv"
	"math"
	"testing"
)

// TestLog2Fixed checks the integer log2 against math.Log2 and pins exact
// values: the integer algorithm, not the float one, is what is frozen.
func TestLog2Fixed(t *testing.T) {
	pinned := []struct {
		x    uint64
		want uint64
	}{
		{1, 0},
		{2, 1 << 32},
		{3, 0x1_95C01A39},
		{1 << 52, 52 << 32},
		{1<<53 - 1, 0x34_FFFFFFFF},
		{1 << 53, 53 << 32},
		{123456789, 0x1A_E12262B7},
	}
	for _, tt := range pinned {
		if got := log2Fixed(tt.x); got != tt.want {
			t.Errorf("log2Fixed(%d) = %#x, want %#x", tt.x, got, tt.want)
		}
	}
	for x := uint64(1); x < 1<<53; x = x*3 + 7 {
		got := float64(log2Fixed(x)) / (1 << 32)
		want := math.Log2(float64(x))
		if d := want - got; d < 0 || d > 1.0/(1<<30) {
			t.Errorf("log2Fixed(%d) = %v, math.Log2 = %v", x, got, want)
		}
	}
}

// TestHash checks Hash against hash/fnv followed by fmix64.
func TestHash(t *testing.T) {
	for _, tt := range []struct{ part, agent string }{
		{"", ""}, {"u-42", "support-v1"}, {"user\x00with nul", "a"}, {"42", "b"},
	} {
		f := fnv.New64a()
		f.Write([]byte(tt.part))
		f.Write([]byte{0})
		f.Write([]byte(tt.agent))
		h := f.Sum64()
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= h >> 33
		h *= 0xc4ceb9fe1a85ec53
		h ^= h >> 33
		if got := Hash([]byte(tt.part), tt.agent); got != h {
			t.Errorf("Hash(%q, %q) = %#x, want %#x", tt.part, tt.agent, got, h)
		}
	}
}
