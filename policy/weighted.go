package policy

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/agentalias/agentalias/policy/expr"
)

// Weighted splits sessions between agents in proportion to integer weights,
// by hashing the value of PartitionBy. It is the contract's "weighted"
// target. Create one with NewWeighted.
//
// The split is deterministic and ramp-safe; see the package documentation,
// section "Weighted split", for the algorithm, which is frozen.
type Weighted struct {
	partitionBy *expr.Expr
	options     []Option
}

// NewWeighted returns a weighted target over options, partitioned by the
// value of partitionBy. Weights must be between 0 and MaxWeight with at
// least one above 0, and agent keys valid and distinct.
func NewWeighted(partitionBy *expr.Expr, options []Option) (*Weighted, error) {
	if partitionBy == nil {
		return nil, errors.New("policy: weighted target without partition_by")
	}
	if len(options) == 0 || len(options) > MaxOptions {
		return nil, fmt.Errorf("policy: weighted target needs 1 to %d options", MaxOptions)
	}
	positive := false
	seen := make(map[string]bool, len(options))
	for _, o := range options {
		switch {
		case !ValidAgentKey(o.AgentKey):
			return nil, fmt.Errorf("policy: weighted option: invalid agent key %q", o.AgentKey)
		case seen[o.AgentKey]:
			return nil, fmt.Errorf("policy: weighted option: duplicate agent %q", o.AgentKey)
		case o.Weight < 0 || o.Weight > MaxWeight:
			return nil, fmt.Errorf("policy: weighted option %q: weight %d is not between 0 and %d", o.AgentKey, o.Weight, MaxWeight)
		}
		seen[o.AgentKey] = true
		positive = positive || o.Weight > 0
	}
	if !positive {
		return nil, errors.New("policy: weighted target with no weight above 0")
	}
	return &Weighted{partitionBy: partitionBy, options: append([]Option(nil), options...)}, nil
}

// Agents returns the agent keys of the options it may pick (those with a
// weight above 0), in order. A sticky pin to an option ramped down to 0 is
// therefore ignored: weight 0 means no traffic, pinned or not.
func (w *Weighted) Agents() []string {
	keys := make([]string, 0, len(w.options))
	for _, o := range w.options {
		if o.Weight > 0 {
			keys = append(keys, o.AgentKey)
		}
	}
	return keys
}

// Choose picks an option for req: the available option with positive weight
// that wins the weighted rendezvous on the partition value.
func (w *Weighted) Choose(_ context.Context, req *Request) (Decision, error) {
	d := noDecision()
	if err := w.choose(req, &d); err != nil {
		return d, err
	}
	return d, nil
}

// choose fills d.Target, Partition, Option, Skipped, Via and AgentKey.
func (w *Weighted) choose(req *Request, d *Decision) error {
	d.Target = TargetWeighted
	d.Partition = w.partitionBy.Eval(&req.Input)
	if d.Partition.IsNull() {
		return fmt.Errorf("%w: %s", ErrNullPartition, w.partitionBy)
	}
	var buf [128]byte
	part := d.Partition.AppendText(buf[:0])
	best, bestScore, bestWeight := -1, uint64(0), int64(0)
	for i, o := range w.options {
		if o.Weight <= 0 {
			continue
		}
		if !req.available(o.AgentKey) {
			d.Skipped++
			continue
		}
		score := RendezvousScore(part, o.AgentKey)
		if best < 0 || beats(score, o.Weight, o.AgentKey, bestScore, bestWeight, w.options[best].AgentKey) {
			best, bestScore, bestWeight = i, score, o.Weight
		}
	}
	if best < 0 {
		return fmt.Errorf("%w: every option with a weight above 0 is unavailable", ErrUnavailable)
	}
	d.Option = best
	d.AgentKey = w.options[best].AgentKey
	d.Via = ViaRule
	return nil
}

// beats reports whether option a (score sa, weight wa) wins over option b:
// the smaller sa/wa wins, compared exactly as sa*wb < sb*wa (both products
// fit in 64 bits), and ties go to the smaller agent key.
func beats(sa uint64, wa int64, ka string, sb uint64, wb int64, kb string) bool {
	l := sa * uint64(wb)
	r := sb * uint64(wa)
	if l != r {
		return l < r
	}
	return strings.Compare(ka, kb) < 0
}

// RendezvousScore returns the frozen score of an agent for a partition
// string: -log2(u) in fixed point with 32 fractional bits, where u in (0, 1]
// is derived from Hash(partition, agentKey). An option's weighted score is
// RendezvousScore/weight; the smallest wins. See the package documentation.
func RendezvousScore(partition []byte, agentKey string) uint64 {
	h := Hash(partition, agentKey)
	u := h>>11 + 1 // 1 .. 2^53: u/2^53 is uniform in (0, 1]
	return 53<<32 - log2Fixed(u)
}

// Hash is the frozen 64-bit hash of the weighted split: FNV-1a over the
// partition string, one zero byte and the agent key, followed by the
// finalizer of MurmurHash3 (fmix64).
func Hash(partition []byte, agentKey string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, c := range partition {
		h ^= uint64(c)
		h *= prime
	}
	h *= prime // the zero separator: h ^= 0 leaves h unchanged
	for i := 0; i < len(agentKey); i++ {
		h ^= uint64(agentKey[i])
		h *= prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// log2Fixed returns log2(x) for x >= 1 in fixed point with 32 fractional
// bits, rounded down, using integer arithmetic only (so that every platform
// computes the same bits): the integer part is the position of the top bit;
// each fractional bit comes from squaring the mantissa.
func log2Fixed(x uint64) uint64 {
	n := uint64(bits.Len64(x) - 1)
	// m is x/2^n in [1, 2) as a fixed-point number with 62 fractional bits.
	m := x << (63 - n) >> 1
	var frac uint64
	for i := 31; i >= 0; i-- {
		hi, lo := bits.Mul64(m, m) // m*m with 124 fractional bits, in [1, 4)
		m = hi<<2 | lo>>62         // back to 62 fractional bits
		if m >= 1<<63 {            // m >= 2
			frac |= 1 << uint(i)
			m >>= 1
		}
	}
	return n<<32 | frac
}
