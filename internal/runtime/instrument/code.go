package instrument

import (
	"fmt"
	"math"
)

// Opcodes and prefixes the walk treats specially.
const (
	opUnreachable = 0x00
	opNop         = 0x01
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opElse        = 0x05
	opTry         = 0x06 // legacy exception handling
	opCatch       = 0x07 // legacy
	opThrow       = 0x08
	opRethrow     = 0x09 // legacy
	opThrowRef    = 0x0a
	opEnd         = 0x0b
	opBr          = 0x0c
	opBrIf        = 0x0d
	opBrTable     = 0x0e
	opReturn      = 0x0f
	opCall        = 0x10
	opCallInd     = 0x11
	opRetCall     = 0x12
	opRetCallInd  = 0x13
	opCallRef     = 0x14
	opRetCallRef  = 0x15
	opDelegate    = 0x18 // legacy
	opCatchAll    = 0x19 // legacy
	opDrop        = 0x1a
	opTryTable    = 0x1f
	opLocalGet    = 0x20
	opLocalTee    = 0x22
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opMemoryGrow  = 0x40
	opRefFunc     = 0xd2
	opBrOnNull    = 0xd5
	opBrOnNonNull = 0xd6
	prefixMisc    = 0xfc
	prefixSIMD    = 0xfd
	prefixAtoms   = 0xfe
)

// Sub-opcodes of prefixMisc that may take long: table.grow is followed by
// a check of the kill flag, the others are metered by length.
const (
	miscMemoryInit = 0x08
	miscMemoryCopy = 0x0a
	miscMemoryFill = 0x0b
	miscTableInit  = 0x0c
	miscTableCopy  = 0x0e
	miscTableGrow  = 0x0f
	miscTableFill  = 0x11
)

// cost is wasmtime's default fuel cost of an operator (its
// default_operator_cost): nothing for those that compile to no code or
// only to control flow, 1 for every other.
func cost(op byte) int64 {
	switch op {
	case opNop, opDrop, opBlock, opLoop, opUnreachable, opReturn, opElse, opEnd:
		return 0
	}
	return 1
}

// frame is a block on the control stack, with what wasmtime's translator
// knows of its reachability.
type frame struct {
	op           byte // opBlock, opLoop, opIf, opTry, opTryTable; opBlock for the function
	branchedTo   bool // a reachable branch targets its end
	headReached  bool // if: the if itself was reachable
	hasElse      bool // if: its else was seen
	consequentOK bool // if with else: the consequent ended reachable
}

// body rewrites one function.
type body struct {
	m       *module
	out     []byte
	fuel    uint32 // the local holding the counter
	tmp     uint32 // an i64 local for call_ref and bulk operations, declared if used
	usesTmp bool
	length  uint32 // an i32 local for the length of bulk operations, declared if used
	usesLen bool
	wrapped bool // the body is in a block, for branches to the function's label
	frames  []frame
	// reachable and pending are wasmtime's: whether the code being read
	// can run, and the cost of the operators read since the last flush.
	reachable bool
	pending   int64
}

// rewriteCode rewrites the code section payload, adding fuel metering to
// every function.
func (m *module) rewriteCode(payload []byte) ([]byte, error) {
	r := &reader{b: payload}
	n := r.u32()
	if r.err == nil && n != m.funcs()-m.importedFuncs {
		return nil, fmt.Errorf("%w: %d function bodies for %d functions", ErrInvalid, n, m.funcs()-m.importedFuncs)
	}
	out := appendU32(make([]byte, 0, len(payload)+len(payload)/4), n)
	var fb []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		b := r.bytes(int(size))
		if r.err != nil {
			return nil, r.fail("code section")
		}
		var err error
		fb, err = m.rewriteBody(fb[:0], b, m.types[m.funcTypes[m.importedFuncs+i]])
		if err != nil {
			return nil, fmt.Errorf("%w (function %d of the code section)", err, i)
		}
		out = appendBody(out, fb)
	}
	if r.more() {
		return nil, fmt.Errorf("%w: bytes after the code section's functions", ErrInvalid)
	}
	return out, nil
}

