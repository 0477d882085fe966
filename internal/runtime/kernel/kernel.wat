;; palyra's Extism kernel: the memory-block half of extism:host/env.
;;
;; One instance of this module is linked to each guest instance. It owns a
;; linear memory of its own (the "kernel memory", separate from the guest's)
;; in which the guest allocates blocks and through which input, output and
;; error messages travel. Guests call these functions directly, so the hot
;; path (input_load_u64, store_u64, alloc, output_set...) stays in compiled
;; Wasm instead of crossing into Go.
;;
;; The rest of extism:host/env (config, vars, HTTP, logging) is implemented
;; in Go. This module imports those functions from "palyra:host/go" and
;; re-exports them unchanged, because a guest resolves each import module
;; name to exactly one instance.
;;
;; Memory layout
;;
;;   0 .. 16     reserved: address 0 is the null handle, nothing lives below 16
;;   16 ..       blocks, each a 16-byte header followed by its data
;;
;; Header of the block whose handle (data address) is h, at h-16:
;;
;;   +0  i32  capacity   bytes of data the block owns
;;   +4  i32  length     bytes in use (what `length` returns)
;;   +8  i32  status     1 active, 2 free
;;   +12 i32  tag        h xor 0x50414c59: marks h as the start of a block
;;
;; The allocator bumps $pos; `free` of the top block moves $pos back, any
;; other free block is reused first-fit (and split when much larger), as
;; Extism's kernel does. The host's Go code writes the input block and resets
;; the state directly (internal/runtime/kernel.go mirrors this layout), so
;; that a call costs no Wasm entry besides the guest function itself.
;;
;; Every address is checked: loads and stores outside [16, memory size)
;; read 0 and write nothing, like Extism's kernel built with its
;; bounds-checking feature. The guest can still overwrite headers through
;; store_u8/store_u64; that only corrupts its own kernel, and the host reads
;; kernel memory with bounds checks of its own.
(module
  (import "palyra:host/go" "config_get" (func $config_get (param i64) (result i64)))
  (import "palyra:host/go" "var_get" (func $var_get (param i64) (result i64)))
  (import "palyra:host/go" "var_set" (func $var_set (param i64 i64)))
  (import "palyra:host/go" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "palyra:host/go" "http_status_code" (func $http_status_code (result i32)))
  (import "palyra:host/go" "http_headers" (func $http_headers (result i64)))
  (import "palyra:host/go" "log_trace" (func $log_trace (param i64)))
  (import "palyra:host/go" "log_debug" (func $log_debug (param i64)))
  (import "palyra:host/go" "log_info" (func $log_info (param i64)))
  (import "palyra:host/go" "log_warn" (func $log_warn (param i64)))
  (import "palyra:host/go" "log_error" (func $log_error (param i64)))
  (import "palyra:host/go" "get_log_level" (func $get_log_level (result i32)))

  (export "config_get" (func $config_get))
  (export "var_get" (func $var_get))
  (export "var_set" (func $var_set))
  (export "http_request" (func $http_request))
  (export "http_status_code" (func $http_status_code))
  (export "http_headers" (func $http_headers))
  (export "log_trace" (func $log_trace))
  (export "log_debug" (func $log_debug))
  (export "log_info" (func $log_info))
  (export "log_warn" (func $log_warn))
  (export "log_error" (func $log_error))
  (export "get_log_level" (func $get_log_level))

  ;; No maximum: the host's memory allocator enforces the plugin's quota,
  ;; shared between this memory and the guest's.
  (memory (export "memory") 1)

  ;; Allocator state. Exported (under names no guest import may use, see
  ;; internal/audit) so the host can reset the kernel and place the input
  ;; without calling into Wasm.
  (global $pos (export "palyra.pos") (mut i32) (i32.const 16))     ;; next header address
  (global $hw (export "palyra.hw") (mut i32) (i32.const 16))       ;; highest $pos since reset
  (global $nfree (export "palyra.nfree") (mut i32) (i32.const 0))  ;; free blocks below $pos
  (global $in_off (export "palyra.in_off") (mut i64) (i64.const 0))
  (global $in_len (export "palyra.in_len") (mut i64) (i64.const 0))
  (global $out_off (export "palyra.out_off") (mut i64) (i64.const 0))
  (global $out_len (export "palyra.out_len") (mut i64) (i64.const 0))
  (global $err (export "palyra.err") (mut i64) (i64.const 0))

  ;; $memsize returns the kernel memory's size in bytes.
  (func $memsize (result i64)
    (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))

  ;; $header returns the header address of the active block whose handle
  ;; is $h, or 0 when $h is not one.
  (func $header (param $h i64) (result i32)
    (local $hdr i32)
    ;; The smallest handle is 32; a handle lies at or below $pos.
    (if (i64.lt_u (local.get $h) (i64.const 32)) (then (return (i32.const 0))))
    (if (i64.gt_u (local.get $h) (i64.extend_i32_u (global.get $pos)))
      (then (return (i32.const 0))))
    (local.set $hdr (i32.sub (i32.wrap_i64 (local.get $h)) (i32.const 16)))
    (if (i32.ne (i32.load offset=8 (local.get $hdr)) (i32.const 1))
      (then (return (i32.const 0))))
    (if (i32.ne (i32.load offset=12 (local.get $hdr))
                (i32.xor (i32.wrap_i64 (local.get $h)) (i32.const 0x50414c59)))
      (then (return (i32.const 0))))
    ;; The block must end at or below $pos.
    (if (i64.gt_u
          (i64.add (local.get $h) (i64.extend_i32_u (i32.load (local.get $hdr))))
          (i64.extend_i32_u (global.get $pos)))
      (then (return (i32.const 0))))
    (local.get $hdr))

  ;; $activate marks the block at header $hdr active with $n bytes in use.
  (func $activate (param $hdr i32) (param $n i32) (result i64)
    (i32.store offset=4 (local.get $hdr) (local.get $n))
    (i32.store offset=8 (local.get $hdr) (i32.const 1))
    (i32.store offset=12 (local.get $hdr)
      (i32.xor (i32.add (local.get $hdr) (i32.const 16)) (i32.const 0x50414c59)))
    (i64.extend_i32_u (i32.add (local.get $hdr) (i32.const 16))))

  ;; alloc returns the handle of a new block of $n bytes, or 0 when $n is 0
  ;; or the memory cannot grow (the quota is reached).
  (func $alloc (export "alloc") (param $n i64) (result i64)
    (local $n32 i32) (local $p i64) (local $cap i32) (local $end i64) (local $rest i32)
    (if (i64.eqz (local.get $n)) (then (return (i64.const 0))))
    (if (i64.gt_u (local.get $n) (i64.const 0xffff0000)) (then (return (i64.const 0))))
    (local.set $n32 (i32.wrap_i64 (local.get $n)))

    ;; First fit among freed blocks, walked only when there are some.
    (if (global.get $nfree)
      (then
        (local.set $p (i64.const 16))
        (block $done
          (loop $walk
            (br_if $done (i64.gt_u (i64.add (local.get $p) (i64.const 16))
                                   (i64.extend_i32_u (global.get $pos))))
            (local.set $cap (i32.load (i32.wrap_i64 (local.get $p))))
            (if (i32.and
                  (i32.eq (i32.load offset=8 (i32.wrap_i64 (local.get $p))) (i32.const 2))
                  (i32.ge_u (local.get $cap) (local.get $n32)))
              (then
                (local.set $rest (i32.sub (local.get $cap) (local.get $n32)))
                (if (i32.ge_u (local.get $rest) (i32.const 144))
                  (then
                    ;; Split: keep $n32 bytes, the rest becomes a free block.
                    (i32.store (i32.wrap_i64 (local.get $p)) (local.get $n32))
                    (i32.store
                      (i32.add (i32.wrap_i64 (local.get $p)) (i32.add (local.get $n32) (i32.const 16)))
                      (i32.sub (local.get $rest) (i32.const 16)))
                    (i32.store offset=8
                      (i32.add (i32.wrap_i64 (local.get $p)) (i32.add (local.get $n32) (i32.const 16)))
                      (i32.const 2))
                    (i32.store offset=12
                      (i32.add (i32.wrap_i64 (local.get $p)) (i32.add (local.get $n32) (i32.const 16)))
                      (i32.const 0)))
                  (else
                    (global.set $nfree (i32.sub (global.get $nfree) (i32.const 1)))))
                (return (call $activate (i32.wrap_i64 (local.get $p)) (local.get $n32)))))
            (local.set $p (i64.add (local.get $p)
                                   (i64.add (i64.const 16) (i64.extend_i32_u (local.get $cap)))))
            (br $walk)))))

    ;; Bump, growing the memory when the block does not fit.
    (local.set $end (i64.add (i64.extend_i32_u (global.get $pos))
                             (i64.add (i64.const 16) (local.get $n))))
    (if (i64.gt_u (local.get $end) (call $memsize))
      (then
        (if (i32.eq
              (memory.grow (i32.wrap_i64
                (i64.shr_u (i64.add (i64.sub (local.get $end) (call $memsize)) (i64.const 0xffff))
                           (i64.const 16))))
              (i32.const -1))
          (then (return (i64.const 0))))))
    (i32.store (global.get $pos) (local.get $n32))
    (local.set $p (call $activate (global.get $pos) (local.get $n32)))
    (global.set $pos (i32.wrap_i64 (local.get $end)))
    (if (i32.gt_u (global.get $pos) (global.get $hw))
      (then (global.set $hw (global.get $pos))))
    (local.get $p))

  ;; free releases the block $h. Anything that is not an active block's
  ;; handle is ignored.
  (func $free (export "free") (param $h i64)
    (local $hdr i32)
    (local.set $hdr (call $header (local.get $h)))
    (if (i32.eqz (local.get $hdr)) (then (return)))
    ;; Extism: freeing the input block empties the input.
    (if (i64.eq (local.get $h) (global.get $in_off))
      (then (global.set $in_len (i64.const 0))))
    (i32.store offset=12 (local.get $hdr) (i32.const 0))
    (if (i32.eq (i32.add (i32.wrap_i64 (local.get $h)) (i32.load (local.get $hdr)))
                (global.get $pos))
      (then
        ;; The top block: give its space back to the bump allocator.
        (i32.store offset=8 (local.get $hdr) (i32.const 0))
        (global.set $pos (local.get $hdr)))
      (else
        (i32.store offset=8 (local.get $hdr) (i32.const 2))
        (global.set $nfree (i32.add (global.get $nfree) (i32.const 1))))))

  ;; length returns the bytes in use in block $h, 0 if $h is not a block.
  (func $length (export "length") (param $h i64) (result i64)
    (local $hdr i32)
    (local.set $hdr (call $header (local.get $h)))
    (if (i32.eqz (local.get $hdr)) (then (return (i64.const 0))))
    (i64.extend_i32_u (i32.load offset=4 (local.get $hdr))))

  ;; length_unsafe is length: checking a handle here costs no walk, so
  ;; there is no reason to skip the check.
  (func (export "length_unsafe") (param $h i64) (result i64)
    (call $length (local.get $h)))

  (func (export "load_u8") (param $p i64) (result i32)
    (if (i32.or (i64.lt_u (local.get $p) (i64.const 16))
                (i64.ge_u (local.get $p) (call $memsize)))
      (then (return (i32.const 0))))
    (i32.load8_u (i32.wrap_i64 (local.get $p))))

  (func (export "load_u64") (param $p i64) (result i64)
    (if (i32.or (i64.lt_u (local.get $p) (i64.const 16))
                (i64.gt_u (local.get $p) (i64.sub (call $memsize) (i64.const 8))))
      (then (return (i64.const 0))))
    (i64.load (i32.wrap_i64 (local.get $p))))

  (func (export "store_u8") (param $p i64) (param $v i32)
    (if (i32.or (i64.lt_u (local.get $p) (i64.const 16))
                (i64.ge_u (local.get $p) (call $memsize)))
      (then (return)))
    (i32.store8 (i32.wrap_i64 (local.get $p)) (local.get $v)))

  (func (export "store_u64") (param $p i64) (param $v i64)
    (if (i32.or (i64.lt_u (local.get $p) (i64.const 16))
                (i64.gt_u (local.get $p) (i64.sub (call $memsize) (i64.const 8))))
      (then (return)))
    (i64.store (i32.wrap_i64 (local.get $p)) (local.get $v)))

  ;; input_load_u8 and input_load_u64 read the input at offset $o; past its
  ;; end they read 0.
  (func (export "input_load_u8") (param $o i64) (result i32)
    (if (i64.ge_u (local.get $o) (global.get $in_len)) (then (return (i32.const 0))))
    (i32.load8_u (i32.wrap_i64 (i64.add (global.get $in_off) (local.get $o)))))

  (func (export "input_load_u64") (param $o i64) (result i64)
    (if (i64.lt_u (global.get $in_len) (i64.const 8)) (then (return (i64.const 0))))
    (if (i64.gt_u (local.get $o) (i64.sub (global.get $in_len) (i64.const 8)))
      (then (return (i64.const 0))))
    (i64.load (i32.wrap_i64 (i64.add (global.get $in_off) (local.get $o)))))

  ;; $in_bounds reports whether [$p, $p+$n) lies in the blocks area.
  (func $in_bounds (param $p i64) (param $n i64) (result i32)
    (if (i64.lt_u (local.get $p) (i64.const 16)) (then (return (i32.const 0))))
    (if (i64.gt_u (local.get $n) (call $memsize)) (then (return (i32.const 0))))
    (i64.le_u (i64.add (local.get $p) (local.get $n)) (call $memsize)))

  ;; input_set and output_set ignore ranges outside the memory, as Extism's
  ;; kernel does.
  (func (export "input_set") (param $p i64) (param $n i64)
    (if (i32.eqz (call $in_bounds (local.get $p) (local.get $n))) (then (return)))
    (global.set $in_off (local.get $p))
    (global.set $in_len (local.get $n)))

  (func (export "output_set") (param $p i64) (param $n i64)
    (if (i32.eqz (call $in_bounds (local.get $p) (local.get $n))) (then (return)))
    (global.set $out_off (local.get $p))
    (global.set $out_len (local.get $n)))

  (func (export "input_length") (result i64) (global.get $in_len))
  (func (export "input_offset") (result i64) (global.get $in_off))
  (func (export "output_length") (result i64) (global.get $out_len))
  (func (export "output_offset") (result i64) (global.get $out_off))

  ;; error_set records the block $h as the call's error message; 0 clears it.
  (func (export "error_set") (param $h i64)
    (if (i64.eqz (local.get $h))
      (then (global.set $err (i64.const 0)) (return)))
    (if (i32.eqz (call $in_bounds (local.get $h) (i64.const 1))) (then (return)))
    (global.set $err (local.get $h)))

  (func (export "error_get") (result i64) (global.get $err))

  ;; reset frees every block, zeroes the memory they used, and clears input,
  ;; output and error. The host does the same before each call.
  (func (export "reset")
    (memory.fill (i32.const 16) (i32.const 0) (i32.sub (global.get $hw) (i32.const 16)))
    (global.set $pos (i32.const 16))
    (global.set $hw (i32.const 16))
    (global.set $nfree (i32.const 0))
    (global.set $in_off (i64.const 0))
    (global.set $in_len (i64.const 0))
    (global.set $out_off (i64.const 0))
    (global.set $out_len (i64.const 0))
    (global.set $err (i64.const 0)))

  ;; memory_bytes returns the bytes the allocator can hand out without
  ;; growing the memory (Extism: the allocator's total length).
  (func (export "memory_bytes") (result i64)
    (i64.sub (call $memsize) (i64.const 16)))
)
