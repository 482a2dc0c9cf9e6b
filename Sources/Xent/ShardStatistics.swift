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

// MARK: Drivers (below the Swift API and the C ABI: validation, then the kernels)

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

/// The sharded functions do not take class weights or the z-loss: refused, not ignored.
private func checkShardOptions(_ o: CrossEntropyOptions) throws(XentError) {
  try Check.options(o)
  if o.classWeights != nil || o.zLoss != 0 {
    throw .unsupported("class weights and the z-loss are not supported by the sharded functions")
  }
}

/// Labels must be global class indices in [0, total) or the ignore index; returns the rows counted.
private func checkLabels(_ b: Buffer<Int64>, rows: Int, total: Int, ignore: Int64) throws(XentError) -> Int {
  let labels = b.address!.assumingMemoryBound(to: Int64.self)
  var counted = 0
  for i in 0..<rows {
    let l = labels[i]
    if l == ignore { continue }
    if l < 0 || l >= Int64(total) { throw .labelOutOfRange(row: i, label: l, cols: total) }
    counted += 1
  }
  return counted
}

/// `xent_partial_stats_*`: the statistics of a shard's columns, row by row.
@_specialize(where T == Float)
@_specialize(where T == Double)
package func partialStatistics<T: SoftmaxScalar>(
  logits: Buffer<T>, layout: MatrixLayout, shard: Shard, labels: Buffer<Int64>, options: CrossEntropyOptions,
  statistics: Buffer<ShardStatistics>
) throws(XentError) {
  try Check.notNull(logits, "logits")
  try Check.notNull(labels, "labels")
  try Check.notNull(statistics, "stats")
  let extent = try Check.layout(layout, "logits", T.self)
  try shard.check(layout)
  try Check.length(logits, extent, "logits")
  try Check.length(labels, layout.rows, "labels")
  try Check.length(statistics, layout.rows, "stats")
  try checkShardOptions(options)
  var inputs = ByteRanges(try Check.range(logits, elements: extent, "logits"))
  inputs.append(try Check.range(labels, elements: layout.rows, "labels"))
  try Check.noOverlap(inputs: inputs, outputs: ByteRanges(try Check.range(statistics, elements: layout.rows, "stats")))
  _ = try checkLabels(labels, rows: layout.rows, total: shard.totalColumns, ignore: options.ignoreIndex)

  switch (options.exponential, options.softCap != 0) {
  case (.sleef, false): partialStatistics(logits, layout, shard, labels, options, statistics, SleefExponential.self)
  case (.fast, false): partialStatistics(logits, layout, shard, labels, options, statistics, FastExponential.self)
  case (.sleef, true):
    partialStatistics(logits, layout, shard, labels, options, statistics, CappedExponential<SleefExponential>.self)
  case (.fast, true):
    partialStatistics(logits, layout, shard, labels, options, statistics, CappedExponential<FastExponential>.self)
  }
}