// rewriteBody appends to out the function body b, of type t, metered.
func (m *module) rewriteBody(out, b []byte, t funcType) ([]byte, error) {
	r := &reader{b: b}
	entries := r.u32()
	locals := uint64(t.params)
	for n := entries; n > 0 && r.err == nil; n-- {
		locals += uint64(r.u32())
		r.valType()
	}
	if r.err != nil {
		return nil, r.fail("locals")
	}
	if locals > math.MaxUint32-3 {
		return nil, fmt.Errorf("%w: %d locals", ErrInvalid, locals)
	}
	declared := b[:r.pos]

	f := &body{
		m:         m,
		fuel:      uint32(locals),
		tmp:       uint32(locals) + 1,
		length:    uint32(locals) + 2,
		frames:    []frame{{op: opBlock}},
		reachable: true,
		pending:   1, // wasmtime's fuel_consumed starts at 1
	}
	// Entry: load the counter, add the call's cost, check.
	f.reload()
	f.flush()
	f.check()
	entry := len(f.out)

	if err := f.walk(r, uint32(locals)); err != nil {
		return nil, err
	}
	if r.more() {
		return nil, fmt.Errorf("%w: bytes after a function's end", ErrInvalid)
	}

	// Locals: the function's, then the counter, tmp and length if used.
	lr := &reader{b: declared}
	lr.u32()
	added := []byte{0x01, 0x7e} // one group: the counter (i64)
	switch {
	case f.usesLen: // the counter and tmp (i64), then length (i32)
		added = []byte{0x02, 0x7e, 0x01, 0x7f}
	case f.usesTmp: // the counter and tmp
		added = []byte{0x02, 0x7e}
	}
	out = appendU32(out, entries+uint32(len(added)/2))
	out = append(out, declared[lr.pos:]...)
	out = append(out, added...)
	out = append(out, f.out[:entry]...)
	if f.wrapped {
		// A branch to the function's label leaves it without passing its
		// end, where wasmtime's branch lands (and stores the counter):
		// the body goes into a block of the function's results, for the
		// branch to land after it.
		out = append(out, opBlock)
		switch t.nresults {
		case 0:
			out = append(out, 0x40)
		case 1:
			out = append(out, t.results...)
		default:
			out = appendS32(out, int32(m.addType(append(append([]byte{0x00}, appendU32(nil, uint32(t.nresults))...), t.results...))))
		}
	}
	return append(out, f.out[entry:]...), nil
}

// emit helpers: each appends instructions Instrument adds.

func (f *body) op(op byte, idx uint32) {
	f.out = append(f.out, op)
	f.out = appendU32(f.out, idx)
}

// flush adds the pending cost to the counter.
func (f *body) flush() {
	if f.pending == 0 {
		return
	}
	f.op(opLocalGet, f.fuel)
	f.out = append(f.out, 0x42)
	f.out = appendS64(f.out, f.pending)
	f.out = append(f.out, 0x7c) // i64.add
	f.op(0x21, f.fuel)          // local.set
	f.pending = 0
}

// save stores the counter in FuelGlobal.
func (f *body) save() {
	f.op(opLocalGet, f.fuel)
	f.op(opGlobalSet, f.m.fuel)
}

// reload loads the counter from FuelGlobal.
func (f *body) reload() {
	f.op(opGlobalGet, f.m.fuel)
	f.op(0x21, f.fuel)
}

// check calls $refill when the counter is >= 0 (the pending cost was
// flushed).
func (f *body) check() {
	f.op(opLocalGet, f.fuel)
	f.out = append(f.out, 0x42, 0x00, 0x59, opIf, 0x40) // i64.const 0; i64.ge_s; if
	f.op(opLocalGet, f.fuel)
	f.op(opCall, f.m.refill)
	f.op(0x21, f.fuel)
	f.out = append(f.out, opEnd)
}

