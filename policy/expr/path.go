package expr

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Input is the routing context that expressions read, the contract's
//
//	{"agent": {...}, "session": {...}, "currentDate": "..."}
//
// An expression only reads it; one Input may be shared by concurrent
// evaluations.
type Input struct {
	// Agent is the ALIAS's own key, name, description and metadata, read as
	// $.agent.*: when rules run, no agent has been chosen yet.
	Agent Object
	// Session is the session being created, read as $.session.*.
	Session Object
	// CurrentDate is the time of the request, RFC 3339 in UTC, such as
	// "2026-01-15T10:35:00Z", read as $.currentDate.
	CurrentDate string
}

// Object is the agent (alias) or session part of an [Input].
type Object struct {
	// Key, Name and Description are read as $.agent.key and so on. An empty
	// string is a value (''), not null.
	Key, Name, Description string
	// Metadata holds JSON values as encoding/json decodes them: nil, bool,
	// float64, string, []any and map[string]any (json.Number and Go's
	// integer types are read as numbers too; other types are null). A nil
	// map reads as an empty object. Expressions never modify it.
	Metadata map[string]any
}

// emptyInput is what Eval reads when given a nil *Input.
var emptyInput Input

// pathRoot is the first member of a JSONPath.
type pathRoot uint8

const (
	rootAll     pathRoot = iota // $
	rootAgent                   // $.agent
	rootSession                 // $.session
	rootDate                    // $.currentDate
)

// pathField is the member of the agent or session a JSONPath reads.
type pathField uint8

const (
	fieldAll  pathField = iota // the whole object
	fieldKey                   // .key
	fieldName                  // .name
	fieldDesc                  // .description
	fieldMeta                  // .metadata, then steps into it
)

// step is one member name or array index inside metadata.
type step struct {
	name    string
	index   int
	isIndex bool
}

// jpath is a JSONPath compiled into lookups.
type jpath struct {
	root  pathRoot
	field pathField
	steps []step
}

// eval reads the path from in. It never allocates.
func (p *jpath) eval(in *Input) Value {
	var obj *Object
	switch p.root {
	case rootAll:
		return Value{kind: KindObject, ref: in}
	case rootDate:
		return stringField(&in.CurrentDate)
	case rootAgent:
		obj = &in.Agent
	default:
		obj = &in.Session
	}
	switch p.field {
	case fieldAll:
		return Value{kind: KindObject, ref: obj}
	case fieldKey:
		return stringField(&obj.Key)
	case fieldName:
		return stringField(&obj.Name)
	case fieldDesc:
		return stringField(&obj.Description)
	}
	var cur any = obj.Metadata
	for i := range p.steps {
		s := &p.steps[i]
		if s.isIndex {
			a, ok := cur.([]any)
			if !ok {
				return Value{}
			}
			idx := s.index
			if idx < 0 {
				idx += len(a)
			}
			if idx < 0 || idx >= len(a) {
				return Value{}
			}
			cur = a[idx]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return Value{}
		}
		if cur, ok = m[s.name]; !ok {
			return Value{}
		}
	}
	return fromAny(cur)
}

// pathSeg is a parsed JSONPath segment; off is its byte offset in the path.
type pathSeg struct {
	step
	off int
}

// pathError is an error at byte offset off of a JSONPath.
type pathError struct {
	off int
	msg string
}

// compilePath parses a JSONPath and resolves it against the shape of the
// routing context.
func compilePath(p string) (*jpath, *pathError) {
	segs, err := splitPath(p)
	if err != nil {
		return nil, err
	}
	return resolvePath(segs)
}

