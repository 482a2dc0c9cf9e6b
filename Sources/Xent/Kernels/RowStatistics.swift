// The streaming statistics pass: one read of a row gives its maximum, Σ exp(x − max) and, when asked,
// Σ (x − max) (label smoothing) and Σ y, Σ y·(x − max) (soft targets).
//
// The row is consumed in blocks of 32 vectors (256 floats / 128 doubles, 1 KiB: L1-resident). Each
// block is read twice, from L1: once for its maximum, then for the sums relative to the running
// reference `r`. When a block raises the maximum, the sums so far are moved to the new reference
// exactly by the identities
//     Σ exp(x − r') = e^(r − r') · Σ exp(x − r),   Σ (x − r') = Σ (x − r) + k·(r − r'),
//     Σ y(x − r') = Σ y(x − r) + (Σ y)·(r − r'),
// so the whole row is read from memory once (online softmax, per block rather than per element: one
// scalar exp per raised block instead of one vector exp per vector).
//
// Accuracy: block partial sums are formed in the element type (each lane adds ≤ 16 terms), then
// added to 4 Double running sums whose rounding errors are kept (TwoSum) and added back at the end of
// the row. The float32 error is then dominated by SLEEF's exp (≤ 1 ulp per term), independent of the
// row length.
//
// Range of Σ (x − ref): it is kept scaled by 2^-64 (`sumXScale`). Float terms are scaled by 2^-8 in
// the block lanes (≤ 32 terms each) and by 2^-56 once in Double; Double terms by 2^-64 at once (their
// sums stay in Double). Power-of-two scaling is exact (short of terms below 2^-141 in float / 2^-958
// in double, whose absolute error is negligible), so no partial sum overflows for rows under 2^60
// elements that span at most the type's maximum; the mean, the only use, is (sum / cols)·2^64.
//
// Special values: the reference is the running maximum, or 0 while every element seen is −inf or NaN
// (so exp(−inf − r) = 0, never exp(−inf + inf) = NaN). A NaN element makes Σexp NaN (the maximum
// ignores it, the sum does not); a +inf element makes r = +inf and Σexp NaN.

internal import _XentShims

/// The scale of `RowStatistics.sumX` (see "Range of Σ (x − ref)" above) and its inverse.
let sumXScale = 0x1p-64, sumXUnscale = 0x1p64

extension SoftmaxScalar {
  /// The part of `sumXScale` applied to each term in the element type: 2^-8 for Float (the rest once
  /// in Double), all of it for Double.
  @inline(__always) static var sumXBlockScale: Double { MemoryLayout<Self>.size == 4 ? 0x1p-8 : sumXScale }
}

/// What the statistics pass accumulates besides the maximum and Σexp. Static flags: each mode is a
/// separate specialization and unused accumulators are dead code.
protocol StatisticsMode {
  static var sumsX: Bool { get }
  static var soft: Bool { get }
  associatedtype Exp: VectorExponential
}
enum PlainStatistics<Exp: VectorExponential>: StatisticsMode {
  static var sumsX: Bool { false }
  static var soft: Bool { false }
}
enum SmoothedStatistics<Exp: VectorExponential>: StatisticsMode {
  static var sumsX: Bool { true }
  static var soft: Bool { false }
}
enum SoftStatistics<Exp: VectorExponential>: StatisticsMode {
  static var sumsX: Bool { false }
  static var soft: Bool { true }
}
enum SoftSmoothedStatistics<Exp: VectorExponential>: StatisticsMode {
  static var sumsX: Bool { true }
  static var soft: Bool { true }
}

/// The statistics of one row, relative to the reference `ref`.
struct RowStatistics<T: SoftmaxScalar> {
  /// The reference the sums are taken against: the row maximum, or 0 if the row has no element
  /// above −inf.
  var ref: T = 0
  /// Σ exp(x − ref) (0 exactly when every element is −inf).
  var sumExp: Double = 0
  /// Σ (x − ref) · `sumXScale` (only in smoothing modes; scaled so that it cannot overflow).
  var sumX: Double = 0
  /// The mean of x − ref over `count` elements, from the scaled `sumX`.
  func meanX(count: Int) -> Double { (sumX / Double(count)) * sumXUnscale }
  /// Σ y (only in soft modes).
  var sumY: Double = 0
  /// Σ over y ≠ 0 of y·(x − ref) (only in soft modes).
  var sumYX: Double = 0

  /// The largest element (NaN ignored; −inf when there is none above −inf).
  var maximum: T = -.infinity

  /// log Σ exp(x) = ref + log Σ exp(x − ref); −inf for an all −inf row.
  var logSumExp: Double { Double(ref) + scalarLog(sumExp) }

