;; A start function that never returns: wazero would run it inside
;; instantiation, where nothing stops it.
(module
  (func $spin (loop $l (br $l)))
  (start $spin)
  (func (export "run") (result i32) (i32.const 0)))
