// Package instrument rewrites a guest module so that it counts fuel as
// wasmtime does, and so that its host can stop it at any time.
//
// wazero can stop a running guest itself (RuntimeConfig
// WithCloseOnContextDone), but what it compiles is costly: every loop
// iteration leaves compiled code for Go to ask whether the module was
// closed, and every call starts a goroutine to watch the context. For
// guests built with Extism PDKs, which loop over the kernel ABI 8 bytes at
// a time, that is most of a call's time. Instrument instead adds the
// checks to the module itself, as plain Wasm that the compiler keeps in
// registers.
//
// # Fuel
//
// Fuel is counted exactly as wasmtime (v39 to v44) counts it with
// Config::consume_fuel and its default operator costs, so that a
// manifest's fuel_budget means the same on both hosts:
//
//   - every operator costs 1, except nop, drop, block, loop, unreachable,
//     return, else and end, which cost 0; a function call costs 1 more at
//     the callee's entry;
//   - operators in code wasmtime knows to be unreachable (after br,
//     br_table, return, unreachable, throw, throw_ref or a tail call,
//     until the end or else that control can reach again) cost nothing;
//   - costs are added to a counter in a function-local i64 before loop,
//     if, else, end, br, br_if, br_table, br_on_null, br_on_non_null; the
//     local is stored in the global FuelGlobal before call, call_indirect,
//     the tail calls, return, unreachable, throw, throw_ref and at the
//     function's end, and loaded from it at the function's entry and after
//     call (of a function of the module: an imported one is the host's and
//     leaves it unchanged) and call_indirect (call_ref neither stores nor
//     loads, as in wasmtime, so a callee's fuel through call_ref is not
//     counted);
//   - the counter is checked at every function entry and every loop
//     header: when it is >= 0 the slice is used up (see below).
//
// Consumption is thus exact at every check, call and return. A trap other
// than running out of fuel loses the costs not yet stored, as in wasmtime.
// Not counted: host functions (the kernel included), the time bulk
// operations take beyond their cost of 1, and the code Instrument adds.
//
// The budget is handed to the guest in slices of FuelSlice, so that the
// guest leaves compiled code regularly even when the budget is unbounded.
// FuelGlobal holds wasmtime's counter for the current slice (negative:
// fuel left in it) and ReserveGlobal the fuel not yet handed out; Split
// and Consumed do the host's side. When a check finds the slice used up
// it calls an added function $refill, which traps (unreachable) when
// KillGlobal is non-zero; leaves compiled code with memory.grow 0 (wazero
// runs it in Go, where the goroutine can be preempted: a guest that never
// left compiled code would hold up the garbage collector, and so the
// whole process); traps when the budget is spent, exactly where wasmtime
// would trap with Trap::OutOfFuel, leaving ReserveGlobal at -1, a value
// nothing else sets (Exhausted); and otherwise moves the next slice from
// the reserve into the counter.
//
// # Bulk operations and tables
//
// memory.copy, memory.fill, memory.init, table.copy, table.fill and
// table.init cost 1 fuel each but may take milliseconds, in compiled code
// (wazero calls memmove without leaving it): a loop of them, at a few
// units of fuel an iteration, would reach $refill only every few minutes,
// and hold up the garbage collector, and so the whole process, until
// then. So they are metered by length as well, outside of fuel: an added
// i64 global $bulk (not exported) starts at BulkSlice, and each operation
// subtracts its length operand from it (a table element counts 8 bytes),
// saved with local.tee before the operation. When $bulk goes negative an
// added function $yield traps if KillGlobal is set, resets $bulk to
// BulkSlice and leaves compiled code with memory.grow 0, as $refill does.
// A 16-byte copy thus costs a few register instructions more, and no call.
//
// memory.grow and table.grow leave compiled code anyway (wazero runs them
// in Go): each is followed by a check of KillGlobal. table.grow is
// replaced by a call to an added function that grows the table only while
// the module's table elements stay within TableLimitGlobal, and counts
// them in TableElemsGlobal.
//
// # What else changes
//
// The start section is removed and its function exported as StartExport,
// for the host to call under its deadline, kill flag and fuel (wazero
// would run it inside InstantiateModule, where nothing can stop it).
// Function, global and type indices stay (new types, globals, functions
// and locals come after all others); a module that refers to an index
// past its own, which could reach what Instrument adds, is refused, and so
// is one exporting a name that starts with "palyra.". DWARF sections are
// dropped because the code offsets they map are no longer right. A module
// without a memory gets an empty one, for memory.grow.
//
// Instrument walks every instruction of every function: it accepts the
// instruction set wazero v1.12 compiles (MVP, sign extension, saturating
// truncation, bulk memory, reference types, typed function references,
// tail calls, SIMD, threads, exception handling) and rejects anything
// else. wasmtime refuses the legacy exception handling instructions (try,
// catch, delegate); Instrument counts them as blocks and else.
package instrument

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Names under which an instrumented module exports what the host needs.
const (
	// KillGlobal is an i32 global: the host sets it to non-zero, from any
	// goroutine, to stop the guest at its next refill of fuel or of bulk
	// bytes (see BulkSlice), memory.grow or table.grow.
	KillGlobal = "palyra.kill"
	// FuelGlobal is an i64 global: wasmtime's fuel counter for the current
	// slice, negative while fuel is left in it.
	FuelGlobal = "palyra.fuel"
	// ReserveGlobal is an i64 global: fuel not yet handed to the slice.
	ReserveGlobal = "palyra.fuel_reserve"
	// TableElemsGlobal is an i64 global: the elements of the module's
	// tables, initially the sum of the minimums of the tables it defines,
	// increased by every table.grow that succeeds.
	TableElemsGlobal = "palyra.table_elems"
	// TableLimitGlobal is an i64 global, initially 0: table.grow fails
	// (returns -1) when TableElemsGlobal would exceed it.
	TableLimitGlobal = "palyra.table_limit"
	// StartExport is the function of the module's start section, if it
	// has one: the host calls it once after instantiation.
	StartExport = "palyra.start"
	// Reserved is the prefix of the names above: a module exporting any
	// name with it is refused.
	Reserved = "palyra."
)

