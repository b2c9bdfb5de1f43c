package ordmap

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMap_Random compares Map with a sorted slice under random operations,
// checking lookups and iteration from random keys in both directions.
func TestMap_Random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := New[int, int](cmp.Compare[int])
	model := map[int]int{}
	sortedKeys := func() []int {
		ks := make([]int, 0, len(model))
		for k := range model {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	for step := 0; step < 20000; step++ {
		k := r.IntN(3000)
		switch op := r.IntN(10); {
		case op < 6:
			m.Set(k, step)
			model[k] = step
		case op < 9:
			v, ok := m.Delete(k)
			mv, mok := model[k]
			if ok != mok || v != mv {
				t.Fatalf("step %d: Delete(%d) = %d, %v; want %d, %v", step, k, v, ok, mv, mok)
			}
			delete(model, k)
		default:
			v, ok := m.Get(k)
			mv, mok := model[k]
			if ok != mok || v != mv {
				t.Fatalf("step %d: Get(%d) = %d, %v; want %d, %v", step, k, v, ok, mv, mok)
			}
		}
		if m.Len() != len(model) {
			t.Fatalf("step %d: Len = %d, want %d", step, m.Len(), len(model))
		}
		if step%500 != 0 {
			continue
		}
		ks := sortedKeys()
		from := r.IntN(3100) - 50
		for _, strict := range []bool{false, true} {
			var want []int
			for _, k := range ks {
				if k > from || (!strict && k == from) {
					want = append(want, k)
				}
			}
			var got []int
			for k := range m.AscendFrom(from, strict) {
				got = append(got, k)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: AscendFrom(%d, %v) = %v, want %v", step, from, strict, got, want)
			}
			want = want[:0]
			for i := len(ks) - 1; i >= 0; i-- {
				if ks[i] < from || (!strict && ks[i] == from) {
					want = append(want, ks[i])
				}
			}
			got = got[:0]
			for k := range m.DescendFrom(from, strict) {
				got = append(got, k)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: DescendFrom(%d, %v) = %v, want %v", step, from, strict, got, want)
			}
		}
		var all []int
		for k := range m.Ascend() {
			all = append(all, k)
		}
		if !slices.Equal(all, ks) {
			t.Fatalf("step %d: Ascend = %v, want %v", step, all, ks)
		}
		all = all[:0]
		for k := range m.Descend() {
			all = append(all, k)
		}
		slices.Reverse(ks)
		if !slices.Equal(all, ks) {
			t.Fatalf("step %d: Descend mismatch", step)
		}
	}
}

// TestMap_EarlyStop checks that iteration stops when the loop breaks.
func TestMap_EarlyStop(t *testing.T) {
	m := New[int, string](cmp.Compare[int])
	for i := range 1000 {
		m.Set(i, "v")
	}
	n := 0
	for k := range m.AscendFrom(10, true) {
		if k != 11+n {
			t.Fatalf("got key %d, want %d", k, 11+n)
		}
		n++
		if n == 5 {
			break
		}
	}
	if n != 5 {
		t.Fatalf("iterated %d entries, want 5", n)
	}
}

// TestMap_Empty checks iteration over an empty map.
func TestMap_Empty(t *testing.T) {
	m := New[int, int](cmp.Compare[int])
	for range m.Ascend() {
		t.Fatal("Ascend yielded on an empty map")
	}
	for range m.Descend() {
		t.Fatal("Descend yielded on an empty map")
	}
	for range m.DescendFrom(5, false) {
		t.Fatal("DescendFrom yielded on an empty map")
	}
	if _, ok := m.Delete(1); ok {
		t.Fatal("Delete found a key in an empty map")
	}
}

func BenchmarkMap_Append(b *testing.B) {
	m := New[uint64, int](cmp.Compare[uint64])
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.Set(uint64(i), i)
	}
}
