package manifest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors classify an *Error; test with errors.Is.
var (
	// ErrSyntax: the input is not valid TOML (or not UTF-8).
	ErrSyntax = errors.New("invalid TOML")
	// ErrUnknownKey: a key that the schema does not have, including a known
	// key spelled with different letter case.
	ErrUnknownKey = errors.New("unknown key")
	// ErrDuplicateKey: a key given twice under two accepted spellings (a
	// compat alias and its current name).
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrMissingKey: a required key is absent.
	ErrMissingKey = errors.New("missing key")
	// ErrType: a value has the wrong TOML type or is out of range.
	ErrType = errors.New("wrong type")
	// ErrInvalid: a value breaks one of the validation rules.
	ErrInvalid = errors.New("invalid value")
	// ErrIncompatible: the host does not satisfy the skill's [compat] range.
	ErrIncompatible = errors.New("incompatible host")
)

// Error is a problem with one key of skill.toml. Parse and Validate return
// it; errors.Is(err, ErrXxx) tells the kind of problem apart.
type Error struct {
	// Key is the dotted path of the offending key, with list indexes, e.g.
	// "capabilities.quotas.fuel_budget" or "entrypoints.tools[1].id". Keys
	// that are not bare TOML keys are quoted. Empty for a document-level
	// problem such as a syntax error.
	Key string
	// Line is the 1-based line where Key (or the nearest enclosing table) is
	// written, or 0 when unknown (always 0 from Validate).
	Line int
	// Message says what is wrong, without the key.
	Message string
	// Err is one of the package's sentinel errors.
	Err error
	// File is the manifest's path as the caller knows it, printed instead
	// of "skill.toml" when set (see InFile).
	File string
}

// InFile says that err came from the manifest at path file. A *Error
// gets File set, so that it prints as "file:line: key: message" with the
// path once; any other error is prefixed with "file: ".
func InFile(err error, file string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.File = file
		return &c
	}
	return fmt.Errorf("%s: %w", file, err)
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("skill.toml")
	}
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func invalidf(key, message string) *Error {
	return &Error{Key: key, Message: message, Err: ErrInvalid}
}

// keyPath joins a parent path and one key, quoting the key when it is not
// a bare TOML key so that the path stays unambiguous.
func keyPath(parent, key string) string {
	if !isBareKey(key) {
		key = strconv.Quote(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
