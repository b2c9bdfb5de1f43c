package expr

import (
	"math"
	"strings"
)

// node is a node of the compiled tree. Each kind of node is its own type
// with a small eval method: small stack frames keep evaluation fast.
type node interface {
	eval(in *Input) Value
}

// opcode names an operation while the tree is built.
type opcode uint8

const (
	opOr opcode = iota
	opAnd
	opNot
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opNeg
	opAbs
	opTrunc
	opMin
	opMax
	opLower
	opUpper
)

// constant returns a node for the value v.
func constant(v Value) node { return &constNode{v} }

// unary builds op a, evaluated at once when a is a constant.
func (p *parser) unary(op opcode, a node) node {
	var n node
	switch op {
	case opNot:
		n = &notNode{a}
	case opNeg, opAbs, opTrunc:
		n = &numFuncNode{op, a}
	case opLower:
		n = &caseNode{false, a}
	case opUpper:
		n = &caseNode{true, a}
	default:
		panic("expr: bad unary opcode")
	}
	return p.fold(n, a)
}

// binary builds a op b, evaluated at once when a and b are constants.
func (p *parser) binary(op opcode, a, b node) node {
	var n node
	switch op {
	case opOr:
		n = &orNode{a, b}
	case opAnd:
		n = &andNode{a, b}
	case opEq:
		if c, ok := b.(*constNode); ok && c.v.kind == KindString {
			n = &eqStringNode{a, c.v.text()}
		} else if c, ok := a.(*constNode); ok && c.v.kind == KindString {
			n = &eqStringNode{b, c.v.text()}
		} else {
			n = &eqNode{a, b}
		}
	case opNe:
		n = &neNode{a, b}
	case opLt, opLe, opGt, opGe:
		n = &orderNode{op, a, b}
	case opAdd:
		n = &addNode{a, b}
	case opSub, opMul, opDiv, opMod:
		n = &arithNode{op, a, b}
	case opMin:
		n = &minMaxNode{false, a, b}
	case opMax:
		n = &minMaxNode{true, a, b}
	default:
		panic("expr: bad binary opcode")
	}
	return p.fold(n, a, b)
}

// newIf builds if (cond) then else otherwise.
func (p *parser) newIf(cond, then, otherwise node) node {
	return p.fold(&ifNode{cond, then, otherwise}, cond, then, otherwise)
}

// fold replaces n by its value when all its operands are constants. Every
// operation but get is pure, so this changes no result.
func (p *parser) fold(n node, operands ...node) node {
	if p.noFold {
		return n
	}
	for _, o := range operands {
		if _, ok := o.(*constNode); !ok {
			return n
		}
	}
	return constant(n.eval(&emptyInput))
}

// Eval evaluates the expression against in (a nil in reads as an empty
// Input). It never panics and never fails: operations on values of the wrong
// kinds give null, as the package documentation describes. It does not
// allocate, except to build the result of lower, upper and string +.
func (e *Expr) Eval(in *Input) Value {
	if e == nil {
		return Value{}
	}
	if in == nil {
		in = &emptyInput
	}
	return e.root.eval(in)
}

// Matches reports whether the expression evaluates to the boolean true, the
// test a rule's match expression must pass.
func (e *Expr) Matches(in *Input) bool {
	return e.Eval(in).isTrue()
}

type constNode struct{ v Value }

func (n *constNode) eval(*Input) Value { return n.v }

// getNode is get(path) or, with def set, get(path, def).
type getNode struct {
	path jpath
	def  node // nil without a default
}

func (n *getNode) eval(in *Input) Value {
	v := n.path.eval(in)
	if v.kind == KindNull && n.def != nil {
		return n.def.eval(in)
	}
	return v
}

type ifNode struct{ cond, then, otherwise node }

func (n *ifNode) eval(in *Input) Value {
	if n.cond.eval(in).isTrue() {
		return n.then.eval(in)
	}
	return n.otherwise.eval(in)
}

type orNode struct{ a, b node }

func (n *orNode) eval(in *Input) Value {
	if n.a.eval(in).isTrue() {
		return Bool(true)
	}
	return Bool(n.b.eval(in).isTrue())
}

type andNode struct{ a, b node }

func (n *andNode) eval(in *Input) Value {
	if !n.a.eval(in).isTrue() {
		return Bool(false)
	}
	return Bool(n.b.eval(in).isTrue())
}

type notNode struct{ a node }

func (n *notNode) eval(in *Input) Value {
	v := n.a.eval(in)
	if v.kind != KindBool {
		return Value{}
	}
	return Bool(v.num == 0)
}

type eqNode struct{ a, b node }

