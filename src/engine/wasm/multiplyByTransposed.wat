;; out = x · wᵀ in float32 with 128-bit SIMD, read and written in place in tfjs's wasm heap:
;; x [rows, inner], w [cols, inner] (a linear's weight in [out, in] layout), out [rows, cols],
;; all row-major, addressed in bytes. tfjs's own BatchMatMul walks a transposed operand with a
;; stride, one multiply-add at a time.
;;
;; Each output is summed over k in order, ((0 + x₀w₀) + x₁w₁) + …, one rounding per multiply and
;; per add, as tfjs's loop and XNNPACK's products both sum: so the results are theirs, bit for bit.
;; The lanes run across four outputs instead of along k: four rows of w are read four values at a
;; time and transposed in registers into four columns (w[j…j+3][k] for one k each), and each x
;; row adds x[k] · column to its four running sums, kept in out between groups of four k.
(module
  (import "tfjs" "memory" (memory 0))

  (func (export "multiplyByTransposed")
    (param $x i32) (param $w i32) (param $out i32)
    (param $rows i32) (param $inner i32) (param $cols i32)
    (local $rowBytes i32) (local $vectorBytes i32) (local $fourColumns i32) (local $outRowBytes i32)
    (local $j i32) (local $i i32) (local $k i32) (local $xk i32)
    (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $xv v128) (local $sum v128) (local $s f32)
    (local.set $rowBytes (i32.shl (local.get $inner) (i32.const 2)))
    (local.set $vectorBytes (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2)))
    (local.set $fourColumns (i32.and (local.get $cols) (i32.const -4)))
    (local.set $outRowBytes (i32.shl (local.get $cols) (i32.const 2)))

    ;; Columns j … j+3 of every row of out.
    (local.set $j (i32.const 0))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.ge_u (local.get $j) (local.get $fourColumns)))
        (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $rowBytes))))
        (local.set $w1 (i32.add (local.get $w0) (local.get $rowBytes)))
        (local.set $w2 (i32.add (local.get $w1) (local.get $rowBytes)))
        (local.set $w3 (i32.add (local.get $w2) (local.get $rowBytes)))
        (local.set $i (i32.const 0))
        (block $rowsDone
          (loop $rowLoop
            (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $xk (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $rowBytes))))
            (local.set $sum (v128.const f32x4 0 0 0 0))
            ;; k, k+1, k+2, k+3: four columns of w, added to the sums in that order.
            (local.set $k (i32.const 0))
            (block $vectorsDone
              (loop $vectors
                (br_if $vectorsDone (i32.ge_u (local.get $k) (local.get $vectorBytes)))
                (local.set $t0 (v128.load (i32.add (local.get $w0) (local.get $k))))
                (local.set $t1 (v128.load (i32.add (local.get $w1) (local.get $k))))
                (local.set $t2 (v128.load (i32.add (local.get $w2) (local.get $k))))
                (local.set $t3 (v128.load (i32.add (local.get $w3) (local.get $k))))
                ;; (a0 b0 a1 b1), (a2 b2 a3 b3), (c0 d0 c1 d1), (c2 d2 c3 d3) …
                (local.set $c0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
                  (local.get $t0) (local.get $t1)))
                (local.set $c1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
                  (local.get $t0) (local.get $t1)))
                (local.set $c2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
                  (local.get $t2) (local.get $t3)))
                (local.set $c3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
                  (local.get $t2) (local.get $t3)))
                (local.set $xv (v128.load (i32.add (local.get $xk) (local.get $k))))
                ;; … then (a0 b0 c0 d0), (a1 b1 c1 d1), (a2 b2 c2 d2), (a3 b3 c3 d3).
                (local.set $sum (f32x4.add (local.get $sum) (f32x4.mul
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c0) (local.get $c2))
                  (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $xv) (local.get $xv)))))
                (local.set $sum (f32x4.add (local.get $sum) (f32x4.mul
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c0) (local.get $c2))
                  (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $xv) (local.get $xv)))))
                (local.set $sum (f32x4.add (local.get $sum) (f32x4.mul
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c1) (local.get $c3))
                  (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $xv) (local.get $xv)))))
                (local.set $sum (f32x4.add (local.get $sum) (f32x4.mul
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c1) (local.get $c3))
                  (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $xv) (local.get $xv)))))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $vectors)))
            ;; The last inner mod 4 values of k, one column at a time.
            (block $tailDone
              (loop $tail
                (br_if $tailDone (i32.ge_u (local.get $k) (local.get $rowBytes)))
                (local.set $sum (f32x4.add (local.get $sum) (f32x4.mul
                  (f32x4.replace_lane 3
                    (f32x4.replace_lane 2
                      (f32x4.replace_lane 1
                        (f32x4.splat (f32.load (i32.add (local.get $w0) (local.get $k))))
                        (f32.load (i32.add (local.get $w1) (local.get $k))))
                      (f32.load (i32.add (local.get $w2) (local.get $k))))
                    (f32.load (i32.add (local.get $w3) (local.get $k))))
                  (f32x4.splat (f32.load (i32.add (local.get $xk) (local.get $k)))))))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $tail)))
            (v128.store
              (i32.add (local.get $out)
                (i32.add (i32.mul (local.get $i) (local.get $outRowBytes))
                  (i32.shl (local.get $j) (i32.const 2))))
              (local.get $sum))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rowLoop)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $blocks)))

    ;; The last cols mod 4 columns, one output at a time, summed the same way.
    (block $columnsDone
      (loop $columns
        (br_if $columnsDone (i32.ge_u (local.get $j) (local.get $cols)))
        (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $rowBytes))))
        (local.set $i (i32.const 0))
        (block $rowsDone
          (loop $rowLoop
            (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $xk (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $rowBytes))))
            (local.set $s (f32.const 0))
            (local.set $k (i32.const 0))
            (block $termsDone
              (loop $terms
                (br_if $termsDone (i32.ge_u (local.get $k) (local.get $rowBytes)))
                (local.set $s (f32.add (local.get $s)
                  (f32.mul (f32.load (i32.add (local.get $xk) (local.get $k)))
                    (f32.load (i32.add (local.get $w0) (local.get $k))))))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $terms)))
            (f32.store
              (i32.add (local.get $out)
                (i32.add (i32.mul (local.get $i) (local.get $outRowBytes))
                  (i32.shl (local.get $j) (i32.const 2))))
              (local.get $s))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rowLoop)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $columns)))))
