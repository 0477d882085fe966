;; config.wat: the test guest of operator config and vars (ConfigModule).
;; Tool "config" takes a JSON string "KEY" (no escapes) and outputs, as a
;; JSON string, what config_get returns for KEY, or null when it returns
;; nothing; tool "var" does the same with var_get. Input and output are
;; JSON so that tools with a declared schema accept them.
;; Assemble: wat2wasm config.wat -o config.wasm (TestConfigWasmMatchesSource).
(module
  (import "extism:host/env" "input_length" (func $in_len (result i64)))
  (import "extism:host/env" "input_load_u8" (func $in_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (memory (export "memory") 1 16)

  ;; key copies the input without its first and last byte (the quotes)
  ;; into a new block.
  (func $key (result i64)
    (local $n i64) (local $b i64) (local $i i64)
    (if (i64.lt_u (call $in_len) (i64.const 3)) (then unreachable))
    (local.set $n (i64.sub (call $in_len) (i64.const 2)))
    (local.set $b (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $b) (local.get $i))
          (call $in_u8 (i64.add (local.get $i) (i64.const 1))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (local.get $b))

  ;; emit outputs block $v as a JSON string (escaping " and \), or null
  ;; for block 0.
  (func $emit (param $v i64)
    (local $n i64) (local $o i64) (local $i i64) (local $j i64) (local $c i32)
    (if (i64.eqz (local.get $v))
      (then
        (local.set $o (call $alloc (i64.const 4)))
        (call $store_u8 (local.get $o) (i32.const 110))                     ;; n
        (call $store_u8 (i64.add (local.get $o) (i64.const 1)) (i32.const 117)) ;; u
        (call $store_u8 (i64.add (local.get $o) (i64.const 2)) (i32.const 108)) ;; l
        (call $store_u8 (i64.add (local.get $o) (i64.const 3)) (i32.const 108)) ;; l
        (call $output_set (local.get $o) (i64.const 4))
        (return)))
    (local.set $n (call $length (local.get $v)))
    (local.set $o (call $alloc (i64.add (i64.mul (local.get $n) (i64.const 2)) (i64.const 2))))
    (call $store_u8 (local.get $o) (i32.const 34))
    (local.set $j (i64.const 1))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $c (call $load_u8 (i64.add (local.get $v) (local.get $i))))
        (if (i32.or (i32.eq (local.get $c) (i32.const 34)) (i32.eq (local.get $c) (i32.const 92)))
          (then
            (call $store_u8 (i64.add (local.get $o) (local.get $j)) (i32.const 92))
            (local.set $j (i64.add (local.get $j) (i64.const 1)))))
        (call $store_u8 (i64.add (local.get $o) (local.get $j)) (local.get $c))
        (local.set $j (i64.add (local.get $j) (i64.const 1)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (call $store_u8 (i64.add (local.get $o) (local.get $j)) (i32.const 34))
    (call $output_set (local.get $o) (i64.add (local.get $j) (i64.const 1))))

  (func (export "config") (result i32)
    (call $emit (call $config_get (call $key)))
    (i32.const 0))
  (func (export "var") (result i32)
    (call $emit (call $var_get (call $key)))
    (i32.const 0)))
