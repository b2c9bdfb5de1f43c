// Package ordmap is an ordered map for in-memory indexes: O(log n) lookups,
// cheap inserts at the ends, and iteration in either direction from any key,
// so that a page of a list costs O(log n + page).
//
// It keeps the entries in sorted chunks of at most chunkSize entries. A Map
// is not safe for concurrent use, and must not be changed while an iterator
// over it is in use. A nil *Map reads as an empty map (only Set needs a map
// made by New), so owners can create maps lazily.
package ordmap

import (
	"iter"
	"sort"
)

const chunkSize = 256

// Map is an ordered map from K to V under the order cmp.
type Map[K, V any] struct {
	cmp    func(a, b K) int
	chunks []*chunk[K, V]
	n      int
}

type chunk[K, V any] struct {
	keys []K
	vals []V
}

// New returns an empty map ordered by cmp, which returns a negative number,
// zero or a positive number as a is less than, equal to or greater than b.
func New[K, V any](cmp func(a, b K) int) *Map[K, V] {
	return &Map[K, V]{cmp: cmp}
}

// Len returns the number of entries.
func (m *Map[K, V]) Len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// chunkFor returns the index of the first chunk whose last key is >= k, or
// len(m.chunks) if there is none.
func (m *Map[K, V]) chunkFor(k K) int {
	return sort.Search(len(m.chunks), func(i int) bool {
		c := m.chunks[i]
		return m.cmp(c.keys[len(c.keys)-1], k) >= 0
	})
}

// find returns the chunk and position of the first key >= k.
func (m *Map[K, V]) find(k K) (ci, i int) {
	if m == nil {
		return 0, 0
	}
	ci = m.chunkFor(k)
	if ci == len(m.chunks) {
		return ci, 0
	}
	c := m.chunks[ci]
	i = sort.Search(len(c.keys), func(j int) bool { return m.cmp(c.keys[j], k) >= 0 })
	return ci, i
}

// Get returns the value stored under k.
func (m *Map[K, V]) Get(k K) (V, bool) {
	if m == nil {
		var zero V
		return zero, false
	}
	ci, i := m.find(k)
	if ci < len(m.chunks) {
		c := m.chunks[ci]
		if i < len(c.keys) && m.cmp(c.keys[i], k) == 0 {
			return c.vals[i], true
		}
	}
	var zero V
	return zero, false
}

// Set stores v under k, replacing any value stored there.
func (m *Map[K, V]) Set(k K, v V) {
	if len(m.chunks) == 0 {
		m.chunks = []*chunk[K, V]{{keys: []K{k}, vals: []V{v}}}
		m.n = 1
		return
	}
	ci, i := m.find(k)
	if ci == len(m.chunks) {
		// Greater than every key: append to the last chunk.
		ci = len(m.chunks) - 1
		i = len(m.chunks[ci].keys)
	}
	c := m.chunks[ci]
	if i < len(c.keys) && m.cmp(c.keys[i], k) == 0 {
		c.vals[i] = v
		return
	}
	c.keys = insert(c.keys, i, k)
	c.vals = insert(c.vals, i, v)
	m.n++
	if len(c.keys) > chunkSize {
		m.split(ci)
	}
}

func (m *Map[K, V]) split(ci int) {
	c := m.chunks[ci]
	half := len(c.keys) / 2
	if ci == len(m.chunks)-1 && m.cmp(c.keys[len(c.keys)-1], c.keys[len(c.keys)-2]) > 0 {
		// Appends are the common case (sequence numbers): keep the full
		// chunk full and start a nearly empty one.
		half = len(c.keys) - 1
	}
	right := &chunk[K, V]{
		keys: append(make([]K, 0, chunkSize+1), c.keys[half:]...),
		vals: append(make([]V, 0, chunkSize+1), c.vals[half:]...),
	}
	clear(c.keys[half:])
	clear(c.vals[half:])
	c.keys, c.vals = c.keys[:half], c.vals[:half]
	m.chunks = insert(m.chunks, ci+1, right)
}

// Delete removes k and returns the value it had.
func (m *Map[K, V]) Delete(k K) (V, bool) {
	var zero V
	if m == nil {
		return zero, false
	}
	ci, i := m.find(k)
	if ci == len(m.chunks) {
		return zero, false
	}
	c := m.chunks[ci]
	if i >= len(c.keys) || m.cmp(c.keys[i], k) != 0 {
		return zero, false
	}
	v := c.vals[i]
	c.keys = remove(c.keys, i)
	c.vals = remove(c.vals, i)
	m.n--
	if len(c.keys) == 0 {
		m.chunks = remove(m.chunks, ci)
	}
	return v, true
}

// Ascend iterates over all entries in ascending order.
func (m *Map[K, V]) Ascend() iter.Seq2[K, V] {
	if m == nil {
		return func(func(K, V) bool) {}
	}
	return m.ascendAt(0, 0)
}

// AscendFrom iterates in ascending order over the entries whose key is >= k,
// or > k when strict is true.
func (m *Map[K, V]) AscendFrom(k K, strict bool) iter.Seq2[K, V] {
	if m == nil {
		return func(func(K, V) bool) {}
	}
	ci, i := m.find(k)
	if strict && ci < len(m.chunks) {
		c := m.chunks[ci]
		if i < len(c.keys) && m.cmp(c.keys[i], k) == 0 {
			i++
		}
	}
	return m.ascendAt(ci, i)
}

func (m *Map[K, V]) ascendAt(ci, i int) iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for ; ci < len(m.chunks); ci, i = ci+1, 0 {
			c := m.chunks[ci]
			for ; i < len(c.keys); i++ {
				if !yield(c.keys[i], c.vals[i]) {
					return
				}
			}
		}
	}
}

// Descend iterates over all entries in descending order.
func (m *Map[K, V]) Descend() iter.Seq2[K, V] {
	if m == nil || len(m.chunks) == 0 {
		return func(func(K, V) bool) {}
	}
	last := len(m.chunks) - 1
	return m.descendAt(last, len(m.chunks[last].keys)-1)
}

// DescendFrom iterates in descending order over the entries whose key is
// <= k, or < k when strict is true.
func (m *Map[K, V]) DescendFrom(k K, strict bool) iter.Seq2[K, V] {
	if m == nil {
		return func(func(K, V) bool) {}
	}
	ci, i := m.find(k) // first key >= k
	if ci < len(m.chunks) {
		c := m.chunks[ci]
		if !strict && i < len(c.keys) && m.cmp(c.keys[i], k) == 0 {
			return m.descendAt(ci, i)
		}
	}
	// Step back to the last key < k.
	i--
	if ci == len(m.chunks) || i < 0 {
		ci--
		if ci < 0 {
			return func(func(K, V) bool) {}
		}
		i = len(m.chunks[ci].keys) - 1
	}
	return m.descendAt(ci, i)
}

func (m *Map[K, V]) descendAt(ci, i int) iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for ci >= 0 {
			c := m.chunks[ci]
			for ; i >= 0; i-- {
				if !yield(c.keys[i], c.vals[i]) {
					return
				}
			}
			ci--
			if ci >= 0 {
				i = len(m.chunks[ci].keys) - 1
			}
		}
	}
}

func insert[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func remove[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}