func (n *eqNode) eval(in *Input) Value {
	return Bool(equal(n.a.eval(in), n.b.eval(in)))
}

// eqStringNode is a == 'literal', the commonest match.
type eqStringNode struct {
	a node
	s string
}

func (n *eqStringNode) eval(in *Input) Value {
	v := n.a.eval(in)
	return Bool(v.kind == KindString && v.text() == n.s)
}

type neNode struct{ a, b node }

func (n *neNode) eval(in *Input) Value {
	x, y := n.a.eval(in), n.b.eval(in)
	if x.kind == KindNull || y.kind == KindNull {
		return Bool(false)
	}
	return Bool(!equal(x, y))
}

type orderNode struct {
	op   opcode
	a, b node
}

func (n *orderNode) eval(in *Input) Value {
	c, ok := order(n.a.eval(in), n.b.eval(in))
	if !ok {
		return Bool(false)
	}
	switch n.op {
	case opLt:
		return Bool(c < 0)
	case opLe:
		return Bool(c <= 0)
	case opGt:
		return Bool(c > 0)
	}
	return Bool(c >= 0)
}

type addNode struct{ a, b node }

func (n *addNode) eval(in *Input) Value {
	x, y := n.a.eval(in), n.b.eval(in)
	if x.kind == KindNumber && y.kind == KindNumber {
		return Number(x.num + y.num)
	}
	if x.kind == KindString && y.kind == KindString {
		return concat(x, y)
	}
	return Value{}
}

// maxConcat is the longest string + builds: longer results are null. It
// keeps an expression that doubles a string again and again from taking
// time and memory quadratic in its length.
const maxConcat = 1 << 16

// concat joins two strings, without allocating when either is empty.
func concat(x, y Value) Value {
	xs, ys := x.text(), y.text()
	switch {
	case xs == "":
		return y
	case ys == "":
		return x
	case len(xs)+len(ys) > maxConcat:
		return Value{}
	}
	return String(xs + ys)
}

// arithNode is -, *, / or %.
type arithNode struct {
	op   opcode
	a, b node
}

func (n *arithNode) eval(in *Input) Value {
	x, y := n.a.eval(in), n.b.eval(in)
	if x.kind != KindNumber || y.kind != KindNumber {
		return Value{}
	}
	switch n.op {
	case opSub:
		return Number(x.num - y.num)
	case opMul:
		return Number(x.num * y.num)
	}
	if y.num == 0 {
		return Value{}
	}
	if n.op == opDiv {
		return Number(x.num / y.num)
	}
	return Number(math.Mod(x.num, y.num))
}

// numFuncNode is -x, abs(x) or trunc(x).
type numFuncNode struct {
	op opcode
	a  node
}

func (n *numFuncNode) eval(in *Input) Value {
	x := n.a.eval(in)
	if x.kind != KindNumber {
		return Value{}
	}
	switch n.op {
	case opNeg:
		return Number(-x.num)
	case opAbs:
		return Number(math.Abs(x.num))
	}
	return Number(math.Trunc(x.num))
}

type minMaxNode struct {
	max  bool
	a, b node
}

func (n *minMaxNode) eval(in *Input) Value {
	x, y := n.a.eval(in), n.b.eval(in)
	if x.kind != KindNumber || y.kind != KindNumber {
		return Value{}
	}
	if n.max {
		return Number(math.Max(x.num, y.num))
	}
	return Number(math.Min(x.num, y.num))
}

// caseNode is lower(s) or upper(s).
type caseNode struct {
	upper bool
	a     node
}

func (n *caseNode) eval(in *Input) Value {
	x := n.a.eval(in)
	if x.kind != KindString {
		return Value{}
	}
	s := x.text()
	var t string
	if n.upper {
		t = strings.ToUpper(s)
	} else {
		t = strings.ToLower(s)
	}
	if t == s {
		return x // unchanged: no allocation
	}
	return String(t)
}

// equal implements ==: values of the same kind compare equal by value;
// null, arrays and objects are equal to nothing.
func equal(x, y Value) bool {
	if x.kind != y.kind {
		return false
	}
	switch x.kind {
	case KindBool, KindNumber:
		return x.num == y.num
	case KindString:
		return x.text() == y.text()
	}
	return false
}

// order compares two numbers or two strings; ok is false for other kinds.
func order(x, y Value) (c int, ok bool) {
	if x.kind != y.kind {
		return 0, false
	}
	switch x.kind {
	case KindNumber:
		switch {
		case x.num < y.num:
			return -1, true
		case x.num > y.num:
			return 1, true
		}
		return 0, true
	case KindString:
		return strings.Compare(x.text(), y.text()), true
	}
	return 0, false
}
