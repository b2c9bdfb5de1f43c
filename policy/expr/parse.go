package expr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLength is the longest source, in bytes, that [Compile] accepts.
const MaxLength = 4096

// MaxDepth is how deeply [Compile] lets expressions nest: parentheses,
// function arguments, if branches and chains of prefix operators (-, not, !)
// each add a level. Chains of binary operators such as a or b or c do not.
const MaxDepth = 100

// SyntaxError is the error [Compile] returns for a source it rejects.
type SyntaxError struct {
	// Offset is the 0-based byte offset into the source where the problem
	// is: for a bad JSONPath, the offending byte inside the path literal.
	Offset int
	// Msg describes the problem.
	Msg string
}

// Error returns "syntax error at position N: msg", where N is the 1-based
// byte position (Offset+1), the way people count columns.
func (e *SyntaxError) Error() string {
	return "syntax error at position " + strconv.Itoa(e.Offset+1) + ": " + e.Msg
}

// Expr is a compiled expression. It is immutable and safe for concurrent use.
type Expr struct {
	src  string
	root node
}

// Compile parses src. Its errors are *[SyntaxError] values. Compile never
// panics, and its work is bounded by [MaxLength] and [MaxDepth].
func Compile(src string) (*Expr, error) {
	return compile(src, false)
}

// compile is Compile, optionally without constant folding (for tests).
func compile(src string, noFold bool) (*Expr, error) {
	if len(src) > MaxLength {
		return nil, &SyntaxError{Offset: MaxLength, Msg: "expression is longer than " + strconv.Itoa(MaxLength) + " bytes"}
	}
	p := &parser{src: src, noFold: noFold}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, &SyntaxError{Offset: 0, Msg: "empty expression"}
	}
	n, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		hint := ""
		if p.tok.kind == tIdent && isKeyword(strings.ToLower(p.tok.text)) {
			hint = " (keywords are lowercase)"
		}
		return nil, p.errorf(p.tok.off, "unexpected %s after the end of the expression%s", p.describe(), hint)
	}
	return &Expr{src: src, root: n}, nil
}

// MustCompile is like [Compile] but panics if src does not compile. It is
// meant for tests, examples and expressions fixed in code.
func MustCompile(src string) *Expr {
	e, err := Compile(src)
	if err != nil {
		panic("expr: MustCompile(" + strconv.Quote(src) + "): " + err.Error())
	}
	return e
}

// String returns the source text the expression was compiled from.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tNum
	tStr
	tIdent
	tLParen
	tRParen
	tComma
	tEq  // ==
	tNe  // !=
	tLt  // <
	tLe  // <=
	tGt  // >
	tGe  // >=
	tAdd // +
	tSub // -
	tMul // *
	tDiv // /
	tMod // %
	tNot // !
	tAnd // &&
	tOr  // ||
)

// token is a lexical token: src[off:end].
type token struct {
	kind tokKind
	off  int
	end  int
	text string  // tIdent: the name; tStr: the decoded string
	num  float64 // tNum
}

// parser is a recursive-descent parser with one token of lookahead.
type parser struct {
	noFold bool // for tests: keep constant sub-expressions unevaluated
	src    string
	pos    int // where the lexer continues
	tok    token
	depth  int
}

func (p *parser) errorf(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// describe names the current token for error messages.
func (p *parser) describe() string {
	t := p.tok
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tNum:
		return "number " + p.src[t.off:t.end]
	case tStr:
		s := p.src[t.off:t.end]
		if len(s) > 40 {
			cut := 37
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			s = s[:cut] + "..."
		}
		return "string " + s
	case tIdent:
		return "'" + t.text + "'"
	}
	return "'" + p.src[t.off:t.end] + "'"
}

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isIdentByte(c byte) bool { return isIdentStart(c) || isDigit(c) }

// skipSpace returns the offset of the first non-blank byte at or after i.
func (p *parser) skipSpace(i int) int {
	return skipBlank(p.src, i)
}

