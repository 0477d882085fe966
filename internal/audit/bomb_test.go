package audit

// bomb describes a module built to cost its compiler as much as the
// compile limits allow: funcs copies of one function () -> () whose body
// declares locals i32 locals, opens depth nested control instructions of
// kind (block, loop or if), and inside the innermost one has a br_table of
// brTable targets (when non-zero) and fill bytes of straight-line code.
type bomb struct {
	funcs   int
	depth   int
	kind    byte // 0x02 block, 0x03 loop, 0x04 if
	locals  uint32
	brTable int
	fill    int
}

func (b bomb) body() []byte {
	var code []byte
	if b.locals > 0 {
		code = append(code, 1)
		code = appendLEB(code, uint64(b.locals))
		code = append(code, 0x7f)
	} else {
		code = append(code, 0)
	}
	for range b.depth {
		if b.kind == 0x04 {
			code = append(code, 0x41, 0x00) // i32.const 0
		}
		code = append(code, b.kind, 0x40)
	}
	if b.brTable > 0 {
		code = append(code, 0x41, 0x00, 0x0e) // i32.const 0; br_table
		code = appendLEB(code, uint64(b.brTable))
		for i := range b.brTable {
			code = appendLEB(code, uint64(i%(b.depth+1)))
		}
		code = append(code, 0x00)
	}
	// Straight-line code: local.get 0 (or i32.const 1); i32.const 1;
	// i32.add; drop — 6 or 7 bytes of real work the compiler must keep.
	unit := []byte{0x41, 0x01, 0x41, 0x01, 0x6a, 0x1a}
	if b.locals > 0 {
		unit = []byte{0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00}
	}
	for n := 0; n+len(unit) <= b.fill; n += len(unit) {
		code = append(code, unit...)
	}
	for range b.depth {
		code = append(code, 0x0b)
	}
	return append(code, 0x0b)
}

func (b bomb) build() []byte { return buildModule(b) }

// buildModule encodes a module with the functions of every bomb in bs.
func buildModule(bs ...bomb) []byte {
	n := 0
	for _, b := range bs {
		n += b.funcs
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = appendSection(m, 1, []byte{1, 0x60, 0, 0}) // type () -> ()
	fn := appendLEB(nil, uint64(n))
	for range n {
		fn = append(fn, 0)
	}
	m = appendSection(m, 3, fn)
	// Export function 0 as "run" so that the module has an entry point.
	m = appendSection(m, 7, []byte{1, 3, 'r', 'u', 'n', 0x00, 0})
	code := appendLEB(nil, uint64(n))
	for _, b := range bs {
		body := b.body()
		for range b.funcs {
			code = appendLEB(code, uint64(len(body)))
			code = append(code, body...)
		}
	}
	return appendSection(m, 10, code)
}

func appendSection(m []byte, id byte, payload []byte) []byte {
	m = append(m, id)
	m = appendLEB(m, uint64(len(payload)))
	return append(m, payload...)
}

func appendLEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
