// Sharded vocabulary (tensor-parallel cross-entropy): when each process holds a range of the class
// columns, the loss and the gradient need only per-row statistics of each shard, merged across shards.
// The merge is the one the long-row column blocks use (RowStatistics.merge), here on a plain,
// C-compatible record of six Doubles (`xent_stats`), so a message-passing library can move it.

/// The statistics of one row over some of its columns (C: `xent_stats`, six Doubles in this order).
///
/// `ref` is `max`, or 0 when `max` is −inf; `sumExp = Σ exp(x − ref)`, `sumX = Σ (x − ref)` over the
/// `count` columns seen; `labelLogit` is the row's label logit when the label was among them (else 0)
/// and `labelSeen` counts the shards that held it.
public struct ShardStatistics: Hashable, Sendable {
  public var max: Double
  public var sumExp: Double
  public var sumX: Double
  public var count: Double
  public var labelLogit: Double
  public var labelSeen: Double

  /// The statistics of no column.
  public init() {
    max = -.infinity
    sumExp = 0
    sumX = 0
    count = 0
    labelLogit = 0
    labelSeen = 0
  }

  var ref: Double { max == -.infinity ? 0 : max }

  /// The statistics of the columns of `self` and `other` together. Commutative bit for bit, associative
  /// up to one rounding per term:
  ///
  ///     max = max(a.max, b.max),  sumExp = a.sumExp·e^(a.ref − ref) + b.sumExp·e^(b.ref − ref),
  ///     sumX = a.sumX + a.count·(a.ref − ref) + b.sumX + b.count·(b.ref − ref), the rest added.
  public func merged(with other: ShardStatistics) -> ShardStatistics {
    var m = ShardStatistics()
    m.max = Swift.max(max, other.max)
    let ref = m.ref
    let da = self.ref - ref, db = other.ref - ref
    @inline(__always) func shifted(_ s: Double, _ d: Double) -> Double { s == 0 ? 0 : s * scalarExp(d) }
    @inline(__always) func moved(_ s: Double, _ n: Double, _ d: Double) -> Double { n == 0 ? 0 : s + n * d }
    m.sumExp = shifted(sumExp, da) + shifted(other.sumExp, db)
    m.sumX = moved(sumX, count, da) + moved(other.sumX, other.count, db)
    m.count = count + other.count
    m.labelLogit = labelLogit + other.labelLogit
    m.labelSeen = labelSeen + other.labelSeen
    return m
  }
}


extension ShardStatistics {
  /// The record of `cols` columns `x` (the shard's, from class `offset` on) from their statistics `st`
  /// (taken with sums of x, relative to st.ref): with the row's label logit (capped like the statistics)
  /// when the label lies among them.
  init<T: SoftmaxScalar>(
    _ st: RowStatistics<T>, row x: UnsafePointer<T>, cols: Int, offset: Int, label: Int64, ignore: Int64, cap: T
  ) {
    self.init()
    max = Double(st.maximum)
    sumExp = st.sumExp
    sumX = st.sumX * sumXUnscale
    count = Double(cols)
    if label != ignore && label >= Int64(offset) && label < Int64(offset + cols) {
      labelLogit = Double(T.capped(x[Int(label) - offset], cap).value)
      labelSeen = 1
    }
  }
}

/// The column range of a shard and its check.
package struct Shard {
  package var offset: Int
  package var totalColumns: Int

  package init(offset: Int, totalColumns: Int) {
    self.offset = offset
    self.totalColumns = totalColumns
  }

  func check(_ layout: MatrixLayout) throws(XentError) {
    if offset < 0 || totalColumns <= 0 || layout.cols > totalColumns || offset > totalColumns - layout.cols {
      throw .invalidShape(
        "the shard's columns [\(offset), \(offset) + \(layout.cols)) are not within [0, total_cols = \(totalColumns))")
    }
  }
}

// MARK: Swift API

/// The statistics of a vocabulary shard: `statistics[i]` describes columns
/// `[columnOffset, columnOffset + layout.cols)` of row `i`, whose labels are global class indices in
/// `[0, totalColumns)` (or `options.ignoreIndex`). Merge the shards' statistics with
/// `ShardStatistics.merged(with:)` (or ``mergeStatistics(_:_:into:)``), then
/// ``crossEntropy(statistics:totalColumns:labels:options:loss:logSumExp:)`` gives the loss and
/// ``crossEntropyGradient(logits:layout:columnOffset:totalColumns:labels:statistics:options:gradient:gradientStride:)``
/// each shard's gradient. Label smoothing uses the global class count.
public func partialStatistics<T: SoftmaxScalar>(
  logits: Span<T>, layout: MatrixLayout, columnOffset: Int, totalColumns: Int, labels: Span<Int64>,
  options: CrossEntropyOptions = .init(), into statistics: inout MutableSpan<ShardStatistics>
) throws(XentError) {
  try logits.withUnsafeBufferPointer { (x) throws(XentError) in
    try labels.withUnsafeBufferPointer { (l) throws(XentError) in
      try statistics.withUnsafeMutableBufferPointer { (s) throws(XentError) in
        try partialStatistics(logits: Buffer(required: x), layout: layout,
                              shard: Shard(offset: columnOffset, totalColumns: totalColumns),
                              labels: Buffer(required: l), options: options, statistics: Buffer(required: s))
      }
    }
  }
}

