package toolschema

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of a document, as encoding/json does.
const maxDepth = 10000

// parseJSON decodes one JSON document (RFC 8259: UTF-8, nothing but
// whitespace after the value) into the values the validator takes:
// map[string]any, []any, string, json.Number, bool and nil. A duplicate
// key keeps its last value, as encoding/json does.
//
// It exists for speed: encoding/json's decoder steps a state machine per
// byte and cost more than the tool call it guards (a 1 KiB echo); this
// scans strings with a plain loop. FuzzParseJSON checks it against
// encoding/json.
func parseJSON(data []byte) (any, error) {
	p := parser{data: data}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.data) {
		return nil, p.errorf("data after the top-level value")
	}
	return v, nil
}

type parser struct {
	data []byte
	i    int
}

var errEnd = errors.New("unexpected end of JSON")

func (p *parser) errorf(format string, a ...any) error {
	return fmt.Errorf("offset %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if p.i >= len(p.data) {
		return nil, errEnd
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.errorf("invalid character %q looking for a value", c)
	}
}

func (p *parser) literal(s string) error {
	if len(p.data)-p.i < len(s) || string(p.data[p.i:p.i+len(s)]) != s {
		return p.errorf("invalid literal, want %s", s)
	}
	p.i += len(s)
	return nil
}

func (p *parser) object(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	p.i++ // {
	m := map[string]any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		if p.i >= len(p.data) {
			return nil, errEnd
		}
		if p.data[p.i] != '"' {
			return nil, p.errorf("invalid character %q looking for an object key", p.data[p.i])
		}
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) {
			return nil, errEnd
		}
		if p.data[p.i] != ':' {
			return nil, p.errorf("invalid character %q after an object key", p.data[p.i])
		}
		p.i++
		p.space()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		done, err := p.afterItem('}', "an object value")
		if err != nil {
			return nil, err
		}
		if done {
			return m, nil
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		done, err := p.afterItem(']', "an array element")
		if err != nil {
			return nil, err
		}
		if done {
			return a, nil
		}
	}
}

// afterItem reads what follows an object value or array element: a comma
// (another item follows) or the closing byte (done).
func (p *parser) afterItem(closing byte, what string) (done bool, err error) {
	p.space()
	if p.i >= len(p.data) {
		return false, errEnd
	}
	switch p.data[p.i] {
	case ',':
		p.i++
		p.space()
		return false, nil
	case closing:
		p.i++
		return true, nil
	}
	return false, p.errorf("invalid character %q after %s", p.data[p.i], what)
}

func (p *parser) number() (any, error) {
	start := p.i
	d := p.data
	if d[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(d) && d[p.i] >= '0' && d[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	switch {
	case p.i < len(d) && d[p.i] == '0':
		p.i++
	case digits() == 0:
		return nil, p.errorf("invalid number")
	}
	if p.i < len(d) && d[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errorf("invalid number: no digit after '.'")
		}
	}
	if p.i < len(d) && (d[p.i] == 'e' || d[p.i] == 'E') {
		p.i++
		if p.i < len(d) && (d[p.i] == '+' || d[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid number: no digit in the exponent")
		}
	}
	return json.Number(d[start:p.i]), nil
}

// SWAR constants: a byte repeated in each of a word's 8 bytes.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain8 says whether the 8 bytes of x are all printable ASCII other
// than '"' and '\\': the bytes a string scan passes over. It may say
// false for such bytes (the caller then looks at them one by one), never
// true for others.
func plain8(x uint64) bool {
	ctl := (x - ones*0x20) & ^x & highs // some byte < 0x20
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return (ctl|(q-ones)&^q|(bs-ones)&^bs|x)&highs == 0
}

// string reads a string at p.i (a '"'). Without escapes it is one scan,
// 8 bytes at a time over ASCII, and one copy.
func (p *parser) string() (string, error) {
	p.i++ // "
	start := p.i
	d := p.data
	ascii := true
	for p.i < len(d) {
		for p.i+8 <= len(d) && plain8(binary.LittleEndian.Uint64(d[p.i:])) {
			p.i += 8
		}
		if p.i >= len(d) {
			break
		}
		c := d[p.i]
		if c == '"' {
			s := d[start:p.i]
			if !ascii && !utf8.Valid(s) {
				return "", p.errorf("invalid UTF-8 in string")
			}
			p.i++
			return string(s), nil
		}
		if c >= 0x80 {
			ascii = false
		}
		if c == '\\' {
			return p.escaped(start)
		}
		if c < 0x20 {
			return "", p.errorf("control character %#x in string", c)
		}
		p.i++
	}
	return "", errEnd
}

// escaped finishes a string from start that has escapes; p.i is at the
// first backslash.
func (p *parser) escaped(start int) (string, error) {
	d := p.data
	buf := append([]byte(nil), d[start:p.i]...)
	for p.i < len(d) {
		c := d[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(buf) {
				return "", p.errorf("invalid UTF-8 in string")
			}
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("control character %#x in string", c)
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(d) {
			return "", errEnd
		}
		e := d[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A pair makes one rune; a lone surrogate is U+FFFD, as in
				// encoding/json.
				save := p.i
				if p.i+1 < len(d) && d[p.i] == '\\' && d[p.i+1] == 'u' {
					p.i += 2
					if r2, ok := p.hex4(); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							continue
						}
					}
				}
				p.i = save
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.errorf("invalid escape \\%c", e)
		}
	}
	return "", errEnd
}

func (p *parser) hex4() (rune, bool) {
	if len(p.data)-p.i < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.data[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}