// Version identifies what Instrument writes, so that a cache of its output
// can be keyed by it: change it with any change to the output.
// TestVersion pins the output for testdata/ops.wasm to it.
const Version = 6

// FuelSlice is the most fuel handed to the guest at once: a guest
// leaves compiled code, and sees KillGlobal, at least every FuelSlice
// units of fuel (about a millisecond of simple instructions), and the
// round trip costs some 100 ns.
const FuelSlice = 1 << 20

// BulkSlice is the most bytes bulk operations move (table elements count
// 8 bytes) before the guest leaves compiled code and sees KillGlobal:
// about half a millisecond of memmove. A single operation larger than it
// runs to its end first.
const BulkSlice = 4 << 20

// MaxBudget is the largest budget Split accepts: larger ones are cut to
// it. It stands for "unmetered": at a billion units a second it lasts
// 146 years.
const MaxBudget = 1 << 62

// Split returns the values the host sets FuelGlobal and ReserveGlobal to
// before running guest code with the given budget of fuel.
func Split(budget uint64) (fuel, reserve int64) {
	b := int64(min(budget, MaxBudget))
	slice := min(b, FuelSlice)
	return -slice, b - slice
}

// Consumed returns the fuel consumed from budget, given FuelGlobal and
// ReserveGlobal after the guest ran: as wasmtime's budget less
// Store::get_fuel, and so at most budget.
func Consumed(budget uint64, fuel, reserve int64) uint64 {
	b := min(budget, MaxBudget)
	remaining := reserve - fuel
	if remaining <= 0 {
		return b
	}
	return b - min(uint64(remaining), b)
}

// Exhausted reports whether FuelGlobal and ReserveGlobal after a trap
// show the guest ran out of fuel: $refill leaves the reserve at -1, which
// nothing else does. (A guest that stored a counter past its budget and
// then trapped otherwise before the next check did not run out: wasmtime
// reports its trap.)
func Exhausted(fuel, reserve int64) bool { return reserve == -1 }

// kernelModule is where a guest imports the Extism kernel from.
const kernelModule = "extism:host/env"