// killCheck traps when KillGlobal is set, storing the counter first.
func (f *body) killCheck() {
	f.op(opGlobalGet, f.m.kill)
	f.out = append(f.out, opIf, 0x40)
	f.save()
	f.out = append(f.out, opUnreachable, opEnd)
}

// charge subtracts the length saved in f.length, shifted left by shift
// (to bytes), from $bulk, and calls $yield when $bulk goes negative. The hot path is a
// load, a subtraction, a store and a branch not taken.
func (f *body) charge(shift int64) {
	f.op(opGlobalGet, f.m.bulk)
	f.op(opLocalGet, f.length)
	f.out = append(f.out, 0xad) // i64.extend_i32_u
	if shift != 0 {
		f.out = append(f.out, 0x42)
		f.out = appendS64(f.out, shift)
		f.out = append(f.out, 0x86) // i64.shl
	}
	f.out = append(f.out, 0x7d) // i64.sub
	f.op(opLocalTee, f.tmp)
	f.op(opGlobalSet, f.m.bulk)
	f.op(opLocalGet, f.tmp)
	f.out = append(f.out, 0x42, 0x00, 0x53, opIf, 0x40) // i64.const 0; i64.lt_s; if
	f.op(opLocalGet, f.fuel)
	f.op(opCall, f.m.yield)
	f.out = append(f.out, opEnd)
}

// target marks the block a branch of the given depth targets as branched
// to, as wasmtime does for reachable branches.
func (f *body) target(depth uint32) error {
	if uint64(depth) >= uint64(len(f.frames)) {
		return fmt.Errorf("%w: branch depth %d out of range", ErrInvalid, depth)
	}
	if f.reachable {
		f.frames[len(f.frames)-1-int(depth)].branchedTo = true
	}
	return nil
}

