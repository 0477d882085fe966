;; Known fuel costs, by wasmtime's rules: every operator costs 1 except
;; nop, drop, block, loop, unreachable, return, else and end, and a
;; function costs 1 to enter.
(module
  ;; 1 (entry) + 1 (i32.const) = 2.
  (func (export "const") (result i32) (i32.const 0))
  ;; Counts $n down from 1000: 1 + 2 (local.set of a const) + 1000 x 5
  ;; (local.get, i32.const, i32.sub, local.tee, br_if) + 1 = 5004.
  (func (export "loop") (result i32)
    (local $n i32)
    (local.set $n (i32.const 1000))
    (loop $l
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.const 0))
  ;; Never stops, but spends fuel.
  (func (export "spin") (result i32)
    (loop $l (br $l))
    (i32.const 0)))
