;; Grows a table by 20 M elements ten times: 1.6 GB of host memory if
;; nothing counted it. Returns the number of growths that succeeded.
(module
  (table $t 0 funcref)
  (func (export "run") (result i32)
    (local $i i32) (local $ok i32)
    (loop $l
      (if (i32.ne (table.grow $t (ref.null func) (i32.const 20000000)) (i32.const -1))
        (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))
    (local.get $ok))
  ;; Grows by 1,000 elements (8 KB): within any quota.
  (func (export "small") (result i32)
    (table.grow $t (ref.null func) (i32.const 1000)))
  ;; table.fill over the whole table, forever.
  (func (export "fill_loop") (result i32)
    (drop (table.grow $t (ref.null func) (i32.const 50000)))
    (loop $l
      (table.fill $t (i32.const 0) (ref.null func) (table.size $t))
      (br $l))
    (i32.const 0)))