// kernelNoTrap are the kernel functions that cannot trap (out-of-range
// loads return 0, stores are ignored: internal/runtime/kernel). The
// fuel counter is not stored before calling them: it is stored so that
// a trap in the callee counts what came before, and these never trap.
// Extism PDKs call them once per 8 bytes of input and output.
func kernelNoTrap(name string) bool {
	switch name {
	case "length", "length_unsafe", "load_u8", "load_u64", "store_u8", "store_u64",
		"input_load_u8", "input_load_u64", "input_length", "input_offset",
		"output_length", "output_offset", "error_get":
		return true
	}
	return false
}

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

// ErrInvalid reports a module Instrument cannot read: malformed, using an
// instruction wazero does not support either, or reaching past its own
// indices.
var ErrInvalid = errors.New("instrument: invalid module")

type section struct {
	id      byte
	payload []byte
}

// Instrument returns wasm with fuel metering and the checks added. wasm is
// not modified. The result is deterministic, so a compilation cache keyed
// by module bytes works on it.
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

	m := &module{start: -1}
	for _, s := range secs {
		if err := m.scan(s); err != nil {
			return nil, err
		}
	}
	return m.rewrite(secs)
}

// funcType is a function type: its parameter count and its results, as
// the bytes of their value types.
type funcType struct {
	params   uint32
	results  []byte
	nresults int
}

// module holds what Instrument learns of a module before rewriting it.
type module struct {
	types         []funcType
	funcTypes     []uint32 // type of each function, imported ones first
	importedFuncs uint32
	// noTrap holds the imported functions that cannot trap (kernelNoTrap).
	noTrap     map[uint32]bool
	globals    uint32   // imported and defined
	memories   uint32   // imported and defined
	tables     [][]byte // reference type of each table, imported first
	tableElems int64    // sum of the minimums of the defined tables
	start      int64    // the start function, or -1
	codeSeen   bool

	// Set by rewrite.
	addedTypes [][]byte          // the types Instrument adds
	typeIndex  map[string]uint32 // index of each added type, by encoding
	refill     uint32            // function index of $refill
	yield      uint32            // function index of $yield
	kill, fuel uint32            // global indices
	reserve    uint32
	elems      uint32
	limit      uint32
	bulk       uint32
}

func (m *module) funcs() uint32 { return uint32(len(m.funcTypes)) }

func customName(payload []byte) (string, bool) {
	r := &reader{b: payload}
	name := r.name()
	return name, r.err == nil
}

// scan reads what Instrument needs from a section, and checks that the
// indices it holds are the module's own.
func (m *module) scan(s section) error {
	r := &reader{b: s.payload}
	switch s.id {
	case secType:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			if form := r.byte(); form != 0x60 {
				return fmt.Errorf("%w: type form %#x", ErrInvalid, form)
			}
			var t funcType
			for k := r.u32(); k > 0 && r.err == nil; k-- {
				r.valType()
				t.params++
			}
			k := r.u32()
			from := r.pos
			for i := uint32(0); i < k && r.err == nil; i++ {
				r.valType()
			}
			t.results, t.nresults = r.b[from:r.pos], int(k)
			m.types = append(m.types, t)
		}
	case secImport:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			mod, name := r.name(), r.name()
			switch kind := r.byte(); kind {
			case 0x00: // func
				if err := m.addFunc(r.u32()); err != nil {
					return err
				}
				if mod == kernelModule && kernelNoTrap(name) {
					if m.noTrap == nil {
						m.noTrap = make(map[uint32]bool)
					}
					m.noTrap[m.importedFuncs] = true
				}
				m.importedFuncs++
			case 0x01: // table
				rt := r.refType()
				if _, err := r.tableLimits(); err != nil {
					return err
				}
				m.tables = append(m.tables, rt)
			case 0x02: // memory
				if err := r.memLimits(); err != nil {
					return err
				}
				m.memories++
			case 0x03: // global
				r.valType()
				r.byte()
				m.globals++
			case 0x04: // tag
				r.byte()
				r.u32()
			default:
				return fmt.Errorf("%w: import kind %#x", ErrInvalid, kind)
			}
		}
	case secFunction:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			if err := m.addFunc(r.u32()); err != nil {
				return err
			}
		}
	case secTable:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			init := r.more() && r.b[r.pos] == 0x40
			if init {
				r.byte()
				r.byte()
			}
			rt := r.refType()
			min, err := r.tableLimits()
			if err != nil {
				return err
			}
			if init {
				if err := m.constExpr(r); err != nil {
					return err
				}
			}
			m.tables = append(m.tables, rt)
			m.tableElems += int64(min)
		}
	case secMemory:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			if err := r.memLimits(); err != nil {
				return err
			}
			m.memories++
		}
	case secGlobal:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.valType()
			r.byte()
			if err := m.constExpr(r); err != nil {
				return err
			}
			m.globals++
		}
	case secExport:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			name := r.name()
			kind := r.byte()
			idx := r.u32()
			if strings.HasPrefix(name, Reserved) {
				return fmt.Errorf("%w: it exports %q, a name palyra reserves", ErrInvalid, name)
			}
			if err := m.checkExport(kind, idx); err != nil {
				return err
			}
		}
	case secStart:
		idx := r.u32()
		if err := m.checkFunc(idx); err != nil {
			return err
		}
		m.start = int64(idx)
	case secElement:
		if err := m.scanElements(r); err != nil {
			return err
		}
	case secData:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			switch flags := r.u32(); flags {
			case 0:
				if err := m.constExpr(r); err != nil {
					return err
				}
			case 1:
			case 2:
				r.u32()
				if err := m.constExpr(r); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%w: data segment flags %d", ErrInvalid, flags)
			}
			r.bytes(int(r.u32()))
		}
	case secDataCount:
		// Read, to refuse an empty one: wazero takes it for a count of 0
		// at the end of a module, and reads into the next section when
		// Instrument adds one after it.
		r.u32()
	case secCode:
		m.codeSeen = true
		return nil // read by rewriteCode
	default:
		return nil
	}
	if r.err != nil {
		return r.fail(fmt.Sprintf("section %d", s.id))
	}
	if r.more() {
		return fmt.Errorf("%w: bytes after the end of section %d", ErrInvalid, s.id)
	}
	return nil
}

