;; memory.atomic.wait on a shared memory, with no timeout: wazero would
;; block the goroutine where no kill flag reaches it. The runtime does not
;; enable threads, so such a module does not compile.
(module
  (memory 1 1 shared)
  (func (export "run") (result i32)
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
    (i32.const 0)))
