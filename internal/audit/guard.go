package audit

import (
	"errors"
	"fmt"
)

// checkBounds walks a module's binary framing and rejects it when a length
// or count in it claims more than the bytes that follow.
//
// It exists because wazero's and wabin's decoders allocate from such
// counts before reading the elements: make([]T, n) with n straight from
// the input. A 15-byte module declaring 2³²−1 imports makes wazero v1.12
// ask for 481 GB, and the Go runtime, unable to get it, kills the process
// ("fatal error: out of memory") — no recover() helps. Every element of a
// vector takes at least one byte, so a count larger than what remains of
// its section is malformed whatever the element; rejecting it first keeps
// every allocation the decoders make proportional to the module's size.
// The walk also reads every function body instruction by instruction and
// returns their shape (see codeShape): the sizes the compile limits are
// checked against before any decoder or compiler sees the module. Locals
// in particular must be: wazero expands a function's local declarations
// one by one, so (local 0xffffffff i32) is a 4 GiB allocation.
//
// Apart from that shape it extracts nothing: what the audit knows about a
// module comes from the decoders. It allocates nothing, runs in time
// linear in the module's size, and anything it does not recognize is
// reported as malformed (fail-closed), which for WebAssembly 2.0 modules
// wazero would reject as well.
func checkBounds(b []byte) (*codeShape, error) {
	sh := &codeShape{}
	if len(b) < 8 {
		return sh, nil // no section to allocate from; the decoder reports the header
	}
	r := &reader{b: b, pos: 8, end: len(b)}
	for r.pos < r.end && r.err == nil {
		start := r.pos
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			break
		}
		if int64(size) > int64(r.end-r.pos) {
			return nil, fmt.Errorf("section %d at offset %d: size %d exceeds the %d bytes left", id, start, size, r.end-r.pos)
		}
		s := &reader{b: b, pos: r.pos, end: r.pos + int(size)}
		s.section(id, sh)
		if s.err != nil {
			return nil, fmt.Errorf("section %d at offset %d: %w", id, start, s.err)
		}
		r.pos = s.end
	}
	if r.err != nil {
		return nil, r.err
	}
	return sh, nil
}

var errTruncated = errors.New("unexpected end of section")

// reader reads b[pos:end]. The first error sticks: later reads return
// zero values and leave it in place.
type reader struct {
	b        []byte
	pos, end int
	err      error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) left() int { return r.end - r.pos }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= r.end {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) skip(n int) {
	if r.err != nil {
		return
	}
	if n < 0 || n > r.left() {
		r.fail(errTruncated)
		return
	}
	r.pos += n
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *reader) u32() uint32 {
	var v uint64
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if v > 0xffffffff {
				r.fail(errors.New("integer too large"))
				return 0
			}
			return uint32(v)
		}
	}
	r.fail(errors.New("integer representation too long"))
	return 0
}

// sleb skips a signed LEB128 of at most maxBytes bytes.
func (r *reader) sleb(maxBytes int) {
	for i := 0; i < maxBytes; i++ {
		if c := r.byte(); r.err != nil || c&0x80 == 0 {
			return
		}
	}
	r.fail(errors.New("integer representation too long"))
}

// count reads a vector length and checks it against the bytes left, each
// element taking at least one.
func (r *reader) count(what string) int {
	n := r.u32()
	if r.err == nil && int64(n) > int64(r.left()) {
		r.fail(fmt.Errorf("%s count %d exceeds the %d bytes left", what, n, r.left()))
		return 0
	}
	return int(n)
}

