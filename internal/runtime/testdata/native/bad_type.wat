;; A Palyra-native module importing http-handle with the wrong type
;; (an i64 index): Palyra's linker refuses it, and so do we.
(module
  (import "palyra:plugins/host-capabilities@0.1.0" "http-handle" (func $h (param i64) (result i32)))
  (func (export "run") (result i32) (call $h (i64.const 0))))