  /// Merges the statistics `b` of the `countB` elements that follow the `countA` elements of
  /// `self`: the sums of both are moved to the larger maximum by the identities at the top of this
  /// file. Exact up to one rounding per term; applied in a fixed order, so deterministic.
  mutating func merge(_ b: RowStatistics<T>, countA: Int, countB: Int, sumsX: Bool, soft: Bool) {
    let maximum = Swift.max(self.maximum, b.maximum)
    let ref: T = maximum == -.infinity ? 0 : maximum
    let da = Double(self.ref) - Double(ref), db = Double(b.ref) - Double(ref)
    @inline(__always) func shifted(_ s: Double, _ d: Double) -> Double { s == 0 ? 0 : s * scalarExp(d) }
    sumExp = shifted(sumExp, da) + shifted(b.sumExp, db)
    if sumsX {
      sumX = (countA == 0 ? 0 : sumX + Double(countA) * (da * sumXScale))
        + (countB == 0 ? 0 : b.sumX + Double(countB) * (db * sumXScale))
    }
    if soft {
      sumYX = (sumY == 0 ? sumYX : sumYX + sumY * da) + (b.sumY == 0 ? b.sumYX : b.sumYX + b.sumY * db)
      sumY += b.sumY
    }
    self.maximum = maximum
    self.ref = ref
  }
}

extension SoftmaxScalar {
  /// Maximum of `len` elements (NaN ignored), 4 independent accumulators.
  @inline(__always)
  static func blockMax<E: VectorExponential>(_ p: UnsafePointer<Self>, _ len: Int, cap: Self, _: E.Type) -> Self {
    let w = _lanes
    var m0 = _Vector(repeating: -.infinity), m1 = m0, m2 = m0, m3 = m0
    var i = 0
    while i + 4 * w <= len {
      m0 = maxIgnoringNaN(m0, capped(load(p, i), cap, E.self))
      m1 = maxIgnoringNaN(m1, capped(load(p, i + w), cap, E.self))
      m2 = maxIgnoringNaN(m2, capped(load(p, i + 2 * w), cap, E.self))
      m3 = maxIgnoringNaN(m3, capped(load(p, i + 3 * w), cap, E.self))
      i += 4 * w
    }
    while i + w <= len {
      m0 = maxIgnoringNaN(m0, capped(load(p, i), cap, E.self))
      i += w
    }
    if i < len {
      m1 = maxIgnoringNaN(m1, capped(loadPartial(p, i, count: len - i, padding: -.infinity), cap, E.self))
    }
    return horizontalMax(maxIgnoringNaN(maxIgnoringNaN(m0, m1), maxIgnoringNaN(m2, m3)))
  }

  /// The block's sums relative to `r`, lane-wise: Σexp(x − r), Σ(x − r), Σy, Σ_{y≠0} y(x − r).
  @inline(__always)
  static func blockSums<M: StatisticsMode>(
    _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>?, _ len: Int, ref: Self,
    store: UnsafeMutablePointer<Self>?, cap: Self, _: M.Type
  ) -> (exp: _Vector, x: _Vector, y: _Vector, yx: _Vector) {
    let w = _lanes
    let r = _Vector(repeating: ref)
    let zero = _Vector(repeating: 0)
    var e0 = zero, e1 = zero, sx = zero, sy = zero, syx = zero

    // d = x − r, its exp `ex`, target t: stored and added.
    @inline(__always) func take(_ d: _Vector, _ ex: _Vector, _ t: _Vector, _ e: inout _Vector, at i: Int) {
      if let store { Self.store(ex, store, i) }
      e += ex
      if M.sumsX { sx += d * Self(Self.sumXBlockScale) }
      if M.soft {
        sy += t
        // y = 0 contributes 0 even where x = −inf (0·−inf would be NaN).
        syx += _weighted(t, d)
      }
    }
    var i = 0
    // Two vectors per step, their exps in one call where the ISA has a double-width exp. Both are read
    // before either is stored (in place: `store` may be `x`).
    while i + 2 * w <= len {
      let d0 = capped(load(x, i), cap, M.Exp.self) - r, d1 = capped(load(x, i + w), cap, M.Exp.self) - r
      let (x0, x1) = exponential2(d0, d1, M.Exp.self)
      take(d0, x0, M.soft ? load(y!, i) : zero, &e0, at: i)
      take(d1, x1, M.soft ? load(y!, i + w) : zero, &e1, at: i + w)
      i += 2 * w
    }
    if i + w <= len {
      let d = capped(load(x, i), cap, M.Exp.self) - r
      take(d, exponential(d, M.Exp.self), M.soft ? load(y!, i) : zero, &e0, at: i)
      i += w
    }
    if i < len {
      // Padding: x = −inf adds exp(−inf) = 0 and y = 0 adds 0; Σ(x − r) must skip the padded lanes.
      let v = capped(loadPartial(x, i, count: len - i, padding: -.infinity), cap, M.Exp.self)
      let t = M.soft ? loadPartial(y!, i, count: len - i, padding: 0) : zero
      let d = v - r
      let ex = exponential(d, M.Exp.self)
      if let store { storePartial(ex, store, i, count: len - i) }
      e1 += ex
      if M.sumsX {
        var live = _Vector(repeating: 0)
        for k in 0..<(len - i) { live[k] = 1 }
        sx += _weighted(live, d * Self(Self.sumXBlockScale))
      }
      if M.soft {
        sy += t
        syx += _weighted(t, d)
      }
    }
    return (e0 + e1, sx, sy, syx)
  }

