package audit

import (
	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/wasm"
)

// Test modules are built as wabin Modules and encoded with its binary
// encoder, so each test states the one structural property it is about.

// emptyModule is the 8-byte module of Palyra's golden vector: magic and
// version, nothing else.
var emptyModule = []byte("\x00asm\x01\x00\x00\x00")

var (
	typeVoidToI32 = &wasm.FunctionType{Results: []wasm.ValueType{wasm.ValueTypeI32}}
	typeVoidToI64 = &wasm.FunctionType{Results: []wasm.ValueType{wasm.ValueTypeI64}}
	typeI32ToVoid = &wasm.FunctionType{Params: []wasm.ValueType{wasm.ValueTypeI32}}
)

// modSpec describes a test module. The zero modSpec is a module with one
// memory of 1..16 pages; add exports with tools.
type modSpec struct {
	tools      []string       // functions () -> i32 exported under these names
	funcs      int            // extra unexported functions () -> i32
	imports    []*wasm.Import // function imports use DescFunc 1 (() -> i64) unless set otherwise
	memory     *wasm.Memory   // nil: 1..16 pages
	noMemory   bool
	tables     []*wasm.Table
	data       int // data segments of one byte each
	extraTypes []*wasm.FunctionType
	exports    []*wasm.Export // extra exports
	edit       func(m *wasm.Module)
}

func funcImport(module, name string) *wasm.Import {
	return &wasm.Import{Type: wasm.ExternTypeFunc, Module: module, Name: name, DescFunc: 1}
}

// build encodes s. Type 0 is () -> i32, type 1 is () -> i64; extraTypes
// follow. Every defined function returns i32 0.
func (s modSpec) build() []byte {
	m := &wasm.Module{
		TypeSection: append([]*wasm.FunctionType{typeVoidToI32, typeVoidToI64}, s.extraTypes...),
	}
	m.ImportSection = s.imports
	nImported := uint32(m.ImportFuncCount())
	body := &wasm.Code{Body: []byte{wasm.OpcodeI32Const, 0, wasm.OpcodeEnd}}
	for i, name := range s.tools {
		m.FunctionSection = append(m.FunctionSection, 0)
		m.CodeSection = append(m.CodeSection, body)
		m.ExportSection = append(m.ExportSection, &wasm.Export{Type: wasm.ExternTypeFunc, Name: name, Index: nImported + uint32(i)})
	}
	for range s.funcs {
		m.FunctionSection = append(m.FunctionSection, 0)
		m.CodeSection = append(m.CodeSection, body)
	}
	switch {
	case s.noMemory:
	case s.memory != nil:
		m.MemorySection = s.memory
	default:
		m.MemorySection = &wasm.Memory{Min: 1, Max: 16, IsMaxEncoded: true}
	}
	if m.MemorySection != nil {
		m.ExportSection = append(m.ExportSection, &wasm.Export{Type: wasm.ExternTypeMemory, Name: "memory"})
	}
	m.TableSection = s.tables
	for i := range s.data {
		m.DataSection = append(m.DataSection, &wasm.DataSegment{
			OffsetExpression: &wasm.ConstantExpression{Opcode: wasm.OpcodeI32Const, Data: []byte{byte(i)}},
			Init:             []byte{1},
		})
	}
	m.ExportSection = append(m.ExportSection, s.exports...)
	if s.edit != nil {
		s.edit(m)
	}
	return binary.EncodeModule(m)
}

// echoModule is the good module: it exports "echo" () -> i32, imports one
// Extism kernel function and has a 1..16 page memory.
func echoModule() []byte {
	return modSpec{
		tools:   []string{"echo"},
		imports: []*wasm.Import{funcImport(nsExtismEnv, "input_length")},
	}.build()
}