// name skips a length-prefixed byte string.
func (r *reader) name() []byte {
	n := r.count("name length")
	if r.err != nil {
		return nil
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s
}

func (r *reader) limits() {
	switch flags := r.byte(); flags {
	case 0x00, 0x02: // min; 0x02 is shared (threads)
		r.u32()
	case 0x01, 0x03: // min, max
		r.u32()
		r.u32()
	default:
		r.fail(fmt.Errorf("unsupported limits flags %#x", flags))
	}
}

// expr skips a constant expression up to its end opcode.
func (r *reader) expr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41: // i32.const
			r.sleb(5)
		case 0x42: // i64.const
			r.sleb(10)
		case 0x43: // f32.const
			r.skip(4)
		case 0x44: // f64.const
			r.skip(8)
		case 0x23, 0xd2: // global.get, ref.func
			r.u32()
		case 0xd0: // ref.null
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		case 0xfd: // v128.const
			if r.u32() != 12 {
				r.fail(errors.New("unsupported vector instruction in constant expression"))
			}
			r.skip(16)
		default:
			r.fail(fmt.Errorf("unsupported opcode %#x in constant expression", op))
		}
	}
}

func (r *reader) section(id byte, sh *codeShape) {
	switch id {
	case 0: // custom
		if string(r.name()) == "name" {
			r.nameSection()
		}
	case 1: // type
		for range r.count("type") {
			if form := r.byte(); form != 0x60 && r.err == nil {
				r.fail(fmt.Errorf("unsupported type form %#x", form))
			}
			r.skip(r.count("parameter"))
			r.skip(r.count("result"))
		}
	case 2: // import
		for range r.count("import") {
			r.name()
			r.name()
			switch kind := r.byte(); kind {
			case 0x00: // func
				r.u32()
				sh.importedFuncs++
			case 0x01: // table
				r.byte()
				r.limits()
			case 0x02: // memory
				r.limits()
			case 0x03: // global
				r.byte()
				r.byte()
			default:
				r.fail(fmt.Errorf("unsupported import kind %#x", kind))
			}
		}
	case 3, 4, 5, 6, 13: // function, table, memory, global, tag: fixed-size or expression elements
		r.count("entry")
		r.pos = r.end
	case 7: // export
		for range r.count("export") {
			r.name()
			r.byte()
			r.u32()
		}
	case 9: // element
		for range r.count("element segment") {
			r.elementSegment()
		}
	case 10: // code
		for range r.count("function body") {
			size := r.count("function body size")
			if r.err != nil {
				return
			}
			body := &reader{b: r.b, pos: r.pos, end: r.pos + size}
			sh.add(body)
			r.fail(body.err)
			r.pos = body.end
		}
	case 11: // data
		for range r.count("data segment") {
			switch flags := r.u32(); flags {
			case 0:
				r.expr()
			case 1:
			case 2:
				r.u32()
				r.expr()
			default:
				r.fail(fmt.Errorf("unsupported data segment flags %d", flags))
			}
			r.skip(r.count("data byte"))
		}
	}
	// Other ids (start, data count, unknown) hold no vector; an unknown one
	// is the decoder's to reject.
}

func (r *reader) elementSegment() {
	flags := r.u32()
	if flags > 7 {
		r.fail(fmt.Errorf("unsupported element segment flags %d", flags))
		return
	}
	if flags&0b011 == 0b010 { // explicit table index
		r.u32()
	}
	if flags&0b001 == 0 { // active: offset expression
		r.expr()
	}
	if flags&0b011 != 0 { // element kind or reference type
		r.byte()
	}
	n := r.count("element")
	for range n {
		if flags&0b100 != 0 {
			r.expr()
		} else {
			r.u32()
		}
	}
}

// nameSection walks the "name" custom section, whose maps the decoders
// also size from their counts.
func (r *reader) nameSection() {
	for r.left() > 0 && r.err == nil {
		id := r.byte()
		size := r.count("name subsection size")
		if r.err != nil {
			return
		}
		s := &reader{b: r.b, pos: r.pos, end: r.pos + size}
		switch id {
		case 1: // function names
			for range s.count("function name") {
				s.u32()
				s.name()
			}
		case 2: // local names
			for range s.count("function") {
				s.u32()
				for range s.count("local name") {
					s.u32()
					s.name()
				}
			}
		}
		r.fail(s.err)
		r.pos = s.end
	}
}
