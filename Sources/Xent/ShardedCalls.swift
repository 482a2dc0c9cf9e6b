// The sharded-vocabulary drivers below the Swift API and the C ABI: operands checked
// (Validation/), then the statistics pass, the row loss and the gradient pass of the kernels.

/// The sharded functions take no class weights: the statistics carry no class-weighted sums. Refused,
/// not ignored. (The z-loss needs only the lse, which they carry.)
func checkShardOptions(_ o: CrossEntropyOptions, _ buffers: OptionBuffers) throws(XentError) {
  try Check.options(o)
  if o.classWeights != nil || buffers.classWeights.address != nil {
    throw .unsupported("class weights are not supported by the sharded functions")
  }
}

/// Merged statistics checked against the labels (each in [0, total) or ignored); returns the rows counted.
func checkMerged(
  _ statistics: VectorOperand<ShardStatistics>, total: Int, labels: LabelOperand, ignore: Int64
) throws(XentError) -> Int {
  let counted = try labels.scan(classes: total, ignore: ignore).rows
  let st = statistics.buffer.pointer, l = labels.pointer
  for i in 0..<statistics.count {
    if st[i].count != Double(total) {
      throw .invalidShape("row \(i): the statistics cover \(st[i].count) columns, total_cols is \(total)")
    }
    if l[i] != ignore && st[i].labelSeen != 1 {
      throw .invalidShape("row \(i): the label was seen by \(st[i].labelSeen) shards (merge every shard once)")
    }
  }
  return counted
}

/// `xent_partial_stats_*`: the statistics of a shard's columns, row by row.
@_specialize(where T == Float)
@_specialize(where T == Double)
package func partialStatistics<T: SoftmaxScalar>(
  logits: Buffer<T>, layout: MatrixLayout, shard: Shard, labels: Buffer<Int64>, options: CrossEntropyOptions,
  buffers: OptionBuffers = .init(), statistics: Buffer<ShardStatistics>
) throws(XentError) {
  try Check.notNull(logits, "logits")
  try Check.notNull(labels, "labels")
  try Check.notNull(statistics, "stats")
  var aliasing = Aliasing()
  aliasing.input(try MatrixOperand(logits, layout, "logits").range)
  try shard.check(layout)
  let labels = try LabelOperand(labels, rows: layout.rows)
  aliasing.input(labels.range)
  aliasing.output(try VectorOperand(statistics, count: layout.rows, "stats").range)
  try checkShardOptions(options, buffers)
  try aliasing.check()
  _ = try labels.scan(classes: shard.totalColumns, ignore: options.ignoreIndex)
  options.exponential.specialize(
    capped: options.softCap != 0,
    PartialStatistics(logits: logits.pointer, layout: layout, shard: shard, labels: labels.pointer,
                      options: options, out: statistics.mutablePointer))
}

/// The statistics pass over a shard's rows, specialized for the exp and cap.
private struct PartialStatistics<T: SoftmaxScalar>: ExponentialSpecialized {
  let logits: UnsafePointer<T>
  let layout: MatrixLayout
  let shard: Shard
  let labels: UnsafePointer<Int64>
  let options: CrossEntropyOptions
  let out: UnsafeMutablePointer<ShardStatistics>

