// Package keys checks the key and identifier formats of the REST contract.
package keys

// MaxLen is the longest alias, agent or session key the contract allows.
const MaxLen = 50

// Pattern is the contract's pattern for alias, agent and session keys.
const Pattern = "^[0-9a-zA-Z_-]+$"

// Message is the validation message for a key that does not match Pattern.
const Message = "must match ^[0-9a-zA-Z_-]+$ and be 1-50 characters"

// Valid reports whether s is a valid alias, agent or session key:
// 1 to 50 characters from [0-9a-zA-Z_-].
func Valid(s string) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !KeyByte(s[i]) {
			return false
		}
	}
	return true
}

// KeyByte reports whether c may appear in a key.
func KeyByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-'
}

// ValidID reports whether s is prefix followed by at least one character
// allowed by lower (only [a-z0-9_-]) or by the key alphabet.
func ValidID(s, prefix string, lower bool) bool {
	if len(s) <= len(prefix) || len(s) > 200 || s[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		c := s[i]
		if lower {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '_' || c == '-') {
				return false
			}
		} else if !KeyByte(c) {
			return false
		}
	}
	return true
}
