package runtime

import (
	"sync"
	"sync/atomic"
	"time"
)

// watchdogTick is how often the watchdog looks for calls past their
// deadline while any call with a timeout is in progress: a timeout fires
// up to this much late.
const watchdogTick = 2 * time.Millisecond

// watchdog enforces the plugins' Timeout: one goroutine per Runtime kills
// the instances whose call ran past its deadline.
//
// A time.Timer per instance, reset and stopped around every call, costs
// about 100 ns a call — most of a no-op call. A call instead stores its
// deadline in an atomic of its instance: nothing shared is written, so
// calls on other cores do not contend. The goroutine ticks while calls are
// made and goes to sleep after watchdogIdleTicks without one; a call wakes
// it only then, so that back-to-back calls do not each wake a goroutine.
type watchdog struct {
	sleeping atomic.Bool   // the goroutine waits for wake
	wake     chan struct{} // a call began while the goroutine slept
	done     chan struct{} // closed by stop

	mu        sync.Mutex
	instances map[*instance]struct{} // those of plugins with a Timeout
	started   bool
	stopped   bool
}

func newWatchdog() *watchdog {
	return &watchdog{
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		instances: make(map[*instance]struct{}),
	}
}

// add watches inst, starting the goroutine on first use.
func (w *watchdog) add(inst *instance) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.instances[inst] = struct{}{}
	if !w.started && !w.stopped {
		w.started = true
		go w.run()
	}
}

func (w *watchdog) remove(inst *instance) {
	w.mu.Lock()
	delete(w.instances, inst)
	w.mu.Unlock()
}

// begin arms inst's deadline for a call of at most timeout.
func (w *watchdog) begin(inst *instance, timeout time.Duration) {
	inst.deadline.Store(time.Now().Add(timeout).UnixNano())
	if w.sleeping.Load() && w.sleeping.CompareAndSwap(true, false) {
		w.wake <- struct{}{} // buffered: the one wake-up
	}
}

// end disarms inst's deadline. It reports false if the deadline had
// passed and the watchdog is killing the instance.
func (w *watchdog) end(inst *instance) bool {
	return inst.deadline.Swap(0) != 0
}

// stop ends the goroutine.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.stopped = true
		close(w.done)
	}
}

// watchdogIdleTicks is how many ticks without a call in progress the
// goroutine waits before it sleeps.
const watchdogIdleTicks = 50

func (w *watchdog) run() {
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	idle := 0
	for {
		var active bool
		select {
		case now := <-t.C:
			active = w.expire(now.UnixNano())
		case <-w.done:
			return
		}
		if active {
			idle = 0
			continue
		}
		if idle++; idle < watchdogIdleTicks {
			continue
		}
		// Sleep. A call that stores its deadline after sleeping is set
		// sees it and wakes the goroutine; one that stored it before is
		// seen by this last look.
		idle = 0
		w.sleeping.Store(true)
		if w.expire(time.Now().UnixNano()) && w.sleeping.CompareAndSwap(true, false) {
			continue
		}
		t.Stop()
		select {
		case <-w.wake:
		case <-w.done:
			return
		}
		t.Reset(watchdogTick)
	}
}

// expire kills the instances whose deadline is before now, and reports
// whether any call was in progress. Taking the deadline with a
// compare-and-swap means a call that has just ended (and may be starting
// another) is never killed for the old one.
func (w *watchdog) expire(now int64) (active bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for inst := range w.instances {
		d := inst.deadline.Load()
		if d == 0 {
			continue
		}
		active = true
		if d <= now && inst.deadline.CompareAndSwap(d, 0) {
			inst.kill(killTimeout)
		}
	}
	return active
}