  func run<E: VectorExponential>(_: E.Type) {
    let cols = layout.cols, stride = layout.rowStride, ignore = options.ignoreIndex
    let cap = T(options.softCap)  // statistics of the soft-capped logits (0: off)
    let blockLength = columnBlockLength(cols)
    forEachRow(rows: layout.rows, cols: cols, requested: options.threads, T.self) { i, blocks, threads in
      let x = logits + i * stride
      let st = blocks.map {
        T.blockedRowStatistics(x, nil, count: cols, SmoothedStatistics<E>.self, store: nil, blockLength: blockLength,
                               blocks: $0, threads: threads, cap: cap)
      } ?? T.rowStatistics(x, nil, count: cols, SmoothedStatistics<E>.self, cap: cap)
      out[i] = ShardStatistics(st, row: x, cols: cols, offset: shard.offset, label: labels[i], ignore: ignore, cap: cap)
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
  let ra = try VectorOperand(a, count: rows, "a").range, rb = try VectorOperand(b, count: rows, "b").range
  let o = try VectorOperand(out, count: rows, "out").range
  // In place over a or over b: exactly the same start.
  if o.overlaps(ra) && o.lower != ra.lower { throw .aliasing("out overlaps a") }
  if o.overlaps(rb) && o.lower != rb.lower { throw .aliasing("out overlaps b") }
  let pa = a.pointer, pb = b.pointer, po = out.mutablePointer
  for i in 0..<rows { po[i] = pa[i].merged(with: pb[i]) }
}

/// `xent_finalize_stats_*`: the loss (and lse) from statistics merged over all columns.
@_specialize(where T == Float)
@_specialize(where T == Double)
package func finalizeStatistics<T: SoftmaxScalar>(
  _ statistics: Buffer<ShardStatistics>, rows: Int, totalColumns: Int, labels: Buffer<Int64>,
  options: CrossEntropyOptions, buffers: OptionBuffers = .init(), loss: Buffer<T>, lse: Buffer<T>
) throws(XentError) {
  try Check.notNull(statistics, "stats")
  try Check.notNull(labels, "labels")
  try Check.notNull(loss, "loss")
  try Check.count(rows, "rows", ShardStatistics.self)
  if totalColumns <= 0 { throw .invalidShape("total_cols is \(totalColumns); the class dimension must not be empty") }
  let lossCount = options.reduction == .none ? rows : 1
  var aliasing = Aliasing()
  let stats = try VectorOperand(statistics, count: rows, "stats")
  aliasing.input(stats.range)
  let labels = try LabelOperand(labels, rows: rows)
  aliasing.input(labels.range)
  aliasing.output(try VectorOperand(loss, count: lossCount, "loss").range)
  if let r = try VectorOperand.optional(lse, count: rows, "lse")?.range { aliasing.output(r) }
  try checkShardOptions(options, buffers)

  let zCount = buffers.zLoss.address == nil ? 0 : lossCount
  if zCount > 0 { aliasing.output(try VectorOperand(buffers.zLoss, count: zCount, "z-loss").range) }
  try aliasing.check()
  let counted = try checkMerged(stats, total: totalColumns, labels: labels, ignore: options.ignoreIndex)

  let st = statistics.pointer, l = labels.pointer
  let lossOut = loss.mutablePointer, lseOut = lse.optionalOutput, zOut = buffers.zLoss.optionalOutput
  let eps = options.labelSmoothing, lambda = options.zLoss
  var total = 0.0, zTotal = 0.0
  for i in 0..<rows {
    let s = st[i]
    let logSum = scalarLog(s.sumExp)
    lseOut?[i] = T(s.ref + logSum)
    let ignored = l[i] == options.ignoreIndex
    // The fused kernel's row loss, with the global count and Σ(x − ref); the z-loss λ·lse², never added.
    let loss = ignored ? 0 : rowLoss(
      sumExp: s.sumExp, ref: s.ref, logSum: logSum, targetSum: 1, epsilon: eps, label: (s.labelLogit, 1), soft: nil,
      smoothing: eps > 0 ? .uniform(meanX: s.sumX / Double(totalColumns)) : .none)
    let lse = s.ref + logSum
    let z = ignored || lambda == 0 ? 0 : lambda * lse * lse
    if options.reduction == .none {
      lossOut[i] = T(loss)
      zOut?[i] = z
    }
    total += loss
    zTotal += z
  }
  switch options.reduction {
  case .none: break
  case .sum:
    lossOut[0] = T(total)
    zOut?[0] = zTotal
  case .mean:
    lossOut[0] = counted == 0 ? 0 : T(total / Double(counted))
    zOut?[0] = counted == 0 ? 0 : zTotal / Double(counted)
  }
}

/// `xent_grad_from_stats_*`: a shard's columns of the gradient from the merged statistics.
@_specialize(where T == Float)
@_specialize(where T == Double)
package func gradientFromStatistics<T: SoftmaxScalar>(
  logits: Buffer<T>, layout: MatrixLayout, shard: Shard, labels: Buffer<Int64>,
  statistics: Buffer<ShardStatistics>, options: CrossEntropyOptions, buffers: OptionBuffers = .init(),
  gradient: Buffer<T>, gradientStride: Int
) throws(XentError) {
  try Check.notNull(logits, "logits")
  try Check.notNull(labels, "labels")
  try Check.notNull(statistics, "stats")
  try Check.notNull(gradient, "grad")
  var aliasing = Aliasing()
  let x = aliasing.input(try MatrixOperand(logits, layout, "logits").range)
  try shard.check(layout)
  let g = aliasing.output(try MatrixOperand(gradient, like: layout, stride: gradientStride, "gradient").range)
  if gradientStride == layout.rowStride { aliasing.allowInPlace(output: g, input: x) }
  let labels = try LabelOperand(labels, rows: layout.rows)
  aliasing.input(labels.range)
  let stats = try VectorOperand(statistics, count: layout.rows, "stats")
  aliasing.input(stats.range)
  try checkShardOptions(options, buffers)
  try aliasing.check()
  let counted = try checkMerged(stats, total: shard.totalColumns, labels: labels, ignore: options.ignoreIndex)
  options.exponential.specialize(
    capped: options.softCap != 0,
    GradientFromStatistics(
      logits: logits.pointer, layout: layout, shard: shard, labels: labels.pointer, statistics: statistics.pointer,
      options: options, gradient: gradient.mutablePointer, gradientStride: gradientStride, counted: counted))
}

/// The gradient pass over a shard's rows, specialized for the exp and cap.
private struct GradientFromStatistics<T: SoftmaxScalar>: ExponentialSpecialized {
  let logits: UnsafePointer<T>
  let layout: MatrixLayout
  let shard: Shard
  let labels: UnsafePointer<Int64>
  let statistics: UnsafePointer<ShardStatistics>
  let options: CrossEntropyOptions
  let gradient: UnsafeMutablePointer<T>
  let gradientStride: Int
  let counted: Int

  func run<E: VectorExponential>(_: E.Type) {
    let cols = layout.cols, stride = layout.rowStride
    let rowGradient = ShardGradient<T>(
      statistics: statistics, labels: labels, options: options, counted: counted, shard: shard)
    let cap = T(options.softCap)
    let blockLength = cols >= columnSplitThreshold ? columnBlockLength(cols) : cols
    let blockCount = (cols + blockLength - 1) / blockLength
    forEachRow(rows: layout.rows, cols: cols, requested: options.threads, T.self) { i, _, threads in
      forEachBlock(count: blockCount, threads: threads) { k in
        let lo = k * blockLength
        rowGradient.apply(
          logits + i * stride + lo, stride, gradient + i * gradientStride + lo, gradientStride, rows: i..<i + 1,
          columns: lo..<min(lo + blockLength, cols), cap: cap, PlainStatistics<E>.self)
      }
    }
  }
}

/// G = s·(exp(x − lse) − t) of a shard's columns from statistics merged over all of them (the fused
/// kernel's gradient, row by row): f = (s + s·2λ·lse) / Σexp (λ: the z-loss), c = s·ε/total (the global
/// class count), a = s·(1 − ε) at the label (times the soft cap's derivative there); ignored rows get
/// zeros. s = gradScale / the rows counted (MEAN) or gradScale.
struct ShardGradient<T: SoftmaxScalar> {
  /// The statistics and labels of row 0 (`starting(at:)` moves them).
  var statistics: UnsafePointer<ShardStatistics>
  var labels: UnsafePointer<Int64>
  let ignore: Int64
  /// The shard's first class.
  let offset: Int
  let scale, a, c, zLoss: Double
  /// Σ_rows G, when wanted (entries at the shard's columns).
  var bias: BiasSum? = nil

  init(
    statistics: UnsafePointer<ShardStatistics>, labels: UnsafePointer<Int64>, options: CrossEntropyOptions,
    counted: Int, shard: Shard
  ) {
    let denominator = options.reduction == .mean ? counted : 1
    let scale = denominator == 0 ? 0 : options.gradScale / Double(denominator)
    let eps = options.labelSmoothing
    (self.statistics, self.labels, ignore, offset) = (statistics, labels, options.ignoreIndex, shard.offset)
    (self.scale, a, c, zLoss) = (scale, scale * (1 - eps), scale * eps / Double(shard.totalColumns), options.zLoss)
  }

  /// The same for the rows from `row` on.
  func starting(at row: Int) -> ShardGradient {
    var g = self
    g.statistics += row
    g.labels += row
    return g
  }

  /// Rows `rows`, the shard's columns `columns`: logits at `x` (row stride `xStride`, column
  /// `columns.lowerBound` first), the gradient to `g` (`gStride`; may be `x`: each element is read before
  /// it is written), and to `bias` when given.
  @inline(__always)
  func apply<M: StatisticsMode>(
    _ x: UnsafePointer<T>, _ xStride: Int, _ g: UnsafeMutablePointer<T>, _ gStride: Int, rows: Range<Int>,
    columns: Range<Int>, cap: T, _: M.Type
  ) {
    let bias = self.bias.map { $0 + columns.lowerBound }
    for (i, r) in rows.enumerated() {
      coefficients(r).apply(x + i * xStride, g + i * gStride, columns: columns, weights: nil, bias: bias, cap: cap, M.self)
    }
  }

  /// Row `r`'s gradient coefficients (its label's column relative to the shard).
  @inline(__always)
  func coefficients(_ r: Int) -> GradientCoefficients<T> {
    let label = labels[r]
    if label == ignore { return .ignored }
    let s = statistics[r]
    return GradientCoefficients(
      ref: T(s.ref), f: T(shardGradientFactor(s, scale: scale, zLoss: zLoss)), c: T(c), label: Int(label) - offset,
      oneHot: a != 0 ? a : nil)
  }
}

/// f = (s + s·2λ·lse) / Σexp, the factor of exp(x − ref) in a row's gradient (the fused kernel's, with
/// Σt = 1 and the z-loss's gradient 2λ·lse·ŷ reduced over the same counted rows); 0 for an all −inf row.
@inline(__always)
func shardGradientFactor(_ s: ShardStatistics, scale: Double, zLoss lambda: Double) -> Double {
  if s.sumExp == 0 { return 0 }
  let zTerm = lambda == 0 ? 0 : scale * 2 * lambda * (s.ref + scalarLog(s.sumExp))
  return (scale + zTerm) / s.sumExp
}
