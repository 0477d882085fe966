;; Functions run with a budget of fuel by TestBudget; budget.json lists the
;; calls and the fuel wasmtime (Config::consume_fuel, default costs)
;; consumes on each, worked out from its source: an oracle running
;; wasmtime can check it against budget.json too.
(module
  (memory 1)
  (func $nothing)
  ;; Never returns: out of fuel at the loop header where the fuel consumed
  ;; reaches the budget. 1 at entry, then 1 (br) per iteration.
  (func (export "spin") (loop (br 0)))
  ;; 1 + 5n for n >= 1: 5 per iteration (local.get, i32.const, i32.sub,
  ;; local.tee, br_if); checked at each of the n-1 loop headers after the
  ;; first, with 1 + 5k consumed after k iterations.
  (func (export "count") (param $n i32)
    (loop $l
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; c(n) = 6 for n < 2, else 14 + c(n-1) + c(n-2).
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  ;; 3 stored before the division (1 at entry, 1 for the call, 1 in the
  ;; callee); 6 when it does not trap; the 3 operators before a trap are
  ;; not stored, so not counted.
  (func (export "div") (param i32) (result i32)
    (call $nothing)
    (i32.div_u (i32.const 1) (local.get 0))))