private func partialStatistics<T: SoftmaxScalar, E: VectorExponential>(
  _ logits: Buffer<T>, _ layout: MatrixLayout, _ shard: Shard, _ labelBuffer: Buffer<Int64>,
  _ options: CrossEntropyOptions, _ statistics: Buffer<ShardStatistics>, _: E.Type
) {
  let x0 = logits.address!.assumingMemoryBound(to: T.self)
  let labels = labelBuffer.address!.assumingMemoryBound(to: Int64.self)
  let out = UnsafeMutablePointer(mutating: statistics.address!.assumingMemoryBound(to: ShardStatistics.self))
  let cols = layout.cols, stride = layout.rowStride, ignore = options.ignoreIndex
  let cap = T(options.softCap)  // statistics of the soft-capped logits (0: off)
  let split = cols >= columnSplitThreshold
  let blockLength = columnBlockLength(cols), blockCount = (cols + blockLength - 1) / blockLength

  @inline(__always) func row(_ i: Int, blocks: UnsafeMutablePointer<RowStatistics<T>>?, threads: Int) {
    let x = x0 + i * stride
    let st = blocks.map {
      T.blockedRowStatistics(x, nil, count: cols, SmoothedStatistics<E>.self, store: nil, blockLength: blockLength,
                             blocks: $0, threads: threads, cap: cap)
    } ?? T.rowStatistics(x, nil, count: cols, SmoothedStatistics<E>.self, cap: cap)
    var s = ShardStatistics()
    s.max = Double(st.maximum)
    s.sumExp = st.sumExp
    s.sumX = st.sumX * sumXUnscale
    s.count = Double(cols)
    let l = labels[i]
    if l != ignore && l >= Int64(shard.offset) && l < Int64(shard.offset + cols) {
      s.labelLogit = Double(T.capped(x[Int(l) - shard.offset], cap).value)
      s.labelSeen = 1
    }
    out[i] = s
  }
  if split {
    let threads = workerCount(requested: options.threads, rows: layout.rows, cols: cols, limit: blockCount)
    withBlockStatistics(T.self) { blocks in
      for i in 0..<layout.rows { row(i, blocks: blocks, threads: threads) }
    }
  } else {
    let threads = workerCount(requested: options.threads, rows: layout.rows, cols: cols)
    _ = sumOverRowChunks(rows: layout.rows, threads: threads) { range in
      for i in range { row(i, blocks: nil, threads: 1) }
      return 0
    }
  }
}

/// `xent_merge_stats`: `out[i] = a[i].merged(with: b[i])`; `out` may be `a` or `b` exactly.
package func mergeStatistics(
  _ a: Buffer<ShardStatistics>, _ b: Buffer<ShardStatistics>, into out: Buffer<ShardStatistics>, rows: Int
) throws(XentError) {
  try Check.notNull(a, "a")
  try Check.notNull(b, "b")
  try Check.notNull(out, "out")
  try Check.count(rows, "rows", ShardStatistics.self)
  try Check.length(a, rows, "a")
  try Check.length(b, rows, "b")
  try Check.length(out, rows, "out")
  var inputs = ByteRanges(try Check.range(a, elements: rows, "a"))
  inputs.append(try Check.range(b, elements: rows, "b"))
  let o = try Check.range(out, elements: rows, "out")
  // In place over a or over b: exactly the same start.
  for m in 0..<2 where o.overlaps(inputs[m]) && o.lower != inputs[m].lower {
    throw .aliasing("out overlaps \(inputs[m].name)")
  }
  let pa = a.address!.assumingMemoryBound(to: ShardStatistics.self)
  let pb = b.address!.assumingMemoryBound(to: ShardStatistics.self)
  let po = UnsafeMutablePointer(mutating: out.address!.assumingMemoryBound(to: ShardStatistics.self))
  for i in 0..<rows { po[i] = pa[i].merged(with: pb[i]) }
}

/// Checks merged statistics against the labels; returns the rows counted.
private func checkMerged(
  _ statistics: Buffer<ShardStatistics>, rows: Int, total: Int, labels: Buffer<Int64>, ignore: Int64
) throws(XentError) -> Int {
  let counted = try checkLabels(labels, rows: rows, total: total, ignore: ignore)
  let st = statistics.address!.assumingMemoryBound(to: ShardStatistics.self)
  let l = labels.address!.assumingMemoryBound(to: Int64.self)
  for i in 0..<rows {
    if st[i].count != Double(total) {
      throw .invalidShape("row \(i): the statistics cover \(st[i].count) columns, total_cols is \(total)")
    }
    if l[i] != ignore && st[i].labelSeen != 1 {
      throw .invalidShape("row \(i): the label was seen by \(st[i].labelSeen) shards (merge every shard once)")
    }
  }
  return counted
}

