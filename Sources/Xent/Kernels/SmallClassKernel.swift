// Cross-entropy for small class counts, one row per lane: `lanes` rows (8 floats / 4 doubles) go
// through the vector code together, so the per-row overhead of the row kernel (horizontal reductions,
// scalar log, tail handling: ~45–60 ns per row) is shared by 8 rows and no lane is padding.
//
// The group's tile is loaded as column vectors (`x[r][j]` for the group's rows: 8×8 in-register
// transposes, two per 16 float columns, for 8–32 float columns; gathers otherwise), the exps kept in
// that stack tile between the passes, the gradient written back through the inverse transpose. Same
// formulas and special values as the row kernel (CrossEntropyCall.swift); Σexp is summed in the element
// type (≤ 32 terms), log Σexp is SLEEF's vector log, the loss then formed in Double. Measured against
// Float80 references for every class count 1…33 (CrossEntropyAccuracyTests): Float loss relative error
// ≤ 1e-7, gradient ≤ 2e-7 (in units of the gradient scale).

/// Class counts up to this use the rows-in-lanes kernel for hard labels (the scratch tile's capacity).
let smallClassLimit = 32

extension SoftmaxScalar {
  /// The largest class count this type's rows-in-lanes kernel takes: 32 for Float (8 rows per tile,
  /// transposed 16 columns at a time; against the C yardstick at 65536 rows, one thread: 17 classes
  /// 0.57 → 1.95×, 32 classes 0.59 → 1.30× the speed of the row kernel's; at 64 classes the gradient's
  /// transposes made loss+grad slower, 0.68 → 0.65×), 16 for Double (4 rows per tile, gathered).
  @inline(__always) static var smallClassCount: Int { _lanes == 8 ? 32 : 16 }
}

extension SoftmaxScalar {
  /// The losses of the `lanes` rows starting at `x` (row stride `stride`), in row order; writes their
  /// lse, per-row loss (`.none`), gradient rows and bias contribution when asked.
  @inline(__always)
  static func crossEntropyRowGroup<E: VectorExponential>(
    _ x: UnsafePointer<Self>, stride: Int, cols: Int, labels: UnsafePointer<Int64>, ignore: Int64,
    epsilon: Double, smoothing: Bool, scale: Self, a: Self, c: Self,
    grad: UnsafeMutablePointer<Self>?, gradStride: Int, lse: UnsafeMutablePointer<Self>?,
    rowLoss: UnsafeMutablePointer<Self>?, bias: UnsafeMutablePointer<Self>?,
    scratch: UnsafeMutablePointer<_Vector>, _: E.Type
  ) -> Double {
    let zero = _Vector(repeating: 0)
    var live = zero
    let classes = _classes(labels, ignore: ignore, live: &live)
    // The tile as column vectors; pass 1: the maximum of every row and its label's logit; pass 2:
    // exp(x − ref), kept in the tile for the output pass.
    _loadColumns(x, stride: stride, count: cols, into: scratch)
    var m = _Vector(repeating: -.infinity), xLabel = zero
    for j in 0..<cols {
      m = _max(m, scratch[j])
      xLabel = _pick(classes, j, scratch[j], xLabel)
    }
    let r = _reference(m)
    var s = zero, sx = zero
    // Two columns per step (their exps in one call where the ISA has a double-width exp), summed in
    // column order.
    var j = 0
    while j + 1 < cols {
      let d0 = scratch[j] - r, d1 = scratch[j + 1] - r
      let (e0, e1) = exponential2(d0, d1, E.self)
      scratch[j] = e0
      scratch[j + 1] = e1
      s += e0
      s += e1
      if smoothing {  // ≤ 32 terms: scaled (exactly) so that the sum cannot overflow
        sx += d0 * 0x1p-5
        sx += d1 * 0x1p-5
      }
      j += 2
    }
    if j < cols {
      let d = scratch[j] - r
      let e = exponential(d, E.self)
      scratch[j] = e
      s += e
      if smoothing { sx += d * 0x1p-5 }
    }
    let logS = _log(s)  // −inf where Σexp = 0 (all −inf row)
    if let lse { store(r + logS, lse, 0) }

    // The row losses, lane-wise in Double: (1 − ε)((r − x_label) + log Σexp) + ε(log Σexp − mean(x − r)),
    // +inf for an all −inf row, 0 for an ignored one.
    let total = _groupLoss(ref: r, label: xLabel, logSum: logS, sum: s, live: live, sumX: sx,
                           epsilon: epsilon, smoothing: smoothing, cols: cols, rowLoss: rowLoss)

    if grad != nil || bias != nil {
      // ŷ·s = e · (s / Σexp); ignored rows (live = 0) get exactly 0, even from NaN logits.
      let f = _divideOrZero(_Vector(repeating: scale) * live, s)
      let cv = _Vector(repeating: c) * live
      for j in 0..<cols {
        let g = _weighted(live, scratch[j] * f - cv - _onehot(classes, j, a))
        scratch[j] = g
        if let bias { bias[j] += g.sum() }
      }
      if let grad { _storeColumns(scratch, grad, stride: gradStride, count: cols) }
    }
    return total
  }
}