// next scans the next token into p.tok.
func (p *parser) next() error {
	s := p.src
	i := p.skipSpace(p.pos)
	if i >= len(s) {
		p.tok = token{kind: tEOF, off: len(s), end: len(s)}
		p.pos = len(s)
		return nil
	}
	c := s[i]
	switch {
	case c == '\'':
		return p.lexString(i)
	case c == '"':
		return p.errorf(i, "double-quoted strings are not supported; strings use single quotes, as in 'text' (write '' for a quote inside)")
	case isDigit(c):
		return p.lexNumber(i)
	case c == '.' && i+1 < len(s) && isDigit(s[i+1]):
		return p.errorf(i, "a number starts with a digit: write 0.5, not .5")
	case isIdentStart(c):
		j := i + 1
		for j < len(s) && isIdentByte(s[j]) {
			j++
		}
		p.setTok(tIdent, i, j)
		p.tok.text = s[i:j]
		return nil
	case c == '$':
		return p.errorf(i, "a JSONPath is read with get(), as in get('$.session.metadata.tenant')")
	}
	two := ""
	if i+1 < len(s) {
		two = s[i : i+2]
	}
	switch two {
	case "==":
		p.setTok(tEq, i, i+2)
		return nil
	case "!=":
		p.setTok(tNe, i, i+2)
		return nil
	case "<=":
		p.setTok(tLe, i, i+2)
		return nil
	case ">=":
		p.setTok(tGe, i, i+2)
		return nil
	case "&&":
		p.setTok(tAnd, i, i+2)
		return nil
	case "||":
		p.setTok(tOr, i, i+2)
		return nil
	}
	var k tokKind
	switch c {
	case '(':
		k = tLParen
	case ')':
		k = tRParen
	case ',':
		k = tComma
	case '<':
		k = tLt
	case '>':
		k = tGt
	case '+':
		k = tAdd
	case '-':
		k = tSub
	case '*':
		k = tMul
	case '/':
		k = tDiv
	case '%':
		k = tMod
	case '!':
		k = tNot
	case '=':
		return p.errorf(i, "'=' is not an operator; compare with ==")
	case '&':
		return p.errorf(i, "'&' is not an operator; write && or and")
	case '|':
		return p.errorf(i, "'|' is not an operator; write || or or")
	default:
		r, _ := utf8.DecodeRuneInString(s[i:])
		return p.errorf(i, "unexpected character %s", strconv.QuoteRuneToASCII(r))
	}
	p.setTok(k, i, i+1)
	return nil
}

func (p *parser) setTok(k tokKind, off, end int) {
	p.tok = token{kind: k, off: off, end: end}
	p.pos = end
}

// lexString scans a single-quoted string whose opening quote is s[start].
func (p *parser) lexString(start int) error {
	s := p.src
	i := start + 1
	escaped := false
	for {
		j := strings.IndexByte(s[i:], '\'')
		if j < 0 {
			return p.errorf(start, "unterminated string literal (strings end with ', and '' is a quote inside one)")
		}
		i += j + 1
		if i < len(s) && s[i] == '\'' {
			escaped = true
			i++
			continue
		}
		break
	}
	p.setTok(tStr, start, i)
	lit := s[start+1 : i-1]
	if escaped {
		lit = strings.ReplaceAll(lit, "''", "'")
	}
	p.tok.text = lit
	return nil
}

// lexNumber scans digits [. digits] [e [+-] digits] starting at s[start].
func (p *parser) lexNumber(start int) error {
	s := p.src
	i := start
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return p.errorf(i, "expected a digit after the decimal point")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return p.errorf(i, "expected a digit in the exponent")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (isIdentByte(s[i]) || s[i] == '.') {
		return p.errorf(i, "unexpected %s in a number", strconv.QuoteRuneToASCII(runeAt(s, i)))
	}
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return p.errorf(start, "number out of range")
		}
		return p.errorf(start, "invalid number")
	}
	p.setTok(tNum, start, i)
	p.tok.num = f
	return nil
}

// peekLParen reports whether the next token is '('.
func (p *parser) peekLParen() bool {
	i := p.skipSpace(p.pos)
	return i < len(p.src) && p.src[i] == '('
}

// isKeyword reports whether s is one of the language's keywords.
func isKeyword(s string) bool {
	switch s {
	case "and", "or", "not", "if", "else", "true", "false", "null":
		return true
	}
	return false
}

