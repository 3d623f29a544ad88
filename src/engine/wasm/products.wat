;; Products of a few rows by a linear's weight, x · wᵀ, in float32 with 128-bit SIMD, read and
;; written in place in tfjs's wasm heap: x [rows, inner], w [cols, inner] (a linear's weight in
;; [out, in] layout) as float32 or as float16 pairs (model/float16.ts: two halves per int32, the
;; first in the low bits), out [rows, cols]; all row-major, addressed in bytes. tfjs's own
;; BatchMatMul walks a transposed operand with a stride, one multiply-add at a time.
;;
;; Each output is summed over k in order, ((0 + x₀w₀) + x₁w₁) + …, one rounding per multiply and
;; per add, as tfjs's loop and XNNPACK's products both sum: so the float32 results are theirs, bit
;; for bit, and the float16 ones are those of the same weight widened to float32. The lanes run
;; across four outputs instead of along k: four rows of w are read four values at a time and
;; transposed in registers into four columns (w[j…j+3][k] for one k each), and each x row adds
;; x[k] · column to its four running sums.
;;
;; It also transposes matrices, for the products that copy an operand into the layout they read
;; best: tfjs's own Transpose computes every element's coordinates (3.6 ms for 1024×512 in Node).
(module
  (import "tfjs" "memory" (memory 0))

  ;; sum + t0ᵀ-column·x[0] + … for four rows' values t0…t3 at k…k+3 and x's values xv there.
  (func $addColumns
    (param $sum v128) (param $t0 v128) (param $t1 v128) (param $t2 v128) (param $t3 v128)
    (param $xv v128) (result v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    ;; (a0 b0 a1 b1), (a2 b2 a3 b3), (c0 d0 c1 d1), (c2 d2 c3 d3) …
    (local.set $c0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
      (local.get $t0) (local.get $t1)))
    (local.set $c1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
      (local.get $t0) (local.get $t1)))
    (local.set $c2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
      (local.get $t2) (local.get $t3)))
    (local.set $c3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
      (local.get $t2) (local.get $t3)))
    ;; … then (a0 b0 c0 d0), (a1 b1 c1 d1), (a2 b2 c2 d2), (a3 b3 c3 d3), each times its x.
    (local.set $sum (f32x4.add (local.get $sum) (f32x4.mul
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c0) (local.get $c2))
      (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $xv) (local.get $xv)))))
    (local.set $sum (f32x4.add (local.get $sum) (f32x4.mul
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c0) (local.get $c2))
      (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $xv) (local.get $xv)))))
    (local.set $sum (f32x4.add (local.get $sum) (f32x4.mul
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c1) (local.get $c3))
      (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $xv) (local.get $xv)))))
    (f32x4.add (local.get $sum) (f32x4.mul
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c1) (local.get $c3))
      (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $xv) (local.get $xv)))))

  ;; Four halves (one in the low 16 bits of each lane) as float32, exactly: the exponent and
  ;; mantissa shifted into place and scaled by 2¹¹² (which also turns subnormals into their
  ;; value), infinities and NaNs given float32's all-ones exponent, then the sign.
  (func $widen (param $h v128) (result v128)
    (local $m v128)
    (local.set $m (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)))
    (v128.or
      (v128.or
        (f32x4.mul (i32x4.shl (local.get $m) (i32.const 13))
          (v128.const f32x4 0x1p+112 0x1p+112 0x1p+112 0x1p+112))
        (v128.and (i32x4.gt_u (local.get $m) (v128.const i32x4 0x7bff 0x7bff 0x7bff 0x7bff))
          (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
      (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))
        (i32.const 16))))

  ;; The address of row min(j, cols − 1) of a matrix at $base with rows of $rowBytes: four
  ;; columns taken at a time repeat the last one past the edge, computing its sum again.
  (func $row (param $base i32) (param $j i32) (param $cols i32) (param $rowBytes i32) (result i32)
    (i32.add (local.get $base)
      (i32.mul (local.get $rowBytes)
        (select (local.get $j) (i32.sub (local.get $cols) (i32.const 1))
          (i32.lt_u (local.get $j) (local.get $cols))))))

  ;; Stores the four sums of columns j … j+3 (clamped as $row clamps them) in row $outRow.
  (func $store (param $outRow i32) (param $j i32) (param $cols i32) (param $sum v128)
    (f32.store (call $row (local.get $outRow) (local.get $j) (local.get $cols) (i32.const 4))
      (f32x4.extract_lane 0 (local.get $sum)))
    (f32.store (call $row (local.get $outRow) (i32.add (local.get $j) (i32.const 1)) (local.get $cols) (i32.const 4))
      (f32x4.extract_lane 1 (local.get $sum)))
    (f32.store (call $row (local.get $outRow) (i32.add (local.get $j) (i32.const 2)) (local.get $cols) (i32.const 4))
      (f32x4.extract_lane 2 (local.get $sum)))
    (f32.store (call $row (local.get $outRow) (i32.add (local.get $j) (i32.const 3)) (local.get $cols) (i32.const 4))
      (f32x4.extract_lane 3 (local.get $sum))))

  (func (export "multiplyByTransposed")
    (param $x i32) (param $w i32) (param $out i32)
    (param $rows i32) (param $inner i32) (param $cols i32)
    (local $rowBytes i32) (local $vectorBytes i32)
    (local $j i32) (local $i i32) (local $k i32) (local $xRow i32)
    (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32) (local $sum v128)
    (local.set $rowBytes (i32.shl (local.get $inner) (i32.const 2)))
    (local.set $vectorBytes (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2)))
    (local.set $j (i32.const 0))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.ge_u (local.get $j) (local.get $cols)))
        (local.set $w0 (call $row (local.get $w) (local.get $j) (local.get $cols) (local.get $rowBytes)))
        (local.set $w1 (call $row (local.get $w) (i32.add (local.get $j) (i32.const 1)) (local.get $cols) (local.get $rowBytes)))
        (local.set $w2 (call $row (local.get $w) (i32.add (local.get $j) (i32.const 2)) (local.get $cols) (local.get $rowBytes)))
        (local.set $w3 (call $row (local.get $w) (i32.add (local.get $j) (i32.const 3)) (local.get $cols) (local.get $rowBytes)))
        (local.set $i (i32.const 0))
        (block $rowsDone
          (loop $rowLoop
            (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $xRow (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $rowBytes))))
            (local.set $sum (v128.const f32x4 0 0 0 0))
            (local.set $k (i32.const 0))
            (block $vectorsDone
              (loop $vectors
                (br_if $vectorsDone (i32.ge_u (local.get $k) (local.get $vectorBytes)))
                (local.set $sum (call $addColumns (local.get $sum)
                  (v128.load (i32.add (local.get $w0) (local.get $k)))
                  (v128.load (i32.add (local.get $w1) (local.get $k)))
                  (v128.load (i32.add (local.get $w2) (local.get $k)))
                  (v128.load (i32.add (local.get $w3) (local.get $k)))
                  (v128.load (i32.add (local.get $xRow) (local.get $k)))))
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
                  (f32x4.splat (f32.load (i32.add (local.get $xRow) (local.get $k)))))))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $tail)))
            (call $store
              (i32.add (local.get $out) (i32.mul (local.get $i) (i32.shl (local.get $cols) (i32.const 2))))
              (local.get $j) (local.get $cols) (local.get $sum))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rowLoop)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $blocks))))

  ;; The same with w as float16 pairs: w's rows take inner × 2 bytes, read eight halves at a time.
  (func (export "multiplyByTransposedHalves")
    (param $x i32) (param $w i32) (param $out i32)
    (param $rows i32) (param $inner i32) (param $cols i32)
    (local $xRowBytes i32) (local $wRowBytes i32) (local $chunkBytes i32)
    (local $j i32) (local $i i32) (local $k i32) (local $xRow i32)
    (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32) (local $sum v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local.set $xRowBytes (i32.shl (local.get $inner) (i32.const 2)))
    (local.set $wRowBytes (i32.shl (local.get $inner) (i32.const 1)))
    (local.set $chunkBytes (i32.shl (i32.and (local.get $inner) (i32.const -8)) (i32.const 1)))
    (local.set $j (i32.const 0))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.ge_u (local.get $j) (local.get $cols)))
        (local.set $w0 (call $row (local.get $w) (local.get $j) (local.get $cols) (local.get $wRowBytes)))
        (local.set $w1 (call $row (local.get $w) (i32.add (local.get $j) (i32.const 1)) (local.get $cols) (local.get $wRowBytes)))
        (local.set $w2 (call $row (local.get $w) (i32.add (local.get $j) (i32.const 2)) (local.get $cols) (local.get $wRowBytes)))
        (local.set $w3 (call $row (local.get $w) (i32.add (local.get $j) (i32.const 3)) (local.get $cols) (local.get $wRowBytes)))
        (local.set $i (i32.const 0))
        (block $rowsDone
          (loop $rowLoop
            (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $xRow (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $xRowBytes))))
            (local.set $sum (v128.const f32x4 0 0 0 0))
            ;; $k counts w's bytes; x's are twice as many.
            (local.set $k (i32.const 0))
            (block $chunksDone
              (loop $chunks
                (br_if $chunksDone (i32.ge_u (local.get $k) (local.get $chunkBytes)))
                (local.set $v0 (v128.load (i32.add (local.get $w0) (local.get $k))))
                (local.set $v1 (v128.load (i32.add (local.get $w1) (local.get $k))))
                (local.set $v2 (v128.load (i32.add (local.get $w2) (local.get $k))))
                (local.set $v3 (v128.load (i32.add (local.get $w3) (local.get $k))))
                (local.set $sum (call $addColumns (local.get $sum)
                  (call $widen (i32x4.extend_low_i16x8_u (local.get $v0)))
                  (call $widen (i32x4.extend_low_i16x8_u (local.get $v1)))
                  (call $widen (i32x4.extend_low_i16x8_u (local.get $v2)))
                  (call $widen (i32x4.extend_low_i16x8_u (local.get $v3)))
                  (v128.load (i32.add (local.get $xRow) (i32.shl (local.get $k) (i32.const 1))))))
                (local.set $sum (call $addColumns (local.get $sum)
                  (call $widen (i32x4.extend_high_i16x8_u (local.get $v0)))
                  (call $widen (i32x4.extend_high_i16x8_u (local.get $v1)))
                  (call $widen (i32x4.extend_high_i16x8_u (local.get $v2)))
                  (call $widen (i32x4.extend_high_i16x8_u (local.get $v3)))
                  (v128.load offset=16 (i32.add (local.get $xRow) (i32.shl (local.get $k) (i32.const 1))))))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $chunks)))
            ;; The last inner mod 8 values of k, one column at a time.
            (block $tailDone
              (loop $tail
                (br_if $tailDone (i32.ge_u (local.get $k) (local.get $wRowBytes)))
                (local.set $sum (f32x4.add (local.get $sum) (f32x4.mul
                  (call $widen
                    (i32x4.replace_lane 3
                      (i32x4.replace_lane 2
                        (i32x4.replace_lane 1
                          (i32x4.splat (i32.load16_u (i32.add (local.get $w0) (local.get $k))))
                          (i32.load16_u (i32.add (local.get $w1) (local.get $k))))
                        (i32.load16_u (i32.add (local.get $w2) (local.get $k))))
                      (i32.load16_u (i32.add (local.get $w3) (local.get $k)))))
                  (f32x4.splat (f32.load (i32.add (local.get $xRow) (i32.shl (local.get $k) (i32.const 1))))))))
                (local.set $k (i32.add (local.get $k) (i32.const 2)))
                (br $tail)))
            (call $store
              (i32.add (local.get $out) (i32.mul (local.get $i) (i32.shl (local.get $cols) (i32.const 2))))
              (local.get $j) (local.get $cols) (local.get $sum))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rowLoop)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $blocks))))

  ;; Rows [$i0, $i1) and columns [$j0, $j1) of the matrix [rows, cols] at $src written
  ;; transposed into the matrix [cols, rows] at $dst, one value at a time.
  (func $transposeValues
    (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (param $i0 i32) (param $i1 i32) (param $j0 i32) (param $j1 i32)
    (local $i i32) (local $j i32)
    (local.set $i (local.get $i0))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $i1)))
        (local.set $j (local.get $j0))
        (block $colsDone
          (loop $colLoop
            (br_if $colsDone (i32.ge_u (local.get $j) (local.get $j1)))
            (i32.store
              (i32.add (local.get $dst)
                (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2)))
              (i32.load
                (i32.add (local.get $src)
                  (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $colLoop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowLoop))))

  ;; Each of $batches matrices [rows, cols] of 4-byte values at $from written transposed,
  ;; [cols, rows], at $to (the two must not overlap). Blocks of 4×4 go through registers: four
  ;; rows read four values at a time, shuffled into four columns, each stored as four values of
  ;; an output row. The last rows mod 4 and columns mod 4 are copied one value at a time.
  (func (export "transpose")
    (param $from i32) (param $to i32) (param $batches i32) (param $rows i32) (param $cols i32)
    (local $batch i32) (local $src i32) (local $dst i32) (local $matrixBytes i32)
    (local $rowBytes i32) (local $columnBytes i32) (local $rows4 i32) (local $cols4 i32)
    (local $i i32) (local $j i32) (local $s0 i32) (local $d0 i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $ab0 v128) (local $ab1 v128) (local $cd0 v128) (local $cd1 v128)
    (local.set $matrixBytes (i32.shl (i32.mul (local.get $rows) (local.get $cols)) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $columnBytes (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $batch (i32.const 0))
    (block $batchesDone
      (loop $batches
        (br_if $batchesDone (i32.ge_u (local.get $batch) (local.get $batches)))
        (local.set $src (i32.add (local.get $from) (i32.mul (local.get $batch) (local.get $matrixBytes))))
        (local.set $dst (i32.add (local.get $to) (i32.mul (local.get $batch) (local.get $matrixBytes))))
        (local.set $i (i32.const 0))
        (block $blockRowsDone
          (loop $blockRows
            (br_if $blockRowsDone (i32.ge_u (local.get $i) (local.get $rows4)))
            (local.set $s0 (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rowBytes))))
            (local.set $d0 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $j (i32.const 0))
            (block $blockColsDone
              (loop $blockCols
                (br_if $blockColsDone (i32.ge_u (local.get $j) (local.get $cols4)))
                (local.set $a (v128.load (local.get $s0)))
                (local.set $b (v128.load (i32.add (local.get $s0) (local.get $rowBytes))))
                (local.set $c (v128.load (i32.add (local.get $s0) (i32.shl (local.get $rowBytes) (i32.const 1)))))
                (local.set $d (v128.load (i32.add (local.get $s0) (i32.mul (local.get $rowBytes) (i32.const 3)))))
                ;; (a0 b0 a1 b1), (a2 b2 a3 b3), (c0 d0 c1 d1), (c2 d2 c3 d3) …
                (local.set $ab0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
                (local.set $ab1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
                (local.set $cd0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d)))
                (local.set $cd1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d)))
                ;; … then the columns (a0 b0 c0 d0) … (a3 b3 c3 d3), one per output row.
                (v128.store (local.get $d0)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab0) (local.get $cd0)))
                (v128.store (i32.add (local.get $d0) (local.get $columnBytes))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab0) (local.get $cd0)))
                (v128.store (i32.add (local.get $d0) (i32.shl (local.get $columnBytes) (i32.const 1)))
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab1) (local.get $cd1)))
                (v128.store (i32.add (local.get $d0) (i32.mul (local.get $columnBytes) (i32.const 3)))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab1) (local.get $cd1)))
                (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
                (local.set $d0 (i32.add (local.get $d0) (i32.shl (local.get $columnBytes) (i32.const 2))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $blockCols)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $blockRows)))
        (call $transposeValues (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols)
          (i32.const 0) (local.get $rows4) (local.get $cols4) (local.get $cols))
        (call $transposeValues (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols)
          (local.get $rows4) (local.get $rows) (i32.const 0) (local.get $cols))
        (local.set $batch (i32.add (local.get $batch) (i32.const 1)))
        (br $batches)))))
