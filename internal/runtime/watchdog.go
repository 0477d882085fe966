package runtime

import (
	"sync"
	"sync/atomic"
	"time"
)

// watchdog enforces the plugins' Timeout: one goroutine per Runtime kills
// the instances whose call ran past its deadline.
//
// A time.Timer per instance, reset and stopped around every call, costs
// about 100 ns a call — most of a no-op call. A call instead stores its
// deadline in an atomic of its instance: nothing shared is written, so
// calls on other cores do not contend. Deadlines are monotonic
// nanoseconds since the watchdog's epoch (time.Since reads only the
// monotonic clock), so a step of the wall clock moves none of them.
//
// The goroutine does not tick: it sleeps until the earliest deadline of
// the calls in progress, or, since a call that begins while it sleeps
// does not wake it, until minTimeout from its last look (no call that
// begins later can end sooner). With nothing in progress for that long,
// it sleeps until a call begins and wakes it: back-to-back calls do not
// each wake a goroutine, and a process whose calls have a 30 s timeout
// sees it wake every 30 s, not every 2 ms.
//
// The goroutine is the backstop, for a guest that waits in a host
// function. A guest running its own code is also stopped by its own
// goroutine: whenever it grows its memory (expire), which is where a
// guest makes the Go runtime allocate, so that a garbage collection it
// provokes cannot delay its own deadline by delaying this goroutine.
type watchdog struct {
	epoch    time.Time
	sleeping atomic.Bool   // the goroutine waits for wake
	wake     chan struct{} // a call began while the goroutine slept
	done     chan struct{} // closed by stop

	mu         sync.Mutex
	instances  map[*instance]struct{} // those of plugins with a Timeout
	minTimeout time.Duration          // the shortest of their timeouts
	scans      atomic.Int64           // looks at the instances, for tests
	started    bool
	stopped    bool
}

func newWatchdog() *watchdog {
	return &watchdog{
		epoch:     time.Now(),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		instances: make(map[*instance]struct{}),
	}
}

// now is the watchdog's clock: monotonic nanoseconds since its epoch.
func (w *watchdog) now() int64 { return int64(time.Since(w.epoch)) }

// add watches inst, whose calls have the given timeout, starting the
// goroutine on first use.
func (w *watchdog) add(inst *instance, timeout time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.instances[inst] = struct{}{}
	if w.minTimeout == 0 || timeout < w.minTimeout {
		// The goroutine may be waiting for longer than this timeout.
		w.minTimeout = timeout
		select {
		case w.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
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
	inst.deadline.Store(w.now() + int64(timeout))
	if w.sleeping.Load() && w.sleeping.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// end disarms inst's deadline. It reports false if the deadline had
// passed and the instance is being killed.
func (w *watchdog) end(inst *instance) bool {
	return inst.deadline.Swap(0) != 0
}

// expire kills inst if its call is past its deadline, and reports
// whether it is. It may be called from any goroutine: the instance's own
// call checks this way at the points where it would otherwise depend on
// the watchdog goroutine being scheduled. Taking the deadline with a
// compare-and-swap means an instance is killed once, and a call that
// has just ended (and may be starting another) never for the old one.
func (w *watchdog) expire(inst *instance, now int64) bool {
	d := inst.deadline.Load()
	if d == 0 || d > now || !inst.deadline.CompareAndSwap(d, 0) {
		return false
	}
	inst.kill(killTimeout)
	return true
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

func (w *watchdog) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	idle := false // the last look found nothing in progress
	for {
		next, minTimeout := w.scan()
		now := w.now()
		switch {
		case next != 0:
			idle = false
		case !idle:
			// Nothing in progress: look again once no call that began
			// since can have reached its deadline, and sleep then if
			// there is still nothing.
			idle = true
		default:
			idle = false
			// Sleep. A call that stores its deadline after sleeping is
			// set sees it and wakes the goroutine; one that stored it
			// before is seen by this last look.
			w.sleeping.Store(true)
			if next, _ := w.scan(); next != 0 && w.sleeping.CompareAndSwap(true, false) {
				continue
			}
			select {
			case <-w.wake:
				continue
			case <-w.done:
				return
			}
		}
		wait := time.Duration(now) + minTimeout
		if next != 0 && next < int64(wait) {
			wait = time.Duration(next)
		}
		t.Reset(wait - time.Duration(now))
		select {
		case <-t.C:
		case <-w.wake: // a shorter timeout was added
		case <-w.done:
			return
		}
	}
}

// scan kills the instances past their deadline and returns the earliest
// deadline still armed (0: none), and the shortest timeout.
func (w *watchdog) scan() (next int64, minTimeout time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scans.Add(1)
	now := w.now()
	for inst := range w.instances {
		if w.expire(inst, now) {
			continue
		}
		if d := inst.deadline.Load(); d != 0 && (next == 0 || d < next) {
			next = d
		}
	}
	return next, w.minTimeout
}