/// `xent_finalize_stats_*`: the loss (and lse) from statistics merged over all columns.
@_specialize(where T == Float)
@_specialize(where T == Double)
package func finalizeStatistics<T: SoftmaxScalar>(
  _ statistics: Buffer<ShardStatistics>, rows: Int, totalColumns: Int, labels: Buffer<Int64>,
  options: CrossEntropyOptions, loss: Buffer<T>, lse: Buffer<T>
) throws(XentError) {
  try Check.notNull(statistics, "stats")
  try Check.notNull(labels, "labels")
  try Check.notNull(loss, "loss")
  try Check.count(rows, "rows", ShardStatistics.self)
  if totalColumns <= 0 { throw .invalidShape("total_cols is \(totalColumns); the class dimension must not be empty") }
  let lossCount = options.reduction == .none ? rows : 1
  try Check.length(statistics, rows, "stats")
  try Check.length(labels, rows, "labels")
  try Check.length(loss, lossCount, "loss")
  try checkShardOptions(options)
  var inputs = ByteRanges(try Check.range(statistics, elements: rows, "stats"))
  inputs.append(try Check.range(labels, elements: rows, "labels"))
  var outputs = ByteRanges(try Check.range(loss, elements: lossCount, "loss"))
  if lse.address != nil {
    try Check.length(lse, rows, "lse")
    outputs.append(try Check.range(lse, elements: rows, "lse"))
  }
  try Check.noOverlap(inputs: inputs, outputs: outputs)
  let counted = try checkMerged(statistics, rows: rows, total: totalColumns, labels: labels, ignore: options.ignoreIndex)

  let st = statistics.address!.assumingMemoryBound(to: ShardStatistics.self)
  let l = labels.address!.assumingMemoryBound(to: Int64.self)
  let lossOut = UnsafeMutablePointer(mutating: loss.address!.assumingMemoryBound(to: T.self))
  let lseOut = lse.address.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: T.self)) }
  let eps = options.labelSmoothing
  var total = 0.0
  for i in 0..<rows {
    let s = st[i]
    let logSum = scalarLog(s.sumExp)
    lseOut?[i] = T(s.ref + logSum)
    var rowLoss = 0.0
    if l[i] != options.ignoreIndex {
      // As the fused kernel (CrossEntropyCall.swift), with the global count and Σ(x − ref).
      if s.sumExp.isNaN {
        rowLoss = .nan
      } else if s.sumExp == 0 {
        rowLoss = .infinity
      } else {
        if eps < 1 { rowLoss += (1 - eps) * ((s.ref - s.labelLogit) + logSum) }
        if eps > 0 { rowLoss += eps * (logSum - s.sumX / Double(totalColumns)) }
      }
    }
    if options.reduction == .none { lossOut[i] = T(rowLoss) }
    total += rowLoss
  }
  switch options.reduction {
  case .none: break
  case .sum: lossOut[0] = T(total)
  case .mean: lossOut[0] = counted == 0 ? 0 : T(total / Double(counted))
  }
}

/// `xent_grad_from_stats_*`: a shard's columns of the gradient from the merged statistics.
@_specialize(where T == Float)
@_specialize(where T == Double)
package func gradientFromStatistics<T: SoftmaxScalar>(
  logits: Buffer<T>, layout: MatrixLayout, shard: Shard, labels: Buffer<Int64>,
  statistics: Buffer<ShardStatistics>, options: CrossEntropyOptions, gradient: Buffer<T>, gradientStride: Int
) throws(XentError) {
  try Check.notNull(logits, "logits")
  try Check.notNull(labels, "labels")
  try Check.notNull(statistics, "stats")
  try Check.notNull(gradient, "grad")
  let extent = try Check.layout(layout, "logits", T.self)
  try shard.check(layout)
  let gradExtent = try Check.layout(
    MatrixLayout(rows: layout.rows, cols: layout.cols, rowStride: gradientStride), "gradient", T.self)
  try Check.length(logits, extent, "logits")
  try Check.length(labels, layout.rows, "labels")
  try Check.length(statistics, layout.rows, "stats")
  try Check.length(gradient, gradExtent, "gradient")
  try checkShardOptions(options)
  var inputs = ByteRanges(try Check.range(logits, elements: extent, "logits"))
  inputs.append(try Check.range(labels, elements: layout.rows, "labels"))
  inputs.append(try Check.range(statistics, elements: layout.rows, "stats"))
  let inPlace = gradientStride == layout.rowStride ? (output: 0, input: 0) : nil
  try Check.noOverlap(
    inputs: inputs, outputs: ByteRanges(try Check.range(gradient, elements: gradExtent, "gradient")), inPlace: inPlace)
  let counted = try checkMerged(statistics, rows: layout.rows, total: shard.totalColumns, labels: labels,
                                ignore: options.ignoreIndex)

  @inline(__always) func run<E: VectorExponential>(_: E.Type) {
    gradientFromStatistics(logits, layout, shard, labels, statistics, options, gradient, gradientStride, counted,
                           PlainStatistics<E>.self)
  }
  switch (options.exponential, options.softCap != 0) {
  case (.sleef, false): run(SleefExponential.self)
  case (.fast, false): run(FastExponential.self)
  case (.sleef, true): run(CappedExponential<SleefExponential>.self)
  case (.fast, true): run(CappedExponential<FastExponential>.self)
  }
}