const maxPathIndex = 1<<53 - 1

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipBlank(p string, i int) int {
	for i < len(p) && isBlank(p[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isNameByte reports whether c may appear in a dot-notation member name:
// ASCII letters and digits, '_', '-', and any non-ASCII byte.
func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_' || c == '-' || c >= utf8.RuneSelf
}

const singleValueHint = ": get() reads a single value"

// splitPath parses the JSONPath syntax: '$' followed by segments.
func splitPath(p string) ([]pathSeg, *pathError) {
	if p == "" {
		return nil, &pathError{0, "empty JSONPath; it starts with '$', as in '$.session.metadata.tenant'"}
	}
	if p[0] != '$' {
		return nil, &pathError{0, "a JSONPath starts with '$', as in '$.session.metadata.tenant'"}
	}
	var segs []pathSeg
	i := 1
	for i < len(p) {
		j := skipBlank(p, i)
		if j == len(p) {
			return nil, &pathError{i, "unexpected blank space at the end of the JSONPath"}
		}
		i = j
		switch p[i] {
		case '.':
			if i+1 < len(p) && p[i+1] == '.' {
				return nil, &pathError{i, "recursive descent '..' is not supported" + singleValueHint}
			}
			if i+1 < len(p) && p[i+1] == '*' {
				return nil, &pathError{i + 1, "wildcard '*' is not supported" + singleValueHint}
			}
			k := i + 1
			for k < len(p) && isNameByte(p[k]) {
				k++
			}
			if k == i+1 {
				return nil, &pathError{k, "expected a member name after '.' (write ['...'] for a name with other characters)"}
			}
			segs = append(segs, pathSeg{step: step{name: p[i+1 : k]}, off: i + 1})
			i = k
		case '[':
			seg, end, err := parseBracket(p, i)
			if err != nil {
				return nil, err
			}
			segs = append(segs, seg)
			i = end
		default:
			return nil, &pathError{i, "expected '.' or '[' in the JSONPath, found " + strconv.QuoteRuneToASCII(runeAt(p, i))}
		}
	}
	return segs, nil
}

func runeAt(s string, i int) rune {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

// parseBracket parses a bracketed selector starting at p[open] == '['.
func parseBracket(p string, open int) (pathSeg, int, *pathError) {
	k := skipBlank(p, open+1)
	if k >= len(p) {
		return pathSeg{}, 0, &pathError{open, "unterminated '[' in the JSONPath"}
	}
	seg := pathSeg{off: k}
	switch c := p[k]; {
	case c == '\'' || c == '"':
		name, end, err := parseQuotedName(p, k)
		if err != nil {
			return pathSeg{}, 0, err
		}
		seg.name = name
		k = end
	case c == '-' || isDigit(c):
		start := k
		if c == '-' {
			k++
		}
		digits := k
		for k < len(p) && isDigit(p[k]) {
			k++
		}
		switch {
		case k == digits:
			return pathSeg{}, 0, &pathError{start, "expected digits in the array index"}
		case p[digits] == '0' && k-digits > 1:
			return pathSeg{}, 0, &pathError{start, "an array index has no leading zeros"}
		case p[digits] == '0' && c == '-':
			return pathSeg{}, 0, &pathError{start, "-0 is not an array index"}
		}
		n, err := strconv.ParseInt(p[start:k], 10, 64)
		if err != nil || n > maxPathIndex || n < -maxPathIndex {
			return pathSeg{}, 0, &pathError{start, "array index out of range"}
		}
		seg.index, seg.isIndex = int(n), true
	case c == '*':
		return pathSeg{}, 0, &pathError{k, "wildcard '*' is not supported" + singleValueHint}
	case c == '?':
		return pathSeg{}, 0, &pathError{k, "filter expressions are not supported" + singleValueHint}
	case c == ':':
		return pathSeg{}, 0, &pathError{k, "array slices are not supported" + singleValueHint}
	default:
		return pathSeg{}, 0, &pathError{k, "expected a quoted name or an array index after '['"}
	}
	k = skipBlank(p, k)
	if k >= len(p) {
		return pathSeg{}, 0, &pathError{open, "unterminated '[' in the JSONPath"}
	}
	switch p[k] {
	case ']':
		return seg, k + 1, nil
	case ',':
		return pathSeg{}, 0, &pathError{k, "unions [a,b] are not supported" + singleValueHint}
	case ':':
		return pathSeg{}, 0, &pathError{k, "array slices are not supported" + singleValueHint}
	}
	return pathSeg{}, 0, &pathError{k, "expected ']' in the JSONPath"}
}

// parseQuotedName parses a quoted member name starting at p[start], a single
// or double quote, with JSON-style backslash escapes. It returns the name and
// the offset just past the closing quote.
func parseQuotedName(p string, start int) (string, int, *pathError) {
	q := p[start]
	i := start + 1
	// Fast path: no escapes.
	for i < len(p) && p[i] != q && p[i] != '\\' {
		i++
	}
	if i < len(p) && p[i] == q {
		return p[start+1 : i], i + 1, nil
	}
	var b strings.Builder
	b.WriteString(p[start+1 : i])
	for i < len(p) {
		c := p[i]
		if c == q {
			return b.String(), i + 1, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(p) {
			break
		}
		switch e := p[i+1]; e {
		case '\\', '/', '\'', '"':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n := parseUnicodeEscape(p, i)
			if n == 0 {
				return "", 0, &pathError{i, `invalid \u escape in the JSONPath (want \uXXXX, surrogates in pairs)`}
			}
			b.WriteRune(r)
			i += n
			continue
		default:
			return "", 0, &pathError{i, "invalid escape " + strconv.Quote(p[i:i+2]) + " in the JSONPath"}
		}
		i += 2
	}
	return "", 0, &pathError{start, "unterminated quoted name in the JSONPath"}
}

// parseUnicodeEscape parses \uXXXX (or a surrogate pair \uXXXX\uXXXX) at
// p[i] == '\\'. It returns the rune and the length consumed, or 0 when the
// escape is invalid.
func parseUnicodeEscape(p string, i int) (rune, int) {
	r1, ok := hex4(p, i)
	if !ok {
		return 0, 0
	}
	if !utf16.IsSurrogate(r1) {
		return r1, 6
	}
	if r1 >= 0xDC00 {
		return 0, 0 // a low surrogate first
	}
	r2, ok := hex4(p, i+6)
	if !ok {
		return 0, 0
	}
	r := utf16.DecodeRune(r1, r2)
	if r == utf8.RuneError {
		return 0, 0
	}
	return r, 12
}

// hex4 parses \uXXXX at p[i].
func hex4(p string, i int) (rune, bool) {
	if i+6 > len(p) || p[i] != '\\' || p[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range []byte(p[i+2 : i+6]) {
		var d byte
		switch {
		case isDigit(c):
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// resolvePath checks segments against the shape of the routing context.
func resolvePath(segs []pathSeg) (*jpath, *pathError) {
	jp := &jpath{}
	if len(segs) == 0 {
		return jp, nil
	}
	s := segs[0]
	if s.isIndex {
		return nil, &pathError{s.off, "the routing context is an object and cannot be indexed; start with $.agent, $.session or $.currentDate"}
	}
	var rootName string
	switch s.name {
	case "agent":
		jp.root, rootName = rootAgent, "agent"
	case "session":
		jp.root, rootName = rootSession, "session"
	case "currentDate":
		if len(segs) > 1 {
			return nil, &pathError{segs[1].off, "currentDate is a string and has no members"}
		}
		jp.root = rootDate
		return jp, nil
	default:
		return nil, &pathError{s.off, "unknown root " + strconv.Quote(s.name) + ": want agent, session or currentDate"}
	}
	if len(segs) == 1 {
		return jp, nil
	}
	s = segs[1]
	if s.isIndex {
		return nil, &pathError{s.off, rootName + " is an object and cannot be indexed; want key, name, description or metadata"}
	}
	switch s.name {
	case "key":
		jp.field = fieldKey
	case "name":
		jp.field = fieldName
	case "description":
		jp.field = fieldDesc
	case "metadata":
		jp.field = fieldMeta
	default:
		return nil, &pathError{s.off, "unknown member " + strconv.Quote(s.name) + " of " + rootName + ": want key, name, description or metadata"}
	}
	if jp.field != fieldMeta {
		if len(segs) > 2 {
			return nil, &pathError{segs[2].off, rootName + "." + s.name + " is a string and has no members"}
		}
		return jp, nil
	}
	if len(segs) > 2 {
		jp.steps = make([]step, len(segs)-2)
		for i, s := range segs[2:] {
			jp.steps[i] = s.step
		}
	}
	return jp, nil
}
