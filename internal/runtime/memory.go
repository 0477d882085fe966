package runtime

import (
	"github.com/tetratelabs/wazero/experimental"
)

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
// A budget is used by one goroutine at a time: memories grow only during
// a call, and are freed only when the instance is closed.
type memoryBudget struct {
	limit, used uint64
	// refused records that a growth was refused since the last call began.
	refused bool
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

func (m *linearMemory) Reallocate(size uint64) []byte {
	old := uint64(len(m.buf))
	if size > old {
		if size-old > m.b.limit-m.b.used {
			m.b.refused = true
			return nil
		}
		m.b.used += size - old
	} else {
		m.b.used -= old - size
	}
	if size <= uint64(cap(m.buf)) {
		if m.buf == nil {
			// wazero takes nil for a refusal, even of 0 bytes.
			m.buf = []byte{}
		}
		m.buf = m.buf[:size]
		return m.buf
	}
	// Double, but never reserve more than the memory or the budget could
	// ever use.
	c := max(size, 2*uint64(cap(m.buf)))
	c = min(c, m.max, size+(m.b.limit-m.b.used))
	buf := make([]byte, size, max(c, size))
	copy(buf, m.buf)
	m.buf = buf
	return buf
}

func (m *linearMemory) Free() {
	m.b.used -= uint64(len(m.buf))
	m.buf = nil
}
