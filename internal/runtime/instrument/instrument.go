// Package instrument rewrites a guest module so that its host can stop it
// at any time, at a cost of a few instructions per loop iteration.
//
// wazero can stop a running guest itself (RuntimeConfig
// WithCloseOnContextDone), but what it compiles is costly: every loop
// iteration leaves compiled code for Go to ask whether the module was
// closed, and every call starts a goroutine to watch the context. For
// guests built with Extism PDKs, which loop over the kernel ABI 8 bytes at
// a time, that is most of a call's time.
//
// Instrument adds instead, at every loop header and every function entry
// (recursion needs no loop), a countdown in a global of the module's own:
//
//	global.get $budget; i32.const 1; i32.sub; global.set $budget
//	global.get $budget; i32.eqz; if; call $check; end
//
// and a function $check, run every Interval countdowns, that resets the
// budget, leaves compiled code with memory.grow 0 (wazero runs it in Go, so
// the goroutine can be preempted there: compiled Wasm cannot be, and a
// guest that never left it would hold up the Go garbage collector, and so
// the whole process, until it returned) and traps with unreachable when
// the exported i32 global KillGlobal is non-zero. The host stops a guest
// by setting KillGlobal from any goroutine; the guest traps within
// Interval loop iterations or calls.
//
// Nothing else changes: function, global and type indices stay (the new
// type, global and function come after all others), and DWARF sections
// are dropped because the code offsets they map are no longer right. A
// module without a memory gets an empty one, for memory.grow.
//
// Instrument walks every instruction of every function, so that it knows
// where loops are: it accepts the instruction set wazero v1.12 compiles
// (MVP, sign extension, saturating truncation, bulk memory, reference
// types, typed function references, tail calls, SIMD, threads, exception
// handling) and rejects anything else.
package instrument

import (
	"errors"
	"fmt"
	"strings"
)

// KillGlobal is the name under which an instrumented module exports its
// kill flag, an i32 global: the host sets it to 1 to stop the guest.
const KillGlobal = "palyra.kill"

// Version identifies what Instrument writes, so that a cache of its output
// can be keyed by it: change it with any change to the output.
// TestVersion pins the output for testdata/ops.wasm to it.
const Version = 1

// Interval is the number of loop iterations and function entries between
// two checks of the kill flag. A check costs a round trip to Go (some
// 50 ns); Interval of them cost about as much in countdowns.
const Interval = 1000

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// order is the position of each known section in a module.
var order = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5,
	secTag: 6, secGlobal: 7, secExport: 8, secStart: 9, secElement: 10,
	secDataCount: 11, secCode: 12, secData: 13,
}

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// ErrInvalid reports a module Instrument cannot read: malformed, or using
// an instruction wazero does not support either.
var ErrInvalid = errors.New("instrument: invalid module")

type section struct {
	id      byte
	payload []byte
}

// Instrument returns wasm with the kill checks added. wasm is not
// modified. The result is deterministic, so a compilation cache keyed by
// module bytes works on it.
func Instrument(wasm []byte) ([]byte, error) {
	if len(wasm) < len(header) || string(wasm[:len(header)]) != string(header) {
		return nil, fmt.Errorf("%w: not a WebAssembly 1.0 binary", ErrInvalid)
	}
	r := &reader{b: wasm, pos: len(header)}
	var secs []section
	last := 0
	for r.more() {
		id := r.byte()
		size := r.u32()
		payload := r.bytes(int(size))
		if r.err != nil {
			return nil, r.fail("section header")
		}
		if id != secCustom {
			o, ok := order[id]
			if !ok || o <= last {
				return nil, fmt.Errorf("%w: section %d unknown or out of order", ErrInvalid, id)
			}
			last = o
		} else if name, ok := customName(payload); !ok {
			return nil, fmt.Errorf("%w: custom section name", ErrInvalid)
		} else if strings.HasPrefix(name, ".debug_") {
			continue
		}
		secs = append(secs, section{id, payload})
	}

	m := &module{}
	for _, s := range secs {
		if err := m.scan(s); err != nil {
			return nil, err
		}
	}
	return m.rewrite(secs)
}

// module holds what Instrument learns of a module before rewriting it.
type module struct {
	types, importedFuncs, funcs uint32
	importedGlobals, globals    uint32
	memories                    uint32 // imported and defined
	exported                    map[string]bool
}

func customName(payload []byte) (string, bool) {
	r := &reader{b: payload}
	name := r.name()
	return name, r.err == nil
}

