package runtime

import (
	"fmt"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// tableElementBytes is what a table element counts for in the memory
// budget: wazero keeps each as a pointer.
const tableElementBytes = 8

// memoryBudget is one instance's memory quota, shared by the linear
// memories of its guest and its kernel. It is the wazero memory allocator
// of both (experimental.WithMemoryAllocator at instantiation): a
// memory.grow that would take the two past the limit fails, which the
// guest sees as memory.grow returning -1 and the kernel's alloc as 0.
//
// wazero's own limit (RuntimeConfig.WithMemoryLimitPages) is per runtime
// and per memory; a budget is per instance and counts both memories, so
// a plugin's quota holds whatever the split between them.
//
// The guest's tables count too, tableElementBytes an element: the
// instrumented guest keeps their total in a global (table_elems) and
// refuses a table.grow past another (table_limit), which the budget keeps
// at what the quota has room for, and at most maxTable elements.
//
// A budget is used by one goroutine at a time: memories and tables grow
// only during a call, and are freed only when the instance is closed.
//
// A growth is also where the call checks its own deadline: a guest that
// grows its memory makes the Go runtime allocate (and collect garbage),
// and a guest looping on memory.grow must be stopped by its own goroutine
// even when the watchdog's is slow to be scheduled. A growth past the
// deadline, or of an instance being stopped, is refused, and the copy of
// a moved memory is made in chunks, checking between them.
type memoryBudget struct {
	inst        *instance
	limit, used uint64 // used: by linear memories
	maxTable    int64
	// The guest's table globals; nil until it is instantiated.
	tableElems, tableLimit api.MutableGlobal
	// refused records that a growth was refused since the last call began.
	refused bool
}

// tableBytes is what the guest's tables take.
func (b *memoryBudget) tableBytes() uint64 {
	if b.tableElems == nil {
		return 0
	}
	return uint64(max(int64(b.tableElems.Get()), 0)) * tableElementBytes
}

// free is what the quota has room for.
func (b *memoryBudget) free() uint64 {
	taken := b.used + b.tableBytes()
	if taken >= b.limit {
		return 0
	}
	return b.limit - taken
}

// bindTables starts counting the guest's tables, whose initial size must
// fit in the quota.
func (b *memoryBudget) bindTables(elems, limit api.MutableGlobal) error {
	b.tableElems, b.tableLimit = elems, limit
	n := int64(elems.Get())
	if n > b.maxTable {
		return fmt.Errorf("%d table elements, more than the %d allowed", n, b.maxTable)
	}
	if b.used+uint64(n)*tableElementBytes > b.limit {
		b.refused = true
		return fmt.Errorf("%w (%d bytes, %d of them for %d table elements)", ErrMemoryLimit, b.limit, uint64(n)*tableElementBytes, n)
	}
	b.updateTableLimit()
	return nil
}

// updateTableLimit lets the guest's tables grow into what the quota has
// room for now.
func (b *memoryBudget) updateTableLimit() {
	if b.tableLimit == nil {
		return
	}
	elems := int64(b.tableElems.Get())
	room := int64(b.free() / tableElementBytes)
	b.tableLimit.Set(api.EncodeI64(min(b.maxTable, elems+room)))
}

func (b *memoryBudget) Allocate(_, max uint64) experimental.LinearMemory {
	return &linearMemory{b: b, max: max}
}

// linearMemory is a Go slice that grows by doubling, like wazero's default
// memory, within its budget.
type linearMemory struct {
	b   *memoryBudget
	buf []byte
	max uint64
}

// growChunk is how much of a memory is copied or faulted in between two
// checks of the call's deadline: some 0.1 ms of memmove.
const growChunk = 1 << 20

// pageSize is the granularity at which the kernel maps memory in.
const pageSize = 4096

// stopping reports whether the call in progress must stop: its instance
// was killed, or its deadline has passed (then this kills it). Outside a
// call (instantiation) it is always false. Not inlined: a call is where
// the goroutine can be preempted, between two chunks of a copy.
//
//go:noinline
func (b *memoryBudget) stopping() bool {
	inst := b.inst
	if inst == nil || inst.callCtx == nil {
		return false
	}
	if inst.killed.Load() != killNone {
		return true
	}
	w := inst.p.rt.watch
	return w.expire(inst, w.now())
}

// Reallocate grows the memory to size bytes, or refuses (nil): past the
// quota, past the call's deadline, or for an instance being stopped.
//
// The pages it adds are faulted in here, not where the guest first
// touches them: a bulk operation (memory.fill of 60 MB, say) runs in
// compiled code, where the goroutine cannot be preempted, and on fresh
// memory it would take one page fault per 4 KiB, some 100 ms, or more on a
// loaded machine. A garbage collection that must stop the goroutine to
// scan its stack would spin meanwhile, holding a P, and every goroutine of
// the process would wait: the watchdog too, and the guest would outlive
// its deadline. Here the faults are taken in chunks, between which the
// goroutine can be preempted and the deadline is checked; and the guest
// pays for them once, as it would have.
func (m *linearMemory) Reallocate(size uint64) []byte {
	old := uint64(len(m.buf))
	if size > old {
		if m.b.stopping() {
			return nil
		}
		if size-old > m.b.free() {
			m.b.refused = true
			return nil
		}
	}
	buf := m.buf
	if size > uint64(cap(buf)) {
		// Double, but never reserve more than the memory or the budget
		// could ever use.
		c := max(size, 2*uint64(cap(m.buf)))
		c = min(c, m.max, old+m.b.free()) // old+free: what the quota has room for
		buf = make([]byte, size, max(c, size))
		for off := 0; off < len(m.buf); off += growChunk {
			copy(buf[off:], m.buf[off:min(off+growChunk, len(m.buf))])
			if m.b.stopping() {
				return nil // the memory is unchanged
			}
		}
	} else if buf == nil {
		buf = []byte{} // wazero takes nil for a refusal, even of 0 bytes
	}
	buf = buf[:size]
	if size > old && !m.faultIn(buf, old) {
		return nil
	}
	m.resize(old, size)
	m.buf = buf
	return buf
}

// faultIn makes the kernel map the pages of buf[from:], which are zero,
// by writing a zero in each, a chunk at a time; it reports false if the
// call must stop (see stopping).
func (m *linearMemory) faultIn(buf []byte, from uint64) bool {
	to := uint64(len(buf))
	for off := from; off < to; off += growChunk {
		end := min(off+growChunk, to)
		// Every 4 KiB from off, and the last byte: each page of the
		// range gets a write, however buf is aligned.
		for i := off; i < end; i += pageSize {
			buf[i] = 0
		}
		buf[end-1] = 0
		if m.b.stopping() {
			return false
		}
	}
	return true
}

// resize counts a change of the memory's size in the budget.
func (m *linearMemory) resize(old, size uint64) {
	m.b.used = m.b.used + size - old
	m.b.updateTableLimit()
}

func (m *linearMemory) Free() {
	m.b.used -= uint64(len(m.buf))
	m.buf = nil
}