// walk copies the instructions of a function body from r to f.out, with
// the metering added, up to and including the function's end.
func (f *body) walk(r *reader, locals uint32) error {
	m := f.m
	copied := r.pos
	// copy appends the instruction read since copied.
	copyOp := func() {
		f.out = append(f.out, r.b[copied:r.pos]...)
		copied = r.pos
	}
	for len(f.frames) > 0 {
		if !r.more() {
			if r.err != nil {
				return r.fail("function body")
			}
			return fmt.Errorf("%w: function body ends inside a block", ErrInvalid)
		}
		copied = r.pos
		op := r.byte()
		live := f.reachable
		if live {
			f.pending += cost(op)
		}
		switch op {
		case opBlock, opTry:
			r.blockType()
			f.frames = append(f.frames, frame{op: op})
			copyOp()
		case opLoop:
			r.blockType()
			f.frames = append(f.frames, frame{op: op})
			if live {
				f.flush()
			}
			copyOp()
			if live {
				f.check()
			}
		case opIf:
			r.blockType()
			f.frames = append(f.frames, frame{op: op, headReached: live})
			if live {
				f.flush()
			}
			copyOp()
		case opTryTable:
			r.blockType()
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				switch kind := r.byte(); kind {
				case 0x00, 0x01: // catch, catch_ref: tag, label
					r.u32()
					fallthrough
				case 0x02, 0x03: // catch_all, catch_all_ref: label
					if err := f.target(r.u32()); r.err == nil && err != nil {
						return err
					}
				default:
					return fmt.Errorf("%w: catch kind %#x", ErrInvalid, kind)
				}
			}
			f.frames = append(f.frames, frame{op: op})
			copyOp()
		case opElse:
			top := &f.frames[len(f.frames)-1]
			if top.op != opIf || top.hasElse {
				return fmt.Errorf("%w: else outside an if", ErrInvalid)
			}
			if live {
				f.flush()
			}
			top.hasElse, top.consequentOK = true, live
			f.reachable = top.headReached
			copyOp()
		case opCatch, opCatchAll: // legacy: as else
			if op == opCatch {
				r.u32()
			}
			if f.frames[len(f.frames)-1].op != opTry {
				return fmt.Errorf("%w: catch outside a try", ErrInvalid)
			}
			if live {
				f.flush()
			}
			f.reachable = true
			copyOp()
		case opEnd, opDelegate:
			if op == opDelegate {
				r.u32()
			}
			if live {
				f.flush()
			}
			top := f.frames[len(f.frames)-1]
			f.frames = f.frames[:len(f.frames)-1]
			if !live {
				switch {
				case top.op == opLoop:
				case top.op == opTry:
					f.reachable = true
				case top.branchedTo:
					f.reachable = true
				case top.op == opIf && !top.hasElse:
					f.reachable = top.headReached
				case top.op == opIf:
					f.reachable = top.headReached && top.consequentOK
				}
			}
			if len(f.frames) == 0 {
				// The function's end: wasmtime stores the counter after it,
				// where branches to the function's label land too.
				if top.branchedTo {
					f.wrapped = true
					f.out = append(f.out, opEnd) // of the block rewriteBody adds
				}
				if f.reachable {
					f.save()
				}
			}
			copyOp()
		case opBr, opBrIf, opBrOnNull, opBrOnNonNull:
			if err := f.target(r.u32()); r.err == nil && err != nil {
				return err
			}
			if live {
				f.flush()
			}
			copyOp()
			if op == opBr {
				f.reachable = false
			}
		case opBrTable:
			for n := r.u32() + 1; n > 0 && r.err == nil; n-- { // targets and default
				if err := f.target(r.u32()); r.err == nil && err != nil {
					return err
				}
			}
			if live {
				f.flush()
			}
			copyOp()
			f.reachable = false
		case opUnreachable, opReturn, opThrow, opRethrow, opThrowRef,
			opRetCall, opRetCallInd, opRetCallRef, opCall, opCallInd:
			imported, noTrap := false, false // a call to an imported function
			switch op {
			case opThrow, opRethrow, opRetCallRef:
				r.u32()
			case opCall, opRetCall:
				callee := r.u32()
				if err := m.checkFunc(callee); r.err == nil && err != nil {
					return err
				}
				imported = callee < m.importedFuncs
				noTrap = op == opCall && m.noTrap[callee]
			case opCallInd, opRetCallInd:
				r.u32()
				r.u32()
			}
			if live {
				f.flush()
				if !noTrap {
					f.save()
				}
			}
			copyOp()
			if op == opCall || op == opCallInd {
				// An imported function is the host's (the kernel, Go):
				// it leaves the counter as it was, so there is nothing
				// to reload (a load per kernel call, 256 for a 1 KiB
				// Extism input). The store before it stays, for a trap
				// in it to count as wasmtime's does.
				if live && !imported {
					f.reload()
				}
			} else {
				f.reachable = false
			}
		case opCallRef:
			// wasmtime neither stores nor reloads the counter around
			// call_ref: the callee's fuel is not counted. The callee may
			// move fuel from the reserve to the slice, though, which
			// wasmtime, with no slices, would not: the counter is moved
			// by as much, to keep the fuel left.
			r.u32()
			if live {
				f.usesTmp = true
				f.op(opGlobalGet, m.reserve)
				f.op(0x21, f.tmp)
			}
			copyOp()
			if live {
				f.op(opLocalGet, f.fuel)
				f.op(opGlobalGet, m.reserve)
				f.out = append(f.out, 0x7c) // i64.add
				f.op(opLocalGet, f.tmp)
				f.out = append(f.out, 0x7d) // i64.sub
				f.op(0x21, f.fuel)
			}
		case opLocalGet, 0x21, opLocalTee:
			if idx := r.u32(); r.err == nil && idx >= locals {
				return fmt.Errorf("%w: local index %d out of range", ErrInvalid, idx)
			}
			copyOp()
		case opGlobalGet, opGlobalSet:
			if err := m.checkGlobal(r.u32()); r.err == nil && err != nil {
				return err
			}
			copyOp()
		case opRefFunc:
			if err := m.checkFunc(r.u32()); r.err == nil && err != nil {
				return err
			}
			copyOp()
		case opMemoryGrow:
			r.u32()
			copyOp()
			if live {
				f.killCheck()
			}
		case prefixMisc:
			sub := r.u32()
			if sub == miscTableGrow {
				// Replaced by a call to the table's grow function.
				table := r.u32()
				if r.err == nil && table >= uint32(len(m.tables)) {
					return fmt.Errorf("%w: table index %d out of range", ErrInvalid, table)
				}
				f.op(opCall, m.refill+1+table)
				copied = r.pos
				if live {
					f.killCheck()
				}
				break
			}
			if err := skipMisc(r, sub); err != nil {
				return err
			}
			switch sub {
			case miscMemoryInit, miscMemoryCopy, miscMemoryFill,
				miscTableInit, miscTableCopy, miscTableFill:
				if !live {
					copyOp()
					break
				}
				// The length is the operand on top of the stack: save it,
				// and charge it after the operation.
				f.usesTmp, f.usesLen = true, true
				f.op(opLocalTee, f.length)
				copyOp()
				shift := int64(0)
				if sub >= miscTableInit {
					shift = 3 // 8 bytes an element
				}
				f.charge(shift)
			default:
				copyOp()
			}
		default:
			if err := skipImmediates(r, op); err != nil {
				return err
			}
			copyOp()
		}
		if r.err != nil {
			return r.fail(fmt.Sprintf("instruction %#x", op))
		}
	}
	return nil
}

