;; Palyra's echo-http example as a real module (Palyra commits an empty
;; 8-byte module.wasm): Palyra's native guest ABI, imports from
;; palyra:plugins/host-capabilities@0.1.0 only, no WASI, no input or
;; output. Both of the skill's tools run the entrypoint "run".
;;
;; run checks every capability class: handle(i) = BASE + i for each
;; i < count (http 10000, secret 20000, storage 30000, channel 40000), and
;; handle(count) = handle(-1) = -1. It returns -1, -2, -3 or -4 when the
;; http, secret, storage or channel class is wrong, else the counts as
;; http*1000 + secret*100 + storage*10 + channel.
;; spin never returns (for the deadline); burn loops a million times (for
;; the fuel budget), then returns 7.
(module
  (type $handle (func (param i32) (result i32)))
  (type $count (func (result i32)))
  (import "palyra:plugins/host-capabilities@0.1.0" "http-count" (func $http_count (type $count)))
  (import "palyra:plugins/host-capabilities@0.1.0" "http-handle" (func $http_handle (type $handle)))
  (import "palyra:plugins/host-capabilities@0.1.0" "secret-count" (func $secret_count (type $count)))
  (import "palyra:plugins/host-capabilities@0.1.0" "secret-handle" (func $secret_handle (type $handle)))
  (import "palyra:plugins/host-capabilities@0.1.0" "storage-count" (func $storage_count (type $count)))
  (import "palyra:plugins/host-capabilities@0.1.0" "storage-handle" (func $storage_handle (type $handle)))
  (import "palyra:plugins/host-capabilities@0.1.0" "channel-count" (func $channel_count (type $count)))
  (import "palyra:plugins/host-capabilities@0.1.0" "channel-handle" (func $channel_handle (type $handle)))
  (memory (export "memory") 1 16)
  (table 4 4 funcref)
  (elem (i32.const 0) $http_handle $secret_handle $storage_handle $channel_handle)

  ;; verify returns 1 when the class in table slot $slot has handles
  ;; base+0 .. base+count-1 and -1 past them and below them, else 0.
  (func $verify (param $slot i32) (param $count i32) (param $base i32) (result i32)
    (local $i i32)
    (block $bad
      (loop $next
        (if (i32.lt_s (local.get $i) (local.get $count))
          (then
            (br_if $bad (i32.ne
              (call_indirect (type $handle) (local.get $i) (local.get $slot))
              (i32.add (local.get $base) (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next))))
      (br_if $bad (i32.ne (call_indirect (type $handle) (local.get $count) (local.get $slot)) (i32.const -1)))
      (br_if $bad (i32.ne (call_indirect (type $handle) (i32.const -1) (local.get $slot)) (i32.const -1)))
      (return (i32.const 1)))
    (i32.const 0))

  (func (export "run") (result i32)
    (local $http i32) (local $secret i32) (local $storage i32) (local $channel i32)
    (local.set $http (call $http_count))
    (local.set $secret (call $secret_count))
    (local.set $storage (call $storage_count))
    (local.set $channel (call $channel_count))
    (if (i32.eqz (call $verify (i32.const 0) (local.get $http) (i32.const 10000))) (then (return (i32.const -1))))
    (if (i32.eqz (call $verify (i32.const 1) (local.get $secret) (i32.const 20000))) (then (return (i32.const -2))))
    (if (i32.eqz (call $verify (i32.const 2) (local.get $storage) (i32.const 30000))) (then (return (i32.const -3))))
    (if (i32.eqz (call $verify (i32.const 3) (local.get $channel) (i32.const 40000))) (then (return (i32.const -4))))
    (i32.add
      (i32.add (i32.mul (local.get $http) (i32.const 1000)) (i32.mul (local.get $secret) (i32.const 100)))
      (i32.add (i32.mul (local.get $storage) (i32.const 10)) (local.get $channel))))

  (func (export "spin") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))

  (func (export "burn") (result i32)
    (local $i i32)
    (loop $more
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 1000000))))
    (i32.const 7)))