  /// Maximum of a whole row (NaN ignored), 4 independent accumulators.
  @inline(__always)
  static func rowMax<E: VectorExponential>(_ x: UnsafePointer<Self>, count n: Int, cap: Self, _: E.Type) -> Self {
    blockMax(x, n, cap: cap, E.self)
  }

  /// The row's maximum and the sums of `RowStatistics`, relative to that maximum. `y` is the target
  /// row (soft modes only).
  ///
  /// With `store`, or for a row of at most 16 KiB, the row's maximum is found first (a max-only read,
  /// which also brings the row into cache), then the sums; with `store` every exp(x − max) is written
  /// there (which may be `x`: each vector is read before it is overwritten), so the output pass needs
  /// no second exp. A longer row without `store` is read once from memory (per-block maxima, sums
  /// moved when the maximum rises).
  @inline(__always)
  static func rowStatistics<M: StatisticsMode>(
    _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>?, count n: Int, _ mode: M.Type,
    store: UnsafeMutablePointer<Self>? = nil, cap: Self = 0, next: RowPrefetch<Self>? = nil
  ) -> RowStatistics<Self> {
    let block = 32 * _lanes
    var st = RowStatistics<Self>()
    var runningMax = -Self.infinity
    // With `store`, or when the row fits in L1 (≤ 16 KiB: the second read comes from L1), the
    // maximum is found first and the reference is fixed before any sum: no rescaling happens below,
    // so the stored values all share it. Longer rows without `store` are read once (online).
    let maxFirst = store != nil || n * MemoryLayout<Self>.size <= 16 * 1024
    if maxFirst {
      runningMax = rowMax(x, count: n, cap: cap, M.Exp.self)
      st.ref = runningMax == -.infinity ? 0 : runningMax
    }
    // Block sums go into 4 Double lanes, with the rounding errors of those additions kept per lane
    // (TwoSum, branch-free); the lanes are added once, at the end of the row.
    var sumE = SIMD4<Double>(), errE = SIMD4<Double>()
    var sumX = SIMD4<Double>(), sumY = SIMD4<Double>(), sumYX = SIMD4<Double>()
    var start = 0
    while start < n {
      let len = Swift.min(block, n - start)
      let bm = maxFirst ? runningMax : blockMax(x + start, len, cap: cap, M.Exp.self)
      if bm > runningMax {
        // Move the sums to the new reference (see the identities above). d ≤ 0 (−inf if bm = +inf)
        // whenever a sum is nonzero; after a prefix of −inf only, the reference 0 may lie above bm and
        // e^d overflow, so zero sums are left alone (0·inf would be NaN). A NaN sum stays NaN.
        let d = Double(st.ref) - Double(bm)
        if start > 0 {
          if sumE != SIMD4<Double>() {
            let f = scalarExp(d)
            sumE *= f
            errE *= f
          }
          if M.sumsX { st.sumX += Double(start) * (d * sumXScale) }
          if M.soft {
            let y = sumY.sum()  // 0·(−inf) would be NaN: no targets so far, nothing to move
            if y != 0 { st.sumYX += y * d }
          }
        }
        runningMax = bm
        st.ref = bm
      }
      let b = blockSums(x + start, M.soft ? y! + start : nil, len, ref: st.ref, store: store.map { $0 + start }, cap: cap, M.self)
      next?.fetch(start, len)
      let e = _widenedSum(b.exp)
      let (t, err) = twoSum(sumE, e)
      errE += err
      sumE = t
      if M.sumsX { sumX += _widenedSum(b.x) }
      if M.soft {
        sumY += _widenedSum(b.y)
        sumYX += _widenedSum(b.yx)
      }
      start += len
    }
    // The 4 lanes, again with TwoSum, and every collected error.
    var total = 0.0, error = 0.0
    for k in 0..<4 {
      let (t, err) = twoSum(total, sumE[k])
      error += err + errE[k]
      total = t
    }
    st.sumExp = total + error
    if M.sumsX { st.sumX += sumX.sum() * (sumXScale / Self.sumXBlockScale) }
    if M.soft {
      st.sumY += sumY.sum()
      st.sumYX += sumYX.sum()
    }
    st.maximum = runningMax
    return st
  }
}