// skipImmediates reads the immediates of op, a non-block instruction.
func skipImmediates(r *reader, op byte) error {
	switch {
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0a || op == 0x0f ||
		op == 0x19 || op == 0x1a || op == 0x1b || op == 0xd1 || op == 0xd4:
		// unreachable, nop, else, throw_ref, return, catch_all, drop,
		// select, ref.is_null, ref.as_non_null
	case op == 0x07 || op == 0x08 || op == 0x09 || op == 0x0c || op == 0x0d ||
		op == 0x10 || op == 0x12 || op == 0x14 || op == 0x15 || op == 0xd2 ||
		op == 0xd5 || op == 0xd6 || (op >= 0x20 && op <= 0x26):
		// catch, throw, rethrow, br, br_if, call, return_call, call_ref,
		// return_call_ref, ref.func, br_on_null, br_on_non_null,
		// local.*, global.*, table.get/set: one index
		r.u32()
	case op == 0x0e: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.valType()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memArg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.s32()
	case op == 0x42:
		r.s64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op >= 0x45 && op <= 0xc4: // numeric
	case op == 0xd0: // ref.null
		r.heapType()
	case op == prefixMisc:
		return skipMisc(r, r.u32())
	case op == prefixSIMD:
		return skipSIMD(r)
	case op == prefixAtoms:
		return skipAtomic(r)
	default:
		return fmt.Errorf("%w: opcode %#x", ErrInvalid, op)
	}
	return nil
}

// skipMisc reads the immediates of op, the sub-opcode of prefixMisc.
func skipMisc(r *reader, op uint32) error {
	switch {
	case op <= 0x07: // saturating truncations
	case op == 0x08: // memory.init data mem
		r.u32()
		r.u32()
	case op == 0x09: // data.drop
		r.u32()
	case op == 0x0a: // memory.copy mem mem
		r.u32()
		r.u32()
	case op == 0x0b: // memory.fill mem
		r.u32()
	case op == 0x0c || op == 0x0e: // table.init elem table, table.copy table table
		r.u32()
		r.u32()
	case op == 0x0d || (op >= 0x0f && op <= 0x11): // elem.drop, table.grow/size/fill
		r.u32()
	default:
		return fmt.Errorf("%w: opcode 0xfc %#x", ErrInvalid, op)
	}
	return nil
}

func skipSIMD(r *reader) error {
	switch op := r.u32(); {
	case op <= 0x0b: // loads and stores
		r.memArg()
	case op == 0x0c || op == 0x0d: // v128.const, i8x16.shuffle
		r.bytes(16)
	case op >= 0x15 && op <= 0x22: // extract_lane, replace_lane
		r.byte()
	case op >= 0x54 && op <= 0x5b: // load_lane, store_lane
		r.memArg()
		r.byte()
	case op == 0x5c || op == 0x5d: // load32_zero, load64_zero
		r.memArg()
	case op <= 0x113: // the rest, and relaxed SIMD
	default:
		return fmt.Errorf("%w: opcode 0xfd %#x", ErrInvalid, op)
	}
	return nil
}

