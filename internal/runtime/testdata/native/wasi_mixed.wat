;; A Palyra-native module that also imports WASI: Palyra links no WASI,
;; so neither the audit nor the runtime accepts it.
(module
  (import "palyra:plugins/host-capabilities@0.1.0" "http-count" (func $http_count (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func (export "run") (result i32) (call $http_count)))