func (p *parser) isKeyword(kw string) bool {
	return p.tok.kind == tIdent && p.tok.text == kw
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorf(p.tok.off, "expression nested too deeply (more than %d levels)", MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// parseExpr parses a full expression (the or level).
func (p *parser) parseExpr() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tOr || p.isKeyword("or") {
		if err := p.next(); err != nil {
			return nil, err
		}
		y, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		x = p.binary(opOr, x, y)
	}
	return x, nil
}

func (p *parser) parseAnd() (node, error) {
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tAnd || p.isKeyword("and") {
		if err := p.next(); err != nil {
			return nil, err
		}
		y, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		x = p.binary(opAnd, x, y)
	}
	return x, nil
}

func (p *parser) parseNot() (node, error) {
	if p.tok.kind != tNot && !p.isKeyword("not") {
		return p.parseCmp()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.next(); err != nil {
		return nil, err
	}
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	return p.unary(opNot, x), nil
}

var cmpOps = [...]opcode{tEq: opEq, tNe: opNe, tLt: opLt, tLe: opLe, tGt: opGt, tGe: opGe}

func isCmp(k tokKind) bool { return k >= tEq && k <= tGe }

func (p *parser) parseCmp() (node, error) {
	x, err := p.parseAdd()
	if err != nil {
		return nil, err
	}
	if !isCmp(p.tok.kind) {
		return x, nil
	}
	op := cmpOps[p.tok.kind]
	if err := p.next(); err != nil {
		return nil, err
	}
	y, err := p.parseAdd()
	if err != nil {
		return nil, err
	}
	if isCmp(p.tok.kind) {
		return nil, p.errorf(p.tok.off, "comparisons cannot be chained: write (a < b) and (b < c)")
	}
	return p.binary(op, x, y), nil
}

func (p *parser) parseAdd() (node, error) {
	x, err := p.parseMul()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tAdd || p.tok.kind == tSub {
		op := opAdd
		if p.tok.kind == tSub {
			op = opSub
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		y, err := p.parseMul()
		if err != nil {
			return nil, err
		}
		x = p.binary(op, x, y)
	}
	return x, nil
}

func (p *parser) parseMul() (node, error) {
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tMul || p.tok.kind == tDiv || p.tok.kind == tMod {
		op := opMul
		switch p.tok.kind {
		case tDiv:
			op = opDiv
		case tMod:
			op = opMod
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		y, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		x = p.binary(op, x, y)
	}
	return x, nil
}

func (p *parser) parseUnary() (node, error) {
	if p.tok.kind != tSub {
		return p.parsePrimary()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.next(); err != nil {
		return nil, err
	}
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return p.unary(opNeg, x), nil
}

func (p *parser) parsePrimary() (node, error) {
	t := p.tok
	switch t.kind {
	case tNum:
		return constant(Number(t.num)), p.next()
	case tStr:
		return constant(String(t.text)), p.next()
	case tLParen:
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.errorf(p.tok.off, "expected ')' to close the '(' at position %d, found %s", t.off+1, p.describe())
		}
		return x, p.next()
	case tIdent:
		switch t.text {
		case "true":
			return constant(Bool(true)), p.next()
		case "false":
			return constant(Bool(false)), p.next()
		case "null":
			return constant(Null()), p.next()
		case "if":
			return p.parseIf()
		case "not":
			return nil, p.errorf(t.off, "'not' must be parenthesised here: write (not x)")
		case "and", "or", "else":
			return nil, p.errorf(t.off, "expected a value, found '%s'", t.text)
		}
		if p.peekLParen() {
			return p.parseCall()
		}
		msg := "unknown identifier '%s': strings use single quotes, as in 'text', and values are read with get('$...')"
		if isKeyword(strings.ToLower(t.text)) {
			msg = "unknown identifier '%s': keywords are lowercase"
		}
		return nil, p.errorf(t.off, msg, t.text)
	case tEOF:
		return nil, p.errorf(t.off, "unexpected end of expression: expected a value")
	case tNot:
		return nil, p.errorf(t.off, "'!' must be parenthesised here: write (!x)")
	}
	return nil, p.errorf(t.off, "expected a value, found %s", p.describe())
}

// parseIf parses if (cond) then else otherwise; p.tok is the 'if'.
func (p *parser) parseIf() (node, error) {
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind != tLParen {
		return nil, p.errorf(p.tok.off, "expected '(' after if, found %s", p.describe())
	}
	open := p.tok.off
	if err := p.next(); err != nil {
		return nil, err
	}
	cond, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tRParen {
		return nil, p.errorf(p.tok.off, "expected ')' to close the '(' at position %d, found %s", open+1, p.describe())
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	then, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if !p.isKeyword("else") {
		return nil, p.errorf(p.tok.off, "expected 'else' (if needs both branches), found %s", p.describe())
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	otherwise, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	return p.newIf(cond, then, otherwise), nil
}

// funcs lists the functions besides get, with their arity.
var funcs = map[string]struct {
	op    opcode
	arity int
}{
	"abs":   {opAbs, 1},
	"min":   {opMin, 2},
	"max":   {opMax, 2},
	"trunc": {opTrunc, 1},
	"lower": {opLower, 1},
	"upper": {opUpper, 1},
}

const funcList = "get, abs, min, max, trunc, lower and upper"

// parseCall parses name(args); p.tok is the name and '(' follows.
func (p *parser) parseCall() (node, error) {
	name := p.tok
	if name.text == "get" {
		return p.parseGet()
	}
	fn, ok := funcs[name.text]
	if !ok {
		return nil, p.errorf(name.off, "unknown function '%s' (the functions are %s)", name.text, funcList)
	}
	if err := p.next(); err != nil { // the name
		return nil, err
	}
	args, err := p.parseArgs()
	if err != nil {
		return nil, err
	}
	if len(args) != fn.arity {
		return nil, p.errorf(name.off, "%s takes %s, got %d", name.text, plural(fn.arity, "argument"), len(args))
	}
	if fn.arity == 2 {
		return p.binary(fn.op, args[0], args[1]), nil
	}
	return p.unary(fn.op, args[0]), nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// parseArgs parses (a, b, ...) with p.tok at '('.
func (p *parser) parseArgs() ([]node, error) {
	open := p.tok.off
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.next(); err != nil { // the '('
		return nil, err
	}
	var args []node
	if p.tok.kind == tRParen {
		return args, p.next()
	}
	for {
		x, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		args = append(args, x)
		switch p.tok.kind {
		case tComma:
			if err := p.next(); err != nil {
				return nil, err
			}
			continue
		case tRParen:
			return args, p.next()
		}
		return nil, p.errorf(p.tok.off, "expected ',' or ')' to close the '(' at position %d, found %s", open+1, p.describe())
	}
}

const getHint = "get() reads a JSONPath given as a string literal, as in get('$.session.metadata.tenant')"

// parseGet parses get('path') or get('path', default); p.tok is 'get'.
func (p *parser) parseGet() (node, error) {
	name := p.tok
	if err := p.next(); err != nil { // get
		return nil, err
	}
	open := p.tok.off
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.next(); err != nil { // (
		return nil, err
	}
	switch p.tok.kind {
	case tRParen:
		return nil, p.errorf(name.off, "get takes 1 or 2 arguments, got 0")
	case tStr:
	default:
		return nil, p.errorf(p.tok.off, getHint)
	}
	lit := p.tok
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind != tComma && p.tok.kind != tRParen {
		return nil, p.errorf(lit.off, getHint+"; it cannot be computed")
	}
	jp, perr := compilePath(lit.text)
	if perr != nil {
		return nil, &SyntaxError{Offset: literalOffset(p.src, lit.off, perr.off), Msg: "invalid JSONPath: " + perr.msg}
	}
	n := &getNode{path: *jp}
	if p.tok.kind == tComma {
		if err := p.next(); err != nil {
			return nil, err
		}
		def, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		n.def = def
		switch p.tok.kind {
		case tRParen:
		case tComma:
			return nil, p.errorf(name.off, "get takes 1 or 2 arguments, got more")
		default:
			return nil, p.errorf(p.tok.off, "expected ')' to close the '(' at position %d, found %s", open+1, p.describe())
		}
	}
	return n, p.next()
}

// literalOffset maps offset off in the decoded string literal whose opening
// quote is src[start] to its offset in src (a doubled quote decodes to one).
func literalOffset(src string, start, off int) int {
	i := start + 1
	for d := 0; d < off && i < len(src); d++ {
		if src[i] == '\'' {
			i++
		}
		i++
	}
	return i
}