func (m *module) addFunc(typ uint32) error {
	if typ >= uint32(len(m.types)) {
		return fmt.Errorf("%w: function type %d out of range", ErrInvalid, typ)
	}
	m.funcTypes = append(m.funcTypes, typ)
	return nil
}

func (m *module) checkFunc(idx uint32) error {
	if idx >= m.funcs() {
		return fmt.Errorf("%w: function index %d out of range", ErrInvalid, idx)
	}
	return nil
}

func (m *module) checkGlobal(idx uint32) error {
	if idx >= m.globals {
		return fmt.Errorf("%w: global index %d out of range", ErrInvalid, idx)
	}
	return nil
}

func (m *module) checkExport(kind byte, idx uint32) error {
	var n uint32
	switch kind {
	case 0x00:
		n = m.funcs()
	case 0x01:
		n = uint32(len(m.tables))
	case 0x02:
		n = m.memories
	case 0x03:
		n = m.globals
	case 0x04:
		return nil // tags: Instrument adds none
	default:
		return fmt.Errorf("%w: export kind %#x", ErrInvalid, kind)
	}
	if idx >= n {
		return fmt.Errorf("%w: export of index %d out of range", ErrInvalid, idx)
	}
	return nil
}

// constExpr reads a constant expression, checking its function and global
// indices.
func (m *module) constExpr(r *reader) error {
	for r.err == nil {
		switch op := r.byte(); op {
		case opEnd:
			return nil
		case 0x41:
			r.s32()
		case 0x42:
			r.s64()
		case 0x43:
			r.bytes(4)
		case 0x44:
			r.bytes(8)
		case 0xd0: // ref.null
			r.heapType()
		case 0xd2: // ref.func
			if err := m.checkFunc(r.u32()); r.err == nil && err != nil {
				return err
			}
		case 0x23: // global.get
			if err := m.checkGlobal(r.u32()); r.err == nil && err != nil {
				return err
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant expressions
		case prefixSIMD:
			if op := r.u32(); op != 0x0c {
				return fmt.Errorf("%w: opcode 0xfd %#x in a constant expression", ErrInvalid, op)
			}
			r.bytes(16)
		default:
			if r.err == nil {
				return fmt.Errorf("%w: opcode %#x in a constant expression", ErrInvalid, op)
			}
		}
	}
	return r.fail("constant expression")
}

func (m *module) scanElements(r *reader) error {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		flags := r.u32()
		if flags > 7 {
			return fmt.Errorf("%w: element segment flags %d", ErrInvalid, flags)
		}
		if flags&0x02 != 0 && flags&0x01 == 0 { // explicit table index
			r.u32()
		}
		if flags&0x01 == 0 { // active: offset
			if err := m.constExpr(r); err != nil {
				return err
			}
		}
		if flags&0x03 != 0 { // elemkind or reftype
			if flags&0x04 == 0 {
				r.byte()
			} else {
				r.refType()
			}
		}
		for k := r.u32(); k > 0 && r.err == nil; k-- {
			if flags&0x04 != 0 {
				if err := m.constExpr(r); err != nil {
					return err
				}
			} else if err := m.checkFunc(r.u32()); r.err == nil && err != nil {
				return err
			}
		}
	}
	return nil
}

