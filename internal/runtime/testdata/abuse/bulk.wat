;; Loops whose bodies are bulk memory operations of 62 MB: each is one
;; instruction to a counter, and takes milliseconds.
(module
  (memory 1000)
  ;; Touches every page once: the first touch of fresh memory costs the
  ;; host's kernel page faults, a one-off bounded by the memory quota.
  (func (export "touch") (result i32)
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 65536000))
    (i32.const 0))
  (func (export "copy_loop") (result i32)
    (loop $l
      (memory.copy (i32.const 1) (i32.const 0) (i32.const 62000000))
      (br $l))
    (i32.const 0))
  (func (export "copy100_loop") (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.const 0))
      (loop $inner
        (memory.copy (i32.const 1) (i32.const 0) (i32.const 62000000))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $i) (i32.const 100))))
      (br $l))
    (i32.const 0))
  (func (export "fill_loop") (result i32)
    (loop $l
      (memory.fill (i32.const 0) (i32.const 7) (i32.const 62000000))
      (br $l))
    (i32.const 0))
  (func (export "grow_loop") (result i32)
    (loop $l
      (drop (memory.grow (i32.const 1)))
      (drop (memory.grow (i32.const -1)))
      (br $l))
    (i32.const 0)))
