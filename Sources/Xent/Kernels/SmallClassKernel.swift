// Cross-entropy for small class counts, one row per lane: `lanes` rows (8 floats / 4 doubles) go
// through the vector code together, so the per-row overhead of the row kernel (horizontal reductions,
// scalar log, tail handling: ~45–60 ns per row) is shared by 8 rows and no lane is padding.
//
// The group's tile is loaded as column vectors (`x[r][j]` for the group's rows: 8×8 in-register
// transposes, two per 16 float columns, for 8–32 float columns; gathers otherwise), the exps kept in
// that stack tile between the passes, the gradient written back through the inverse transpose. Same
// formulas and special values as the row kernel (FusedCrossEntropy.swift, RowLoss.swift); Σexp is summed in the element
// type (≤ 32 terms), log Σexp is SLEEF's vector log (two groups' in one 512-bit call in the AVX-512 build:
// the same bits, half the calls), the loss then formed in Double, lane-wise. Measured against
// Float80 references for every class count 1…33 (CrossEntropyAccuracyTests): Float loss relative error
// ≤ 1e-7, gradient ≤ 2e-7 (in units of the gradient scale).

/// Class counts up to this use the rows-in-lanes kernel for hard labels (the scratch tile's capacity).
let smallClassLimit = 32

extension SoftmaxScalar {
  /// The largest class count this type's rows-in-lanes kernel takes: 32 for Float (8 rows per tile,
  /// transposed 16 columns at a time; above 32 classes the gradient's transposes cost more than the
  /// row kernel, docs/performance.md), 16 for Double (4 rows per tile, gathered).
  @inline(__always) static var smallClassCount: Int { _lanes == 8 ? 32 : 16 }
}

/// What a row group's loss still needs after `rowGroupPass`: the log of `sum` is taken for two groups
/// at once (one 512-bit SLEEF call in the AVX-512 build) and given to `rowGroupLoss`.
struct RowGroup<T: SoftmaxScalar> {
  /// The rows' references (maxima, 0 for all −inf rows), label logits, Σexp, Σ(x − ref)·2^-5, and 1 for
  /// counted rows (0 for ignored ones).
  var ref, label, sum, sumX, live: T._Vector
}

extension SoftmaxScalar {
  /// The `lanes` rows starting at `x` (row stride `stride`): their statistics, and their gradient rows and
  /// bias contribution (added to the running sum `bias`) when asked (which need no log). The loss and lse follow in `rowGroupLoss`.
  @inline(__always)
  static func rowGroupPass<E: VectorExponential>(
    _ x: UnsafePointer<Self>, stride: Int, cols: Int, labels: UnsafePointer<Int64>, ignore: Int64,
    smoothing: Bool, scale: Self, a: Self, c: Self,
    grad: UnsafeMutablePointer<Self>?, gradStride: Int, bias: BiasSum?,
    scratch: UnsafeMutablePointer<_Vector>, _: E.Type
  ) -> RowGroup<Self> {
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
    var s = zero, sErr = zero, sx = zero
    // exp(x − ref), two columns per step (their exps in one call where the ISA has a double-width exp).
    var j = 0
    while j + 1 < cols {
      let d0 = scratch[j] - r, d1 = scratch[j + 1] - r
      let (e0, e1) = exponential2(d0, d1, E.self)
      scratch[j] = e0
      scratch[j + 1] = e1
      if smoothing {  // ≤ 32 terms: scaled (exactly) so that the sum cannot overflow
        sx += d0 * 0x1p-5
        sx += d1 * 0x1p-5
      }
      j += 2
    }
    if j < cols {
      let d = scratch[j] - r
      scratch[j] = exponential(d, E.self)
      if smoothing { sx += d * 0x1p-5 }
    }
    // Σexp: even and odd columns in two running sums (two dependency chains), each addition's rounding
    // error kept (TwoSum, branch-free, exact for any magnitudes), then the two sums and the errors
    // added; in a loop of its own, after the exps (whose library calls clobber every vector register:
    // accumulators kept across them were spilled and reloaded per call). A plain float sum of up to 32
    // terms errs by up to 3.6 ulps of ŷ in the gradient.
    var s1 = zero
    @inline(__always) func add(_ e: _Vector, to s: inout _Vector) {
      let (t, err) = twoSum(s, e)
      sErr += err
      s = t
    }
    j = 0
    while j + 1 < cols {
      add(scratch[j], to: &s)
      add(scratch[j + 1], to: &s1)
      j += 2
    }
    if j < cols { add(scratch[j], to: &s) }
    add(s1, to: &s)
    s += sErr

    if grad != nil || bias != nil {
      // ŷ·s = e · (s / Σexp); ignored rows (live = 0) get exactly 0, even from NaN logits.
      let f = _divideOrZero(_Vector(repeating: scale) * live, s)
      let cv = _Vector(repeating: c) * live
      for j in 0..<cols {
        let g = _weighted(live, scratch[j] * f - cv - _onehot(classes, j, a))
        scratch[j] = g
        if let bias { bias.add(_widenedSum(g).sum(), at: j) }  // the group's rows, summed in Double
      }
      if let grad { _storeColumns(scratch, grad, stride: gradStride, count: cols) }
    }
    return RowGroup(ref: r, label: xLabel, sum: s, sumX: sx, live: live)
  }

  /// The group's losses from `logSum` = log Σexp (−inf where Σexp = 0, an all −inf row), lane-wise in
  /// Double: (1 − ε)((r − x_label) + log Σexp) + ε(log Σexp − mean(x − r)), +inf for an all −inf row, 0
  /// for an ignored one; writes the lse and the per-row losses (`.none`) when asked; returns their sum
  /// in row order.
  @inline(__always)
  static func rowGroupLoss(
    _ g: RowGroup<Self>, logSum: _Vector, cols: Int, epsilon: Double, smoothing: Bool,
    lse: UnsafeMutablePointer<Self>?, rowLoss: UnsafeMutablePointer<Self>?
  ) -> Double {
    if let lse { store(g.ref + logSum, lse, 0) }
    return _groupLoss(ref: g.ref, label: g.label, logSum: logSum, sum: g.sum, live: g.live, sumX: g.sumX,
                      epsilon: epsilon, smoothing: smoothing, cols: cols, rowLoss: rowLoss)
  }
}