// addType returns the index of the added function type whose encoding
// (after 0x60) is enc.
func (m *module) addType(enc []byte) uint32 {
	if i, ok := m.typeIndex[string(enc)]; ok {
		return i
	}
	i := uint32(len(m.types) + len(m.addedTypes))
	m.typeIndex[string(enc)] = i
	m.addedTypes = append(m.addedTypes, enc)
	return i
}

// vecAppend returns a vector section payload with count+n elements: the
// old ones (payload without its count) followed by elems.
func vecAppend(payload []byte, n int, elems []byte) []byte {
	r := &reader{b: payload}
	c := r.u32()
	out := appendU32(nil, c+uint32(n))
	out = append(out, payload[r.pos:]...)
	return append(out, elems...)
}

// vec is a vector of entries being built: count and bytes.
type vec struct {
	n int
	b []byte
}

func (m *module) rewrite(secs []section) ([]byte, error) {
	if !m.codeSeen && m.funcs() > m.importedFuncs {
		return nil, fmt.Errorf("%w: functions without a code section", ErrInvalid)
	}
	if uint64(len(m.types))+uint64(len(m.tables))+8 > math.MaxUint32/2 ||
		uint64(m.funcs())+uint64(len(m.tables))+2 > math.MaxUint32/2 ||
		uint64(m.globals)+6 > math.MaxUint32/2 {
		return nil, fmt.Errorf("%w: too many definitions", ErrInvalid)
	}
	m.typeIndex = make(map[string]uint32)
	m.refill = m.funcs()
	m.kill = m.globals
	m.fuel, m.reserve, m.elems, m.limit, m.bulk = m.kill+1, m.kill+2, m.kill+3, m.kill+4, m.kill+5
	m.yield = m.refill + 1 + uint32(len(m.tables))

	// Added functions: $refill, one table.grow helper per table, $yield.
	var funcs, code vec
	funcs.b = appendU32(funcs.b, m.addType([]byte{0x01, 0x7e, 0x01, 0x7e})) // (i64) -> i64
	code.b = appendBody(code.b, m.refillBody())
	funcs.n, code.n = 1, 1
	for t, rt := range m.tables {
		enc := append(append([]byte{0x02}, rt...), 0x7f, 0x01, 0x7f) // (ref, i32) -> i32
		funcs.b = appendU32(funcs.b, m.addType(enc))
		code.b = appendBody(code.b, m.growBody(uint32(t)))
		funcs.n++
		code.n++
	}
	funcs.b = appendU32(funcs.b, m.addType([]byte{0x01, 0x7e, 0x00})) // (i64) -> ()
	code.b = appendBody(code.b, m.yieldBody())
	funcs.n++
	code.n++

	var globals vec
	globals.b = append(globals.b, 0x7f, 0x01, 0x41, 0x00, 0x0b) // $kill: mut i32 = 0
	globals.b = append(globals.b, 0x7e, 0x01, 0x42, 0x00, 0x0b) // $fuel: mut i64 = 0
	globals.b = append(globals.b, 0x7e, 0x01, 0x42, 0x00, 0x0b) // $reserve: mut i64 = 0
	globals.b = append(globals.b, 0x7e, 0x01, 0x42)             // $elems: mut i64 = sum of minimums
	globals.b = appendS64(globals.b, m.tableElems)
	globals.b = append(globals.b, 0x0b)
	globals.b = append(globals.b, 0x7e, 0x01, 0x42, 0x00, 0x0b) // $limit: mut i64 = 0
	globals.b = append(globals.b, 0x7e, 0x01, 0x42)             // $bulk: mut i64 = BulkSlice
	globals.b = appendS64(globals.b, BulkSlice)
	globals.b = append(globals.b, 0x0b)
	globals.n = 6

	var exports vec
	for _, e := range []struct {
		name string
		kind byte
		idx  uint32
	}{
		{KillGlobal, 0x03, m.kill},
		{FuelGlobal, 0x03, m.fuel},
		{ReserveGlobal, 0x03, m.reserve},
		{TableElemsGlobal, 0x03, m.elems},
		{TableLimitGlobal, 0x03, m.limit},
	} {
		exports.b = appendName(exports.b, e.name)
		exports.b = append(exports.b, e.kind)
		exports.b = appendU32(exports.b, e.idx)
		exports.n++
	}
	if m.start >= 0 {
		exports.b = appendName(exports.b, StartExport)
		exports.b = append(exports.b, 0x00)
		exports.b = appendU32(exports.b, uint32(m.start))
		exports.n++
	}

	// The code section first: it may add types.
	var newCode []byte
	for _, s := range secs {
		if s.id == secCode {
			c, err := m.rewriteCode(s.payload)
			if err != nil {
				return nil, err
			}
			newCode = c
		}
	}
	if newCode == nil {
		newCode = []byte{0x00}
	}

	var types vec
	for _, enc := range m.addedTypes {
		types.b = append(append(types.b, 0x60), enc...)
		types.n++
	}

	add := map[byte]vec{
		secType:     types,
		secFunction: funcs,
		secGlobal:   globals,
		secExport:   exports,
		secCode:     code,
	}
	if m.memories == 0 {
		add[secMemory] = vec{1, []byte{0x00, 0x00}} // min 0, no max
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
			v, ok := add[id]
			if !ok || order[id] >= o {
				continue
			}
			delete(add, id)
			payload := []byte{0x00}
			if id == secCode {
				payload = newCode
			}
			emit(id, vecAppend(payload, v.n, v.b))
		}
	}
	for _, s := range secs {
		if s.id == secCustom {
			emit(s.id, s.payload)
			continue
		}
		emitNew(order[s.id])
		if s.id == secStart {
			continue // exported as StartExport instead
		}
		v, ok := add[s.id]
		if !ok {
			emit(s.id, s.payload)
			continue
		}
		delete(add, s.id)
		payload := s.payload
		if s.id == secCode {
			payload = newCode
		}
		emit(s.id, vecAppend(payload, v.n, v.b))
	}
	emitNew(len(order) + 1)
	return out, nil
}

