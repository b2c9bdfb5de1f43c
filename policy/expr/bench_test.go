package expr

import "testing"

// benchExprs are the common shapes whose evaluation must not allocate.
var benchExprs = []struct{ name, src string }{
	{"Eq", "get('$.session.metadata.tenant') == 'acme'"},
	{"AndOr", "(get('$.session.metadata.tier', 'free') != 'free') and (get('$.agent.metadata.region') == 'us')"},
	{"Partition", "get('$.session.metadata.user_id', '')"},
	{"Arith", "get('$.session.metadata.n') * 2 + 1 > 10"},
	{"SessionKey", "get('$.session.key')"},
	{"Date", "get('$.currentDate') >= '2026-01-01'"},
}

func BenchmarkEval_Eq(b *testing.B)         { benchEval(b, 0) }
func BenchmarkEval_AndOr(b *testing.B)      { benchEval(b, 1) }
func BenchmarkEval_Partition(b *testing.B)  { benchEval(b, 2) }
func BenchmarkEval_Arith(b *testing.B)      { benchEval(b, 3) }
func BenchmarkEval_SessionKey(b *testing.B) { benchEval(b, 4) }
func BenchmarkEval_Date(b *testing.B)       { benchEval(b, 5) }

func benchEval(b *testing.B, i int) {
	e := MustCompile(benchExprs[i].src)
	in := testInput()
	b.ReportAllocs()
	for b.Loop() {
		e.Eval(in)
	}
}

// BenchmarkEval_PartitionText measures a partition value and its string,
// the work a weighted target does before hashing.
func BenchmarkEval_PartitionText(b *testing.B) {
	e := MustCompile("get('$.session.metadata.n', 0) * 1000 + 1")
	in := testInput()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.Eval(in).AppendText(buf[:0])
	}
}

func BenchmarkCompile(b *testing.B) {
	src := benchExprs[1].src
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(src); err != nil {
			b.Fatal(err)
		}
	}
}
