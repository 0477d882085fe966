;; Test module for package instrument: instructions with every kind of
;; immediate Instrument must step over (so that a wrong step shows as an
;; invalid module or a changed result), loops of several shapes, and the
;; ways a guest can run forever. Assembled by go generate with
;; wat2wasm --enable-threads --enable-tail-call.
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "envg" "base" (global $base i32))
  (type $un (func (param i32) (result i32)))
  (memory 1 2)
  (table $t 4 funcref)
  (global $acc (mut i32) (i32.const 0))
  (global $f64 f64 (f64.const 2.5))
  (elem (i32.const 0) $double $triple)
  (elem $passive func $double)
  (data $d "palyra instrument")

  (func $double (type $un) (i32.mul (local.get 0) (i32.const 2)))
  (func $triple (type $un) (i32.mul (local.get 0) (i32.const 3)))

  ;; sum returns base + 0 + 1 + ... + n-1, with a loop that takes and
  ;; returns values (multi-value block type).
  (func (export "sum") (param $n i32) (result i32)
    (local $i i32)
    (global.get $base)
    (loop $l (param i32) (result i32)
      (if (param i32) (result i32) (i32.ge_u (local.get $i) (local.get $n))
        (then (return)))
      (call $add (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))

  ;; fib is exponential recursion without a loop.
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; count tail-calls itself n times: return_call, no loop.
  (func $count (export "count") (param $n i32) (result i32)
    (if (i32.eqz (local.get $n)) (then (return (global.get $acc))))
    (global.set $acc (i32.add (global.get $acc) (i32.const 1)))
    (return_call $count (i32.sub (local.get $n) (i32.const 1))))

  (func (export "spin")
    (loop $l (br $l)))

  ;; nested spins in an inner loop that never exits to the outer one.
  (func (export "spin_nested") (result i32)
    (local $i i32)
    (block $out (result i32)
      (loop $outer
        (loop $inner
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $inner (i32.ne (local.get $i) (i32.const -1))))
        (br $outer))
      (i32.const 0)))

  ;; ops computes a checksum from instructions with immediates of each
  ;; kind; the test compares it before and after instrumentation.
  (func (export "ops") (param $x i32) (result i32)
    (local $r i32) (local $v v128) (local $l i64) (local $f f32)
    ;; br_table, in a loop
    (block $b2 (block $b1 (block $b0
      (br_table $b0 $b1 $b2 (i32.and (local.get $x) (i32.const 3))))
      (local.set $r (i32.const 100)))
      (local.set $r (i32.add (local.get $r) (i32.const 10))))
    ;; call_indirect, table.get/set/size/grow/fill, ref.null/is_null/func
    (local.set $r (i32.add (local.get $r)
      (call_indirect (type $un) (local.get $x) (i32.const 1))))
    (table.set $t (i32.const 2) (table.get $t (i32.const 0)))
    (local.set $r (i32.add (local.get $r)
      (call_indirect (type $un) (i32.const 5) (i32.const 2))))
    (drop (table.grow $t (ref.null func) (i32.const 1)))
    (table.fill $t (i32.const 3) (ref.func $triple) (i32.const 1))
    (local.set $r (i32.add (local.get $r) (table.size $t)))
    (local.set $r (i32.add (local.get $r) (ref.is_null (ref.null func))))
    ;; Segments are dropped once used: only the first ops(0) uses them.
    (if (i32.eqz (local.get $x))
      (then
        (table.init $t $passive (i32.const 3) (i32.const 0) (i32.const 1))
        (elem.drop $passive)
        (memory.init $d (i32.const 100) (i32.const 0) (i32.const 6))
        (data.drop $d)))
    (table.copy $t $t (i32.const 0) (i32.const 2) (i32.const 1))
    ;; typed select, memory ops, bulk memory
    (local.set $r (select (result i32) (local.get $r) (i32.const 7) (local.get $x)))
    (i32.store offset=8 align=4 (i32.const 0) (i32.const 0x01020304))
    (i64.store8 offset=12 (i32.const 0) (i64.const -1))
    (local.set $r (i32.add (local.get $r) (i32.load8_u offset=9 (i32.const 0))))
    (memory.copy (i32.const 200) (i32.const 100) (i32.const 6))
    (memory.fill (i32.const 300) (i32.const 0xab) (i32.const 4))
    (local.set $r (i32.add (local.get $r) (i32.load8_u (i32.const 203))))
    (local.set $r (i32.add (local.get $r) (i32.load8_u (i32.const 301))))
    (local.set $r (i32.add (local.get $r) (memory.size)))
    (local.set $r (i32.add (local.get $r) (memory.grow (i32.const 0))))
    ;; constants, saturating truncation, sign extension
    (local.set $l (i64.const 0x7fffffffffffffff))
    (local.set $f (f32.const 1e30))
    (local.set $r (i32.add (local.get $r)
      (i32.wrap_i64 (i64.shr_u (local.get $l) (i64.const 60)))))
    (local.set $r (i32.add (local.get $r)
      (i32.shr_u (i32.trunc_sat_f32_s (local.get $f)) (i32.const 28))))
    (local.set $r (i32.add (local.get $r)
      (i32.trunc_f64_s (global.get $f64))))
    (local.set $r (i32.add (local.get $r) (i32.extend8_s (i32.const 0x7f))))
    ;; SIMD: const, shuffle, lanes, lane loads, zero loads, stores
    (local.set $v (v128.const i32x4 1 2 3 4))
    (local.set $v (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11
      (local.get $v) (local.get $v)))
    (local.set $v (i32x4.replace_lane 3 (local.get $v) (i32.const 40)))
    (local.set $r (i32.add (local.get $r) (i32x4.extract_lane 0 (local.get $v))))
    (local.set $r (i32.add (local.get $r) (i32x4.extract_lane 3 (local.get $v))))
    (v128.store offset=400 (i32.const 0) (local.get $v))
    (local.set $v (v128.load8_lane offset=400 1 (i32.const 0) (local.get $v)))
    (v128.store32_lane offset=416 2 (i32.const 0) (local.get $v))
    (local.set $r (i32.add (local.get $r) (i32.load offset=416 (i32.const 0))))
    (local.set $v (v128.load32_zero offset=400 (i32.const 0)))
    (local.set $r (i32.add (local.get $r)
      (i32x4.extract_lane 0 (i32x4.add (local.get $v) (local.get $v)))))
    (local.set $r (i32.add (local.get $r) (i8x16.extract_lane_u 0
      (v128.load8_splat offset=400 (i32.const 0)))))
    ;; atomics
    (i32.atomic.store offset=500 (i32.const 0) (i32.const 5))
    (drop (i32.atomic.rmw.add offset=500 (i32.const 0) (i32.const 6)))
    (atomic.fence)
    (local.set $r (i32.add (local.get $r) (i32.atomic.load offset=500 (i32.const 0))))
    (local.set $r (i32.add (local.get $r)
      (memory.atomic.notify offset=504 (i32.const 0) (i32.const 1))))
    ;; a loop with a counted exit, in a block
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $x) (i32.const 1000)))
        (local.set $x (i32.add (local.get $x) (i32.const 37)))
        (local.set $r (i32.xor (local.get $r) (local.get $x)))
        (br $l)))
    (local.get $r))
)