// appendBody appends a code entry: the size of body, then body.
func appendBody(b, body []byte) []byte {
	return append(appendU32(b, uint32(len(body))), body...)
}

// refillBody is $refill (param $counter i64) (result i64), with locals
// $total and $slice. It is called when the counter reached 0 and returns
// the counter to go on with.
//
// Moving fuel from the reserve to the counter keeps reserve - counter,
// the fuel left. The stored counter (FuelGlobal), which wasmtime would not
// have changed here, is shifted by as much, so that the fuel left as the
// host reads it after a later trap is what wasmtime would report.
func (m *module) refillBody() []byte {
	var b []byte
	b = append(b, 0x01, 0x02, 0x7e) // locals: 2 x i64
	// if $kill { $fuel = $counter; unreachable }
	b = append(b, 0x23)
	b = appendU32(b, m.kill)
	b = append(b, 0x04, 0x40, 0x20, 0x00, 0x24)
	b = appendU32(b, m.fuel)
	b = append(b, 0x00, 0x0b)
	// Leave compiled code, for Go to preempt the goroutine.
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0; memory.grow 0; drop
	// $total = $reserve - $counter
	b = append(b, 0x23)
	b = appendU32(b, m.reserve)
	b = append(b, 0x20, 0x00, 0x7d, 0x22, 0x01) // local.get 0; i64.sub; local.tee 1
	// if $total <= 0 { $fuel = $counter - $reserve - 1; $reserve = -1; unreachable }
	// A reserve of -1, which nothing else sets, is how the host tells
	// running out of fuel from a later trap: reserve - fuel stays $total.
	b = append(b, 0x42, 0x00, 0x57, 0x04, 0x40) // i64.const 0; i64.le_s; if
	b = append(b, 0x20, 0x00, 0x23)
	b = appendU32(b, m.reserve)
	b = append(b, 0x7d, 0x42, 0x01, 0x7d, 0x24) // i64.sub; i64.const 1; i64.sub; global.set
	b = appendU32(b, m.fuel)
	b = append(b, 0x42, 0x7f, 0x24) // i64.const -1
	b = appendU32(b, m.reserve)
	b = append(b, 0x00, 0x0b)
	// $slice = min($total, FuelSlice)
	b = append(b, 0x20, 0x01, 0x42) // local.get 1; i64.const FuelSlice
	b = appendS64(b, FuelSlice)
	b = append(b, 0x20, 0x01, 0x42) // local.get 1; i64.const FuelSlice
	b = appendS64(b, FuelSlice)
	b = append(b, 0x53, 0x1b, 0x21, 0x02) // i64.lt_s; select; local.set 2
	// $fuel += ($total - $slice) - $reserve
	b = append(b, 0x23)
	b = appendU32(b, m.fuel)
	b = append(b, 0x20, 0x01, 0x20, 0x02, 0x7d, 0x23)
	b = appendU32(b, m.reserve)
	b = append(b, 0x7d, 0x7c, 0x24)
	b = appendU32(b, m.fuel)
	// $reserve = $total - $slice
	b = append(b, 0x20, 0x01, 0x20, 0x02, 0x7d, 0x24)
	b = appendU32(b, m.reserve)
	// return -$slice
	b = append(b, 0x42, 0x00, 0x20, 0x02, 0x7d)
	return append(b, opEnd)
}