/// Rows of at least this many bytes get the next row prefetched (see `RowPrefetch`).
let rowPrefetchBytes = 32 * 1024

/// The row after the one being computed (its logits and, if written, its output row), fetched into L2
/// block by block while this row's exps are computed: its statistics pass then reads it from cache
/// instead of waiting on memory. A hint only: no result depends on it.
struct RowPrefetch<T: SoftmaxScalar> {
  var x: UnsafePointer<T>
  var out: UnsafeMutablePointer<T>?
  /// The next row's length: no line past its end is hinted.
  var count: Int
  /// Hints the cache lines of elements `start ..< start + len` of the next row (those below `count`).
  @inline(__always) func fetch(_ start: Int, _ len: Int) {
    guard start < count else { return }
    let bytes = Swift.min(len, count - start) * MemoryLayout<T>.stride
    @inline(__always) func lines(_ p: UnsafeRawPointer, _ hint: (UnsafeRawPointer) -> Void) {
      var offset = 0
      while offset < bytes {
        hint(p + offset)
        offset += 64
      }
    }
    lines(x + start) { xentshim_prefetch_read($0) }
    if let out { lines(out + start) { xentshim_prefetch_write(UnsafeMutableRawPointer(mutating: $0)) } }
  }
}

extension RowStatistics {
  /// The factor that moves exps stored relative to this block's reference to the row's reference
  /// `row`: e^(ref − row.ref), and 0 for a block with no element above −inf (its exps are all 0, and
  /// the factor itself could overflow).
  func rescale(to row: RowStatistics<T>) -> Double {
    sumExp == 0 ? 0 : scalarExp(Double(ref) - Double(row.ref))
  }
}

extension SoftmaxScalar {
  /// The statistics of a long row computed over fixed column blocks of `blockLength` elements (on
  /// `threads` workers), each block's kept in `blocks`, merged in block order: the same result for any
  /// thread count. With `store`, each block's exps are stored relative to the block's own reference
  /// (see `RowStatistics.rescale(to:)`).
  static func blockedRowStatistics<M: StatisticsMode>(
    _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>?, count n: Int, _ mode: M.Type,
    store: UnsafeMutablePointer<Self>?, blockLength: Int, blocks: UnsafeMutablePointer<RowStatistics<Self>>,
    threads: Int, cap: Self = 0
  ) -> RowStatistics<Self> {
    let count = (n + blockLength - 1) / blockLength
    forEachBlock(count: count, threads: threads) { k in
      let lo = k * blockLength, hi = lo + blockLength
      // On one worker the blocks go in order: while one stores its exps, the next is prefetched (as
      // whole rows are, see `RowPrefetch`). Not within a row that is read once (loss only): the hardware
      // prefetcher keeps up there, and the hint only costs (docs/performance.md).
      let next = threads <= 1 && hi < n && store != nil && blockLength * MemoryLayout<Self>.size >= rowPrefetchBytes
        ? RowPrefetch(x: x + hi, out: store.map { $0 + hi }, count: Swift.min(blockLength, n - hi)) : nil
      blocks[k] = rowStatistics(x + lo, y.map { $0 + lo }, count: Swift.min(blockLength, n - lo), M.self,
                                store: store.map { $0 + lo }, cap: cap, next: next)
    }
    var st = blocks[0]
    for k in 1..<count {
      st.merge(blocks[k], countA: k * blockLength, countB: Swift.min(blockLength, n - k * blockLength),
               sumsX: M.sumsX, soft: M.soft)
    }
    return st
  }
}


/// Row statistics over fixed column tiles: `tiles` per row, `tileLength` columns each (the last tile
/// shorter), row i's at `statistics + i·tiles`, computed in the mode the kernel runs in.
struct PrecomputedStatistics<T: SoftmaxScalar> {
  let statistics: UnsafePointer<RowStatistics<T>>
  let tiles: Int
  let tileLength: Int
  /// When set, the kernel forms no gradient: it writes each row's coefficients here, and the caller
  /// applies them tile by tile while each tile is in cache (`GradientCoefficients.apply`).
  var coefficients: UnsafeMutablePointer<GradientCoefficients<T>>? = nil
  /// When set, each row's logit at its label (the caller kept no logits): read here, not from the row.
  var labelLogits: UnsafePointer<T>? = nil

  /// Row `i`'s statistics over its `cols` columns: the tiles merged in order (as `blockedRowStatistics`
  /// merges blocks; deterministic).
  @inline(__always)
  func row(_ i: Int, cols: Int, sumsX: Bool, soft: Bool) -> RowStatistics<T> {
    let s = statistics + i * tiles
    var st = s[0]
    for k in 1..<tiles {
      st.merge(s[k], countA: k * tileLength, countB: Swift.min(tileLength, cols - k * tileLength), sumsX: sumsX,
               soft: soft)
    }
    return st
  }
}
