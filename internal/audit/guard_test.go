package audit

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wabin/wasm"
)

// Each of these modules declares a count its bytes cannot back. Handed to
// wazero v1.12 unguarded, the first three kill the process with a fatal
// out-of-memory error (measured: 481 GB, 240 GB and 34 GB requests); if
// checkBounds misses one, this test does not fail, it crashes.
var hostileModules = []struct {
	name, data, why string
}{
	{"import count", "\x00asm\x01\x00\x00\x00\x02\x05\xff\xff\xff\xff\x0f", "import count 4294967295 exceeds"},
	{"data segment count", "\x00asm\x01\x00\x00\x00\x0b\x05\xff\xff\xff\xff\x0f", "data segment count 4294967295 exceeds"},
	{"element init vector", "\x00asm\x01\x00\x00\x00\x09\x0a\x01\x00\x41\x00\x0b\xff\xff\xff\xff\x0f", "element count 4294967295 exceeds"},
	{"function names", "\x00asm\x01\x00\x00\x00\x00\x0c\x04name\x01\x05\xff\xff\xff\xff\x0f", "function name count 4294967295 exceeds"},
	{"passive data bytes", "\x00asm\x01\x00\x00\x00\x0b\x07\x01\x01\xff\xff\xff\xff\x0f", "data byte count 4294967295 exceeds"},
	{"import module name", "\x00asm\x01\x00\x00\x00\x02\x06\x01\xff\xff\xff\xff\x0f", "name length count 4294967295 exceeds"},
	{"section size", "\x00asm\x01\x00\x00\x00\x01\xff\xff\xff\xff\x0f", "exceeds the 0 bytes left"},
	{"br_table targets", "\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x0b\x01\x09\x00\x41\x00\x0e\xff\xff\xff\xff\x0f", "br_table target count 4294967295 exceeds"},
	{"type parameters", "\x00asm\x01\x00\x00\x00\x01\x08\x01\x60\xff\xff\xff\xff\x0f\x00", "parameter count 4294967295 exceeds"},
}

func TestCheckBoundsRejectsHostileCounts(t *testing.T) {
	for _, tt := range hostileModules {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkBounds([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("checkBounds = %v, want an error containing %q", err, tt.why)
			}
			f := newFixture()
			f.setModules(map[string][]byte{"modules/evil.wasm": []byte(tt.data)})
			r := f.audit(t)
			if !findCheck(r, expect{checkModuleValidation, StatusFail, []string{"modules/evil.wasm", tt.why}}) {
				t.Errorf("no validation failure naming the count; checks:%s", dump(r))
			}
		})
	}
}

// TestCheckBoundsAcceptsRichModule walks the constructs the guard parses
// — name section, an element segment, passive and active data,
// globals, a custom section — in a module wazero accepts.
func TestCheckBoundsAcceptsRichModule(t *testing.T) {
	zero := wasm.Index(1)
	data := modSpec{
		tools:  []string{"echo"},
		funcs:  1,
		tables: []*wasm.Table{{Min: 4, Type: wasm.RefTypeFuncref}},
		data:   1,
		edit: func(m *wasm.Module) {
			i32 := &wasm.ConstantExpression{Opcode: wasm.OpcodeI32Const, Data: []byte{0}}
			m.GlobalSection = []*wasm.Global{{Type: &wasm.GlobalType{ValType: wasm.ValueTypeI64, Mutable: true}, Init: &wasm.ConstantExpression{Opcode: wasm.OpcodeI64Const, Data: []byte{0x7f}}}}
			// wabin encodes active segments only; the other kinds are in
			// TestCheckBoundsAcceptsEveryElementSegmentKind.
			m.ElementSection = []*wasm.ElementSegment{
				{Mode: wasm.ElementModeActive, OffsetExpr: i32, Init: []*wasm.Index{&zero}, Type: wasm.RefTypeFuncref},
			}
			m.DataSection = append(m.DataSection, &wasm.DataSegment{Init: []byte("passive")})
			n := uint32(len(m.DataSection))
			m.DataCountSection = &n
			m.CodeSection[1] = &wasm.Code{LocalTypes: []wasm.ValueType{wasm.ValueTypeI32, wasm.ValueTypeI64, wasm.ValueTypeI64}, Body: []byte{wasm.OpcodeI32Const, 0, wasm.OpcodeEnd}}
			m.NameSection = &wasm.NameSection{
				ModuleName:    "rich",
				FunctionNames: wasm.NameMap{{Index: 0, Name: "echo"}, {Index: 1, Name: "helper"}},
				LocalNames:    wasm.IndirectNameMap{{Index: 1, NameMap: wasm.NameMap{{Index: 0, Name: "x"}, {Index: 2, Name: "y"}}}},
			}
			m.CustomSections = []*wasm.CustomSection{{Name: "producers", Data: []byte{0}}}
		},
	}.build()
	if _, err := checkBounds(data); err != nil {
		t.Fatalf("checkBounds: %v", err)
	}
	f := newFixture()
	f.setModules(map[string][]byte{"modules/echo.wasm": data})
	if r := f.audit(t); !r.Passed {
		t.Errorf("rich module failed: %q", r.QuarantineReasons)
	}
}

// TestCheckBoundsAcceptsEveryElementSegmentKind hand-assembles a module
// with one element segment of each of the eight encodings (flags 0-7) and
// checks that the guard, wazero and wabin all accept it.
func TestCheckBoundsAcceptsEveryElementSegmentKind(t *testing.T) {
	const (
		offset  = "\x41\x00\x0b"   // i32.const 0; end
		refFunc = "\xd2\x00\x0b"   // ref.func 0; end
		refNull = "\xd0\x70\x0b"   // ref.null func; end
		funcs   = "\x01\x00"       // vec(funcidx): [0]
		exprs   = "\x01" + refFunc // vec(expr): [ref.func 0]
		kind    = "\x00"           // elemkind funcref
		reftype = "\x70"           // funcref
		table0  = "\x00"           // table index 0
	)
	elems := "\x08" +
		"\x00" + offset + funcs +
		"\x01" + kind + funcs +
		"\x02" + table0 + offset + kind + funcs +
		"\x03" + kind + funcs +
		"\x04" + offset + exprs +
		"\x05" + reftype + "\x02" + refFunc + refNull +
		"\x06" + table0 + offset + reftype + exprs +
		"\x07" + reftype + exprs
	module := "\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type () -> ()
		"\x03\x02\x01\x00" + // one function of type 0
		"\x04\x04\x01\x70\x00\x04" + // table funcref 4
		"\x09" + string(rune(len(elems))) + elems +
		"\x0a\x04\x01\x02\x00\x0b" // body: no locals; end
	if _, err := checkBounds([]byte(module)); err != nil {
		t.Fatalf("checkBounds: %v", err)
	}
	rt := newValidator(context.Background())
	defer rt.Close(context.Background())
	m, err := decode(context.Background(), rt, []byte(module))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(m.ElementSection) != 8 {
		t.Errorf("decoded %d element segments, want 8", len(m.ElementSection))
	}
}