// yieldBody is $yield (param $counter i64), called when the bytes moved
// by bulk operations since the last call reach BulkSlice: it traps when
// KillGlobal is set (storing the counter, as a kill check does), starts
// the next BulkSlice, and leaves compiled code as $refill does.
func (m *module) yieldBody() []byte {
	var b []byte
	b = append(b, 0x00) // no locals
	// if $kill { $fuel = $counter; unreachable }
	b = append(b, 0x23)
	b = appendU32(b, m.kill)
	b = append(b, 0x04, 0x40, 0x20, 0x00, 0x24)
	b = appendU32(b, m.fuel)
	b = append(b, 0x00, 0x0b)
	// $bulk = BulkSlice
	b = append(b, 0x42)
	b = appendS64(b, BulkSlice)
	b = append(b, 0x24)
	b = appendU32(b, m.bulk)
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0; memory.grow 0; drop
	return append(b, opEnd)
}

// growBody is the function that replaces table.grow of table t:
// (param $ref reftype) (param $delta i32) (result i32), with a local
// $result i32.
func (m *module) growBody(t uint32) []byte {
	var b []byte
	b = append(b, 0x01, 0x01, 0x7f) // locals: 1 x i32
	// if $elems + u64($delta) > $limit { return -1 }
	b = append(b, 0x20, 0x01, 0xad, 0x23) // local.get 1; i64.extend_i32_u; global.get $elems
	b = appendU32(b, m.elems)
	b = append(b, 0x7c, 0x23) // i64.add; global.get $limit
	b = appendU32(b, m.limit)
	b = append(b, 0x56, 0x04, 0x40, 0x41, 0x7f, 0x0f, 0x0b) // i64.gt_u; if; i32.const -1; return; end
	// $result = table.grow t ($ref, $delta)
	b = append(b, 0x20, 0x00, 0x20, 0x01, prefixMisc, 0x0f)
	b = appendU32(b, t)
	b = append(b, 0x22, 0x02) // local.tee 2
	// if $result != -1 { $elems += u64($delta) }
	b = append(b, 0x41, 0x7f, 0x47, 0x04, 0x40, 0x23) // i32.const -1; i32.ne; if; global.get $elems
	b = appendU32(b, m.elems)
	b = append(b, 0x20, 0x01, 0xad, 0x7c, 0x24) // local.get 1; i64.extend_i32_u; i64.add; global.set
	b = appendU32(b, m.elems)
	b = append(b, 0x0b, 0x20, 0x02) // end; local.get 2
	return append(b, opEnd)
}
