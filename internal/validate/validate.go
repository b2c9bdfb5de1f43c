// Package validate collects field-level validation errors.
//
// The leaf packages (alias, policy, session, event, artifact) report invalid
// input as an *Errors value. Callers outside the module reach the details
// through the FieldErrors method, which every *Errors has:
//
//	var fe interface{ FieldErrors() map[string]string }
//	if errors.As(err, &fe) { ... }
package validate

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Field is one problem with one field. Path names the field the way a JSON
// client would, for example "policy.rules[2].targets.options[0].weight".
type Field struct {
	Path    string
	Message string
}

// Errors is an ordered list of field problems. The zero value is ready to use.
// A nil or empty *Errors is not an error: call Err to get one.
type Errors struct {
	Fields []Field
}

// Add records a problem with the field at path.
func (e *Errors) Add(path, msg string) {
	e.Fields = append(e.Fields, Field{Path: path, Message: msg})
}

// Addf records a problem with the field at path, formatted as by fmt.Sprintf.
func (e *Errors) Addf(path, format string, args ...any) {
	e.Add(path, fmt.Sprintf(format, args...))
}

// Merge appends every field of other, each path prefixed with prefix and a
// dot (or nothing when prefix is empty). Other may be nil.
func (e *Errors) Merge(prefix string, other *Errors) {
	if other == nil {
		return
	}
	for _, f := range other.Fields {
		e.Fields = append(e.Fields, Field{Path: Join(prefix, f.Path), Message: f.Message})
	}
}

// MergeErr records err under prefix: its field problems (when it is, or
// wraps, an *Errors) each under prefix, or else its text at prefix itself.
// A nil err records nothing.
func (e *Errors) MergeErr(prefix string, err error) {
	if err == nil {
		return
	}
	var ve *Errors
	if errors.As(err, &ve) {
		e.Merge(prefix, ve)
		return
	}
	e.Add(prefix, err.Error())
}

// Len reports the number of problems recorded.
func (e *Errors) Len() int {
	if e == nil {
		return 0
	}
	return len(e.Fields)
}

// Err returns the problems recorded as an error (a copy of e), or nil if
// there are none. Returning a copy keeps a caller's Errors variable on the
// stack when validation succeeds.
func (e *Errors) Err() error {
	if e.Len() == 0 {
		return nil
	}
	c := *e
	return &c
}

// Error lists every problem as "path: message", joined by "; ".
func (e *Errors) Error() string {
	if e.Len() == 0 {
		return "no errors"
	}
	var b strings.Builder
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		if f.Path != "" {
			b.WriteString(f.Path)
			b.WriteString(": ")
		}
		b.WriteString(f.Message)
	}
	return b.String()
}

// FieldErrors returns the problems as a map from field path to message, the
// shape of the REST contract's field_errors. When one path has several
// problems, their messages are joined by "; ".
func (e *Errors) FieldErrors() map[string]string {
	if e == nil {
		return map[string]string{}
	}
	m := make(map[string]string, len(e.Fields))
	for _, f := range e.Fields {
		if prev, ok := m[f.Path]; ok {
			m[f.Path] = prev + "; " + f.Message
			continue
		}
		m[f.Path] = f.Message
	}
	return m
}

// Paths returns the distinct field paths, sorted. It is meant for tests.
func (e *Errors) Paths() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range e.Fields {
		if !seen[f.Path] {
			seen[f.Path] = true
			out = append(out, f.Path)
		}
	}
	sort.Strings(out)
	return out
}

// Join joins a path prefix and a field name with a dot. An index suffix such
// as "[3]" is appended without a dot.
func Join(prefix, name string) string {
	switch {
	case prefix == "":
		return name
	case name == "":
		return prefix
	case strings.HasPrefix(name, "["):
		return prefix + name
	}
	return prefix + "." + name
}

// Index returns prefix with "[i]" appended.
func Index(prefix string, i int) string {
	return fmt.Sprintf("%s[%d]", prefix, i)
}