private func gradientFromStatistics<T: SoftmaxScalar, M: StatisticsMode>(
  _ logits: Buffer<T>, _ layout: MatrixLayout, _ shard: Shard, _ labelBuffer: Buffer<Int64>,
  _ statistics: Buffer<ShardStatistics>, _ options: CrossEntropyOptions, _ gradient: Buffer<T>,
  _ gradientStride: Int, _ counted: Int, _: M.Type
) {
  let x0 = logits.address!.assumingMemoryBound(to: T.self)
  let g0 = UnsafeMutablePointer(mutating: gradient.address!.assumingMemoryBound(to: T.self))
  let labels = labelBuffer.address!.assumingMemoryBound(to: Int64.self)
  let st = statistics.address!.assumingMemoryBound(to: ShardStatistics.self)
  let cols = layout.cols, stride = layout.rowStride, eps = options.labelSmoothing
  let denominator = options.reduction == .mean ? counted : 1
  let scale = denominator == 0 ? 0 : options.gradScale / Double(denominator)
  let a = scale * (1 - eps), c = scale * eps / Double(shard.totalColumns)  // the global class count
  let cap = T(options.softCap)
  let blockLength = cols >= columnSplitThreshold ? columnBlockLength(cols) : cols
  let blockCount = (cols + blockLength - 1) / blockLength

  @inline(__always) func row(_ i: Int, threads: Int) {
    let x = x0 + i * stride, g = g0 + i * gradientStride
    let l = labels[i]
    if l == options.ignoreIndex {
      T.zeroRow(g, count: cols)
      return
    }
    let s = st[i]
    let f = s.sumExp == 0 ? 0 : scale / s.sumExp
    // The cap's derivative at the label, read before the row is overwritten (in place).
    let jl = Int(l) - shard.offset
    let capLabel = cap != 0 && jl >= 0 && jl < cols ? T.capped(x[jl], cap).derivative : 1
    forEachBlock(count: blockCount, threads: threads) { k in
      let lo = k * blockLength
      T.gradientRow(x + lo, nil, count: min(blockLength, cols - lo), ref: T(s.ref), f: T(f), a: T(a), c: T(c),
                    grad: g + lo, bias: nil, cap: cap, M.self)
    }
    let j = Int(l) - shard.offset
    if a != 0 && j >= 0 && j < cols { g[j] = T(Double(g[j]) - a * Double(capLabel)) }
  }
  if blockCount > 1 {
    let threads = workerCount(requested: options.threads, rows: layout.rows, cols: cols, limit: blockCount)
    for i in 0..<layout.rows { row(i, threads: threads) }
  } else {
    let threads = workerCount(requested: options.threads, rows: layout.rows, cols: cols)
    _ = sumOverRowChunks(rows: layout.rows, threads: threads) { range in
      for i in range { row(i, threads: 1) }
      return 0
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
  try statistics.withUnsafeBufferPointer { (s) throws(XentError) in
    try labels.withUnsafeBufferPointer { (l) throws(XentError) in
      try loss.withUnsafeMutableBufferPointer { (lo) throws(XentError) in
        try logSumExp.withUnsafeMutableBufferPointer { (lse) throws(XentError) in
          try finalizeStatistics(Buffer(required: s), rows: s.count, totalColumns: totalColumns,
                                 labels: Buffer(required: l), options: options, loss: Buffer(required: lo),
                                 lse: Buffer(optional: lse))
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