/// `out[i] = a[i].merged(with: b[i])` for every row.
public func mergeStatistics(
  _ a: Span<ShardStatistics>, _ b: Span<ShardStatistics>, into out: inout MutableSpan<ShardStatistics>
) throws(XentError) {
  try a.withUnsafeBufferPointer { (pa) throws(XentError) in
    try b.withUnsafeBufferPointer { (pb) throws(XentError) in
      try out.withUnsafeMutableBufferPointer { (po) throws(XentError) in
        try mergeStatistics(Buffer(required: pa), Buffer(required: pb), into: Buffer(required: po), rows: pa.count)
      }
    }
  }
}

/// The cross-entropy loss (`rows` values for `.none`, one otherwise) and, unless `logSumExp` is empty,
/// the per-row log-sum-exp, from statistics merged over all `totalColumns` columns. Same formulas,
/// bounds and special values as the fused `crossEntropy`.
public func crossEntropy<T: SoftmaxScalar>(
  statistics: Span<ShardStatistics>, totalColumns: Int, labels: Span<Int64>, options: CrossEntropyOptions = .init(),
  loss: inout MutableSpan<T>, logSumExp: inout MutableSpan<T>
) throws(XentError) {
  var none = MutableSpan<Double>()
  try crossEntropy(statistics: statistics, totalColumns: totalColumns, labels: labels, options: options, loss: &loss,
                   zLoss: &none, logSumExp: &logSumExp)
}

/// As the function above, with the z-loss (`options.zLoss` = λ): unless empty, `zLoss` receives λ·lse²
/// reduced like the loss over the rows not ignored (`rows` values for `.none`, one otherwise), as the
/// fused `crossEntropy(…zLoss:…)` reports it.
public func crossEntropy<T: SoftmaxScalar>(
  statistics: Span<ShardStatistics>, totalColumns: Int, labels: Span<Int64>, options: CrossEntropyOptions = .init(),
  loss: inout MutableSpan<T>, zLoss: inout MutableSpan<Double>, logSumExp: inout MutableSpan<T>
) throws(XentError) {
  try statistics.withUnsafeBufferPointer { (s) throws(XentError) in
    try labels.withUnsafeBufferPointer { (l) throws(XentError) in
      try loss.withUnsafeMutableBufferPointer { (lo) throws(XentError) in
        try logSumExp.withUnsafeMutableBufferPointer { (lse) throws(XentError) in
          try zLoss.withUnsafeMutableBufferPointer { (z) throws(XentError) in
            try finalizeStatistics(Buffer(required: s), rows: s.count, totalColumns: totalColumns,
                                   labels: Buffer(required: l), options: options,
                                   buffers: OptionBuffers(zLoss: Buffer(optional: z)), loss: Buffer(required: lo),
                                   lse: Buffer(optional: lse))
          }
        }
      }
    }
  }
}

/// A shard's columns of the cross-entropy gradient, `s·(softmax − t)`, from statistics merged over all
/// `totalColumns` columns. `gradient` is `rows × gradientStride` (default `cols`).
public func crossEntropyGradient<T: SoftmaxScalar>(
  logits: Span<T>, layout: MatrixLayout, columnOffset: Int, totalColumns: Int, labels: Span<Int64>,
  statistics: Span<ShardStatistics>, options: CrossEntropyOptions = .init(), gradient: inout MutableSpan<T>,
  gradientStride: Int? = nil
) throws(XentError) {
  try logits.withUnsafeBufferPointer { (x) throws(XentError) in
    try labels.withUnsafeBufferPointer { (l) throws(XentError) in
      try statistics.withUnsafeBufferPointer { (s) throws(XentError) in
        try gradient.withUnsafeMutableBufferPointer { (g) throws(XentError) in
          try gradientFromStatistics(
            logits: Buffer(required: x), layout: layout, shard: Shard(offset: columnOffset, totalColumns: totalColumns),
            labels: Buffer(required: l), statistics: Buffer(required: s), options: options,
            gradient: Buffer(required: g), gradientStride: gradientStride ?? layout.cols)
        }
      }
    }
  }
}
