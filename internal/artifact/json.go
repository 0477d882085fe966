package artifact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkStrictJSON reports why data is not one strict JSON object: invalid
// UTF-8 (encoding/json would silently replace it), a syntax error, nesting
// deeper than maxJSONDepth, a key repeated in one object, two keys of one
// object that differ only in case (encoding/json matches struct fields
// case-insensitively, so either could win), or anything but whitespace after
// the object. The checks exist because a document two parsers read
// differently can say one thing to the verifier and another to the host.
func checkStrictJSON(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object  bool
		wantKey bool
		exact   map[string]struct{}
		folded  map[string]string
	}
	var stack []*frame
	// value marks that a complete value was read inside the current frame.
	value := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err != nil {
			if err == io.EOF && first {
				return errors.New("empty document")
			}
			if err == io.EOF {
				return errors.New("syntax: truncated document")
			}
			return fmt.Errorf("syntax: %v", err)
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errors.New("top-level value is not an object")
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].wantKey = false
				}
				if len(stack) == maxJSONDepth {
					return fmt.Errorf("nested deeper than %d", maxJSONDepth)
				}
				f := &frame{object: t == '{', wantKey: t == '{'}
				if f.object {
					f.exact = map[string]struct{}{}
					f.folded = map[string]string{}
				}
				stack = append(stack, f)
			default: // '}' or ']'
				stack = stack[:len(stack)-1]
				value()
			}
		case string:
			top := stack[len(stack)-1]
			if top.object && top.wantKey {
				if _, dup := top.exact[t]; dup {
					return fmt.Errorf("duplicate key %q", t)
				}
				k := foldKey(t)
				if other, ok := top.folded[k]; ok {
					return fmt.Errorf("keys %q and %q differ only in case", other, t)
				}
				top.exact[t] = struct{}{}
				top.folded[k] = t
				top.wantKey = false
				continue
			}
			value()
		default:
			value()
		}
		if len(stack) == 0 {
			break
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the top-level object")
	}
	return nil
}

// foldKey maps s to a canonical member of its case-folding class, so that
// foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b).
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}
