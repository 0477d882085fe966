package main

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// termSafe returns s with what a terminal would act on escaped, for
// printing a guest's text (its log records, its error message) in human
// output: C0 controls but tab (ESC starts ANSI sequences, CR and BS
// overwrite what is on the line, LF would start a line that looks like the
// CLI's own), DEL, C1 controls, the Unicode line and paragraph separators
// and bidirectional formatting characters (which reorder what is shown),
// and bytes that are not UTF-8. They become \xHH (bytes) and \uHHHH
// (characters), so a skill cannot forge a "palyra:" line or hide text.
func termSafe(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if mustEscape(r, size) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case !mustEscape(r, size):
			b.WriteString(s[i : i+size])
		case r == utf8.RuneError || r < utf8.RuneSelf:
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
		default:
			b.WriteString(`\u`)
			h := strconv.FormatUint(uint64(r), 16)
			b.WriteString(strings.Repeat("0", 4-len(h)))
			b.WriteString(h)
		}
		i += size
	}
	return b.String()
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// mustEscape reports whether the rune r, of size bytes in its string, is
// escaped by termSafe.
func mustEscape(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1: // not UTF-8
		return true
	case r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // bidi marks
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi embeddings, overrides, isolates
		return true
	}
	return false
}

// termSafeError is an error whose message termSafe escapes, for an error
// that carries a guest's text; errors.Is and As see the original.
type termSafeError struct{ err error }

func (e termSafeError) Error() string { return termSafe(e.err.Error()) }
func (e termSafeError) Unwrap() error { return e.err }