// scan reads the counts Instrument needs from a section.
func (m *module) scan(s section) error {
	r := &reader{b: s.payload}
	switch s.id {
	case secType:
		m.types = r.u32()
	case secImport:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.name()
			r.name()
			switch kind := r.byte(); kind {
			case 0x00: // func
				r.u32()
				m.importedFuncs++
			case 0x01: // table
				r.valType()
				r.limits()
			case 0x02: // memory
				r.limits()
				m.memories++
			case 0x03: // global
				r.valType()
				r.byte()
				m.importedGlobals++
			case 0x04: // tag
				r.byte()
				r.u32()
			default:
				return fmt.Errorf("%w: import kind %#x", ErrInvalid, kind)
			}
		}
	case secFunction:
		m.funcs = r.u32()
	case secMemory:
		m.memories += r.u32()
	case secGlobal:
		m.globals = r.u32()
	case secExport:
		m.exported = make(map[string]bool)
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			m.exported[r.name()] = true
			r.byte()
			r.u32()
		}
	default:
		return nil
	}
	if r.err != nil {
		return r.fail(fmt.Sprintf("section %d", s.id))
	}
	return nil
}

// vecAppend returns a vector section payload with count+1 elements: the
// old ones (payload without its count) followed by elem.
func vecAppend(payload []byte, elem []byte) []byte {
	r := &reader{b: payload}
	n := r.u32()
	out := appendU32(nil, n+1)
	out = append(out, payload[r.pos:]...)
	return append(out, elem...)
}

func (m *module) rewrite(secs []section) ([]byte, error) {
	if m.exported[KillGlobal] {
		return nil, fmt.Errorf("%w: it exports %q, a name palyra reserves", ErrInvalid, KillGlobal)
	}
	checkType := m.types
	checkFunc := m.importedFuncs + m.funcs
	budget := m.importedGlobals + m.globals
	kill := budget + 1

	// The new entries, by section.
	add := map[byte][]byte{
		secType:     {0x60, 0x00, 0x00},        // () -> ()
		secFunction: appendU32(nil, checkType), // $check
		// $budget: mut i32 = Interval; $kill: mut i32 = 0.
		secGlobal: append(append([]byte{0x7f, 0x01, 0x41}, appendS32(nil, Interval)...),
			0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b),
		secExport: append(appendName(nil, KillGlobal), append([]byte{0x03}, appendU32(nil, kill)...)...),
		secCode:   checkBody(budget, kill),
	}
	if m.memories == 0 {
		add[secMemory] = []byte{0x00, 0x00} // min 0, no max
	}
	// Two globals are added; vecAppend adds one to the count.
	globalsAppend := func(payload, elems []byte) []byte {
		r := &reader{b: payload}
		n := r.u32()
		out := appendU32(nil, n+2)
		out = append(out, payload[r.pos:]...)
		return append(out, elems...)
	}

	out := append([]byte(nil), header...)
	emit := func(id byte, payload []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(payload)))
		out = append(out, payload...)
	}
	// emitNew emits the sections that are added whole and come before
	// position o.
	emitNew := func(o int) {
		for _, id := range []byte{secType, secFunction, secMemory, secGlobal, secExport, secCode} {
			p, ok := add[id]
			if !ok || order[id] >= o {
				continue
			}
			delete(add, id)
			switch id {
			case secGlobal:
				emit(id, globalsAppend([]byte{0x00}, p))
			default:
				emit(id, vecAppend([]byte{0x00}, p))
			}
		}
	}
	for _, s := range secs {
		if s.id == secCustom {
			emit(s.id, s.payload)
			continue
		}
		emitNew(order[s.id])
		p, ok := add[s.id]
		if !ok {
			emit(s.id, s.payload)
			continue
		}
		delete(add, s.id)
		switch s.id {
		case secGlobal:
			emit(s.id, globalsAppend(s.payload, p))
		case secCode:
			code, err := rewriteCode(s.payload, budget, checkFunc)
			if err != nil {
				return nil, err
			}
			emit(s.id, vecAppend(code, p))
		default:
			emit(s.id, vecAppend(s.payload, p))
		}
	}
	emitNew(len(order) + 1)
	return out, nil
}

// checkBody is the code entry of $check.
func checkBody(budget, kill uint32) []byte {
	var b []byte
	b = append(b, 0x00)                   // no locals
	b = append(b, 0x41)                   // i32.const Interval
	b = appendS32(b, Interval)            //
	b = append(b, 0x24)                   // global.set $budget
	b = appendU32(b, budget)              //
	b = append(b, 0x41, 0x00, 0x40, 0x00) // i32.const 0; memory.grow 0
	b = append(b, 0x1a)                   // drop
	b = append(b, 0x23)                   // global.get $kill
	b = appendU32(b, kill)                //
	b = append(b, 0x04, 0x40, 0x00, 0x0b) // if; unreachable; end
	b = append(b, 0x0b)                   // end
	return append(appendU32(nil, uint32(len(b))), b...)
}