func skipAtomic(r *reader) error {
	switch op := r.u32(); {
	case op <= 0x02: // notify, wait32, wait64
		r.memArg()
	case op == 0x03: // atomic.fence
		r.byte()
	case op >= 0x10 && op <= 0x4e: // loads, stores, read-modify-writes
		r.memArg()
	default:
		return fmt.Errorf("%w: opcode 0xfe %#x", ErrInvalid, op)
	}
	return nil
}

// reader reads a Wasm binary. The first error sticks: later reads return
// zero values, and callers check err once after a group of reads.
type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) more() bool { return r.err == nil && r.pos < len(r.b) }

func (r *reader) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d: %v", ErrInvalid, what, r.pos, r.err)
}

var errTruncated = fmt.Errorf("truncated")

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.pos {
		r.err = errTruncated
		return nil
	}
	b := r.b[r.pos : r.pos+n]
	r.pos += n
	return b
}

// leb reads an LEB128 number of at most bits bits, and returns it with
// the last byte read.
func (r *reader) leb(bits int) (v uint64, last byte) {
	for i, shift := 0, 0; i < (bits+6)/7; i, shift = i+1, shift+7 {
		c := r.byte()
		if r.err != nil {
			return 0, 0
		}
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		if c&0x80 == 0 {
			return v, c
		}
	}
	r.err = fmt.Errorf("LEB128 number longer than %d bits", bits)
	return 0, 0
}

func (r *reader) u32() uint32 {
	v, _ := r.leb(32)
	if v > 0xffffffff && r.err == nil {
		r.err = fmt.Errorf("u32 out of range")
	}
	return uint32(v)
}

func (r *reader) s32() { r.leb(32) }
func (r *reader) s64() { r.leb(64) }

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

// valType reads a value type: one byte, or a reference type with a heap
// type (typed function references).
func (r *reader) valType() {
	switch c := r.byte(); c {
	case 0x63, 0x64: // (ref null ht), (ref ht)
		r.heapType()
	}
}

// heapType reads a heap type: an s33, one byte for the abstract ones.
func (r *reader) heapType() { r.leb(33) }

// blockType reads a block type: empty (0x40), a value type, or a type
// index (s33).
func (r *reader) blockType() {
	if r.more() && (r.b[r.pos] == 0x63 || r.b[r.pos] == 0x64) {
		r.valType()
		return
	}
	r.leb(33)
}

func (r *reader) memArg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.leb(64) // offset (u64 with memory64)
}

// memLimits reads the limits of a memory. A 64-bit memory (memory64),
// which wazero does not support, is refused: bulk operations on it would
// take i64 lengths.
func (r *reader) memLimits() error {
	flags := r.byte()
	if flags&^0x03 != 0 {
		return fmt.Errorf("%w: memory limits flags %#x", ErrInvalid, flags)
	}
	r.u32()
	if flags&0x01 != 0 {
		r.u32()
	}
	return nil
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendS32(b []byte, v int32) []byte { return appendS64(b, int64(v)) }

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// refType reads a reference type and returns its bytes.
func (r *reader) refType() []byte {
	from := r.pos
	r.valType()
	if r.err != nil {
		return nil
	}
	return r.b[from:r.pos]
}

// tableLimits reads the limits of a table and returns its minimum. A
// 64-bit table (memory64), which wazero does not support, is refused.
func (r *reader) tableLimits() (uint32, error) {
	flags := r.byte()
	if flags&^0x01 != 0 {
		return 0, fmt.Errorf("%w: table limits flags %#x", ErrInvalid, flags)
	}
	min := r.u32()
	if flags&0x01 != 0 {
		r.u32()
	}
	return min, nil
}
