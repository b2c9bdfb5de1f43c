// Package expr implements the subset of Vectara's UserFn expression language
// that alias routing uses: a rule's match (a boolean), a weighted target's
// partition_by (any value, turned into a string and hashed) and a sticky-key
// expression.
//
// An expression is compiled once, when a policy is set, and evaluated on
// every session creation against the routing context, an [Input]:
//
//	{"agent":   {"key": ..., "name": ..., "description": ..., "metadata": {...}},
//	 "session": {"key": ..., "name": ..., "description": ..., "metadata": {...}},
//	 "currentDate": "2026-01-15T10:35:00Z"}
//
// where agent is the ALIAS (no agent has been chosen when rules run) and
// session is the session being created.
//
//	e, err := expr.Compile("get('$.session.metadata.tier', 'free') != 'free'")
//	...
//	if e.Matches(&in) { ... }
//
// [Compile] rejects a bad source with a *[SyntaxError] that gives the byte
// offset of the problem. [Expr.Eval] never fails: operations on values of
// the wrong kind give null. Evaluation allocates nothing except the results
// of lower, upper and string concatenation.
//
// # Grammar
//
// In EBNF, lowest precedence first:
//
//	expr    = and { ("or" | "||") and } .
//	and     = not { ("and" | "&&") not } .
//	not     = ("not" | "!") not | cmp .
//	cmp     = add [ ("==" | "!=" | "<" | "<=" | ">" | ">=") add ] .
//	add     = mul { ("+" | "-") mul } .
//	mul     = unary { ("*" | "/" | "%") unary } .
//	unary   = "-" unary | primary .
//	primary = number | string | "true" | "false" | "null"
//	        | "(" expr ")"
//	        | "if" "(" expr ")" expr "else" expr
//	        | "get" "(" string [ "," expr ] ")"
//	        | func "(" [ expr { "," expr } ] ")" .
//	func    = "abs" | "min" | "max" | "trunc" | "lower" | "upper" .
//	number  = digits [ "." digits ] [ ("e" | "E") [ "+" | "-" ] digits ] .
//	string  = "'" { any byte but "'" | "''" } "'" .
//
// Binary operators of one level associate to the left. Comparisons do not
// associate: a < b < c is an error; write (a < b) and (b < c). Like Python's
// not, "not" and "!" bind looser than comparisons: not a == b means
// not (a == b); a == not b is an error (write a == (not b)).
//
// "if" is a primary, so it may appear wherever a value can, and both branches
// are required. Its branches are full expressions, so the else branch extends
// as far to the right as it can: if (c) 1 else 2 + 3 is
// if (c) 1 else (2 + 3). Parenthesise the whole if to end it earlier.
//
// Blank space (space, tab, CR, LF) separates tokens. Keywords (and or not if
// else true false null) and function names are lowercase and case-sensitive.
// Numbers are decimal, with a digit on both sides of any decimal point (0.5,
// not .5 or 5.), and must be finite doubles. Strings are single-quoted and
// may hold any bytes; two single quotes stand for one quote inside a string.
// Double quotes do not make strings. There are no variables, statements or
// comments.
//
//	'Vectara''s'   the string Vectara's
//	''             the empty string
//
// Functions take the number of arguments shown:
//
//	get(path), get(path, default)  read the routing context
//	abs(x), trunc(x)               absolute value, rounding toward zero
//	min(a, b), max(a, b)           smaller and larger of two numbers
//	lower(s), upper(s)             Unicode lower and upper case (as
//	                               strings.ToLower and ToUpper; each
//	                               byte of invalid UTF-8 becomes U+FFFD)
//
// The path of get must be a string literal holding a JSONPath that reads one
// value (RFC 9535's "singular query", with two extensions):
//
//	path    = "$" { [ blank ] segment } .
//	segment = "." name | "[" [ blank ] ( quoted | index ) [ blank ] "]" .
//
// A dot name is one or more ASCII letters, digits, '_' or '-', or non-ASCII
// bytes (RFC 9535 allows neither '-' nor a leading digit; metadata keys such
// as "user-id" need them). A quoted name uses single or double quotes and
// JSON escapes (\\ \' \" \/ \b \f \n \r \t \uXXXX). Inside the expression's
// own single-quoted literal a single quote is doubled, so double quotes read
// better; these two are the same path:
//
//	get('$.session.metadata["user id"]')
//	get('$.session.metadata[''user id'']')
//
// An index is an integer without leading zeros; a negative index counts from
// the end of the array. Wildcards, '..', slices, unions and filters are
// rejected.
//
// The path is checked against the shape of the routing context when the
// expression compiles: its first name must be agent, session or currentDate;
// under agent and session come key, name, description or metadata; key, name,
// description and currentDate are strings with nothing under them; anything
// may follow metadata. $ alone, $.agent and $.session read whole objects.
//
// # Semantics
//
// Values are null, bools, numbers (float64, always finite), strings, and the
// arrays and objects found in metadata or made of the agent, the session or
// the whole context. Metadata values are JSON values as encoding/json decodes
// them; json.Number and Go integer types also read as numbers, and anything
// else reads as null.
//
// get(path) returns the value at path, or null when the path leads nowhere (a
// missing member, an index out of range, a name applied to something that is
// not an object or an index to something that is not an array). get(path, default) returns default instead of null; the
// default is evaluated only when it is needed, and also replaces a JSON null.
// Empty strings are values, not null: an empty description reads as the
// empty string.
//
// Only the boolean true counts as true. Conditions (the operands of and and
// or, the condition of if, and [Expr.Matches]) treat every other value,
// including null, as not true.
//
//   - a and b, a or b: short-circuit, and always give a bool.
//   - not a, !a: the negation of a bool; null for any other value.
//   - a == b: true when a and b have the same kind and value: strings compare
//     by bytes, numbers numerically (0 == -0), bools by value. Values of
//     different kinds are unequal ('a' == 1 is false), never an error.
//   - a != b: the opposite of ==, except as follows.
//   - Any comparison (all six operators) with a null operand is false. So a
//     missing path makes both get('$.x') == 'a' and get('$.x') != 'a' false,
//     and the rule falls through, as the contract says. Note that
//     not (get('$.x') == 'a') is then true.
//   - Arrays and objects: == and the orderings are false; != is true.
//   - a < b, <=, >, >=: two numbers compare numerically, two strings by
//     bytes; anything else is false. RFC 3339 UTC timestamps of the same
//     form compare chronologically as strings:
//     get('$.currentDate') >= '2026-01-01'.
//   - + adds two numbers or concatenates two strings; - * / % take two
//     numbers; % is the remainder of math.Mod (its sign follows the
//     dividend). Other operand kinds, division or remainder by zero,
//     non-finite results and concatenations longer than 65536 bytes give
//     null.
//   - -a, abs, trunc: a number, or null. min and max: two numbers, or null.
//   - lower, upper: a string, or null.
//   - if (c) a else b: a when c is the boolean true, otherwise b. Only the
//     chosen branch is evaluated.
//
// Sub-expressions made only of literals are evaluated once, at compile time.
//
// # Partition strings
//
// A weighted target hashes the partition string of its partition_by value,
// [Value.AppendText]. The format is frozen: the same value must give the same
// bytes in every version, on every platform.
//
//   - A string is its bytes, unquoted and unescaped.
//   - A number x that is integral with |x| < 2^53 is a decimal integer: "42",
//     "-3", and "0" for both 0 and -0. Any other number is
//     strconv.FormatFloat(x, 'g', -1, 64): "-0.5", "1e+21",
//     "9.007199254740992e+15".
//   - A bool is "true" or "false".
//   - Null is the empty string; callers reject null before hashing.
//   - An array or object is compact JSON, as encoding/json's Marshal wrote it
//     in Go 1.26, reproduced here so that it cannot drift: object keys sorted
//     by bytes; no blank space; strings escaped with \" \\ \b \f \n \r \t,
//     \u00XX (lowercase hex) for other bytes below 0x20 and for < > &, \u2028
//     and \u2029 for those runes, and \ufffd for each byte of invalid UTF-8.
//     Numbers are written as encoding/json writes a float64:
//     strconv.FormatFloat(x, 'f', -1, 64), except that a magnitude below 1e-6
//     (but not 0) or from 1e21 on uses 'e' with a leading zero of a negative
//     exponent dropped. So inside an array 2^53 is 9007199254740992, 1e-7 is
//     1e-7, 1e21 is 1e+21 and -0 is -0.
//   - The agent or session is the object {"description", "key", "metadata",
//     "name"}, with nil metadata as {}; the whole context is {"agent",
//     "currentDate", "session"}. Nil maps and slices are {} and []. Numbers
//     of other Go types are written as the float64 they convert to.
//     Unsupported types, non-finite numbers, and maps and slices nested
//     inside themselves or more than 10000 levels deep are null (none of
//     these come out of encoding/json).
package expr
