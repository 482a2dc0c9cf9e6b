// The linear cross-entropy driver below both public APIs: o = H·Wᵀ + b, the loss and G = ∂l/∂o exactly as
// the cross-entropy kernel forms them, then ∂l/∂H = G·W, ∂l/∂W = Gᵀ·H, ∂l/∂b = Σ_rows G (eq. 8), without
// the rows × classes logits ever existing whole.
//
// Row blocks of `plan.blockRows` rows: the block's logits (blockRows × classes, in the workspace) come
// from the BLAS, the fused kernel turns them into G in place (loss, lse and the bias gradient's Double
// running sum on the way), and two more GEMMs consume G. Three GEMMs in all, the work any exact method
// must do, and one read-write pass of each block for the softmax.
//
// Reductions over the whole batch: BlockedReduction (SUM blocks, the batch's denominators folded into
// their gradient scales, unrounded loss sums added and rounded once).

internal import _XentBLAS
internal import _XentShims

/// Every argument of one linear cross-entropy call.
package struct LinearCrossEntropyCall<T: SoftmaxScalar> {
  /// `rows × dim`, row stride `hiddenStride`.
  package var hidden: Buffer<T>
  package var rows, dim, hiddenStride: Int
  /// `classes × dim`, row stride `weightStride`; the bias: `classes` values, or nil address.
  package var weight: Buffer<T>
  package var classes, weightStride: Int
  package var bias: Buffer<T>
  package var labels: Buffer<Int64>
  package var options: CrossEntropyOptions
  package var buffers: OptionBuffers
  /// `rows` values for `.none`, one value otherwise. Required.
  package var loss: Buffer<T>
  /// The gradients, each nil address when not wanted: `rows × gradHiddenStride`,
  /// `classes × gradWeightStride`, `classes` values; and `rows` log-sum-exps.
  package var gradHidden, gradWeight, gradBias, lse: Buffer<T>
  package var gradHiddenStride, gradWeightStride: Int

  package init(
    hidden: Buffer<T>, rows: Int, dim: Int, hiddenStride: Int, weight: Buffer<T>, classes: Int, weightStride: Int,
    bias: Buffer<T>, labels: Buffer<Int64>, options: CrossEntropyOptions, buffers: OptionBuffers = .init(),
    loss: Buffer<T>, gradHidden: Buffer<T>, gradHiddenStride: Int, gradWeight: Buffer<T>, gradWeightStride: Int,
    gradBias: Buffer<T>, lse: Buffer<T>
  ) {
    (self.hidden, self.rows, self.dim, self.hiddenStride) = (hidden, rows, dim, hiddenStride)
    (self.weight, self.classes, self.weightStride, self.bias) = (weight, classes, weightStride, bias)
    (self.labels, self.options, self.buffers, self.loss, self.lse) = (labels, options, buffers, loss, lse)
    (self.gradHidden, self.gradHiddenStride) = (gradHidden, gradHiddenStride)
    (self.gradWeight, self.gradWeightStride, self.gradBias) = (gradWeight, gradWeightStride, gradBias)
  }

  var wantsGradient: Bool { gradHidden.address != nil || gradWeight.address != nil || gradBias.address != nil }

  /// Validates, takes the workspace, then computes. On error nothing has been written.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  package func run() throws(XentError) {
    try bindingClassWeights { (call) throws(XentError) in
      let (counts, plan) = try call.validate()
      if rows == 0 { return call.empty() }
      guard let workspace = xentshim_workspace_take(UInt(plan.bytes)) else {
        throw .outOfMemory("linear cross-entropy: no memory for its \(plan.bytes)-byte workspace")
      }
      defer { xentshim_workspace_give(workspace) }
      call.compute(counts, plan, workspace)
    }
  }

  /// rows == 0: a zero reduced loss and z-loss, zero weight and bias gradients (unchanged when accumulating).
  private func empty() {
    if options.reduction != .none {
      loss.mutablePointer[0] = 0
      buffers.zLoss.optionalOutput?[0] = 0
    }
    if !options.accumulate {
      zeroWeightGradients(gradWeight.optionalOutput, gradWeightStride, gradBias.optionalOutput, classes: classes, dim: dim)
    }
  }

  /// The kernel over row blocks (see the file's comment). No checks; no allocation.
  private func compute(_ counts: LabelCounts, _ plan: LinearPlan, _ workspace: UnsafeMutableRawPointer) {
    let threads = plan.threads
    xentblas_enter_single_threaded()
    defer { xentblas_leave_single_threaded() }

    let space = LinearWorkspace<T>(workspace, plan, classes: classes, biasGradient: gradBias.address != nil)
    let logits = space.logits, g = space.gradient, tileStatistics = space.statistics, biasSum = space.biasSum
    // Without kept logits, the rows' label logits take the coefficients' room.
    let coefficients = space.coefficients
    let labelLogits = plan.keepsLogits ? nil
      : UnsafeMutableRawPointer(coefficients).bindMemory(to: T.self, capacity: plan.spanRows)

    let none = options.reduction == .none
    var batch = BlockedReduction<T>(options: options, counts: counts, weighted: buffers.classWeights.address != nil)
    var blockOptions = batch.block
    blockOptions.threads = threads
    let h0 = hidden.pointer, w0 = weight.pointer, b0 = bias.address == nil ? nil : bias.pointer
    let lossOut = loss.mutablePointer, lseOut = lse.optionalOutput, zOut = buffers.zLoss.optionalOutput
    let labelBase = labels.pointer
    let backward = LinearBackward(
      hidden: h0, hiddenStride: hiddenStride, weight: w0, weightStride: weightStride, dim: dim, classes: classes,
      gradHidden: gradHidden.optionalOutput, gradHiddenStride: gradHiddenStride, gradWeight: gradWeight.optionalOutput,
      gradWeightStride: gradWeightStride, accumulate: options.accumulate, plan: plan)
    var start = 0
    while start < rows {
      // A span of rows (one row block when the logits are kept; see `LinearPlan.spanRows`).
      let span = min(plan.spanRows, rows - start)
      // 1. logits = H·Wᵀ (+ b) and their statistics, tile by tile.
      var tiles = LogitTiles(
        hidden: h0 + start * hiddenStride, hiddenStride: hiddenStride, weight: w0, weightStride: weightStride,
        bias: b0, rows: span, tileRows: plan.tileRows, dim: dim, classes: classes, logits: logits,
        statistics: tileStatistics, tiles: plan.tiles, tileLength: plan.tileLength,
        smoothing: options.labelSmoothing > 0, cap: T(options.softCap), threads: plan.tileWorkers)
      if let labelLogits {
        tiles.scratch = (elements: plan.tileRows * plan.scratchStride, ld: plan.scratchStride)
        tiles.labelLogits = LabelLogits(labels: labelBase + start, ignore: options.ignoreIndex, out: labelLogits)
      }
      options.exponential.specialize(capped: options.softCap != 0, tiles)
      var offset = 0
      while offset < span {
        let n = min(plan.blockRows, span - offset), first = start + offset
        // 2. loss, lse, and each row's gradient coefficients from the merged statistics.
        batch.run { blockLoss, blockZ in
          var call = CrossEntropyCall<T>(
            logits: Buffer(UnsafePointer(logits)), layout: MatrixLayout(rows: n, cols: classes),
            targets: .labels(Buffer(labelBase + first)), options: blockOptions,
            loss: Buffer(none ? lossOut + first : blockLoss), lse: Buffer(lseOut.map { $0 + first }),
            classWeights: buffers.classWeights, zLoss: Buffer(zOut.map { none ? $0 + first : blockZ }))
          call.precomputed = PrecomputedStatistics(
            statistics: UnsafePointer(tileStatistics + offset * plan.tiles), tiles: plan.tiles,
            tileLength: plan.tileLength, coefficients: wantsGradient ? coefficients : nil,
            labelLogits: labelLogits.map { UnsafePointer($0 + offset) })
          return call
        }
        if wantsGradient {
          // 3. G = ∂l/∂o column by column of tiles, in place (or into the gradient region), and while each
          // column is in cache, its part of ∂l/∂W = Gᵀ·H and of ∂l/∂H = G·W.
          options.exponential.specialize(
            capped: options.softCap != 0,
            GradientTiles(
              logits: logits, gradient: g, coefficients: coefficients, rows: n, start: first, classes: classes,
              weights: buffers.classWeights.address?.assumingMemoryBound(to: Double.self), bias: biasSum,
              cap: T(options.softCap), backward: backward, partials: space.partials))
        }
        offset += n
      }
      start += span
    }

    batch.finish(loss: lossOut, zLoss: zOut)
    if let biasSum, let out = gradBias.optionalOutput {
      biasSum.round(into: out, count: classes, accumulate: options.accumulate)
    }
  }
}

/// The regions of a call's one workspace block: a row block's logits, then (when the kernel cannot run in
/// place) its gradient, then the tiles' statistics and the rows' gradient coefficients, then the parts of
/// ∂l/∂H, then the bias gradient's running sums (zeroed).
struct LinearWorkspace<T: SoftmaxScalar> {
  let logits, gradient: UnsafeMutablePointer<T>
  let statistics: UnsafeMutablePointer<RowStatistics<T>>
  /// The rows' gradient coefficients, and the parts of ∂l/∂H of the class-tile groups after the first
  /// (blockRows × dim each).
  let coefficients: UnsafeMutablePointer<GradientCoefficients<T>>
  let partials: UnsafeMutablePointer<T>
  let biasSum: BiasSum?

  init(_ workspace: UnsafeMutableRawPointer, _ plan: LinearPlan, classes: Int, biasGradient: Bool) {
    logits = workspace.bindMemory(to: T.self, capacity: plan.tileBytes / MemoryLayout<T>.stride)
    gradient = plan.separateGradient ? logits + plan.blockRows * classes : logits
    statistics = (workspace + plan.tileBytes).bindMemory(to: RowStatistics<T>.self, capacity: plan.spanRows * plan.tiles)
    coefficients = (workspace + plan.tileBytes + plan.spanRows * plan.tiles * linearStatisticsBytes)
      .bindMemory(to: GradientCoefficients<T>.self, capacity: plan.spanRows)
    partials = (workspace + plan.tileBytes + plan.statisticsBytes)
      .bindMemory(to: T.self, capacity: plan.partialBytes / MemoryLayout<T>.stride)
    let sums = (workspace + plan.tileBytes + plan.statisticsBytes + plan.partialBytes)
      .bindMemory(to: Double.self, capacity: plan.biasDoubles)
    if biasGradient {
      sums.initialize(repeating: 0, count: plan.biasDoubles)
      biasSum = BiasSum(sum: sums, errors: plan.biasDoubles > classes ? sums + classes : nil)
    } else {
      biasSum = nil
    }
  }
}

/// rows == 0 without accumulation: zero weight and bias gradients (each nil when not wanted).
func zeroWeightGradients<T: SoftmaxScalar>(
  _ gradWeight: UnsafeMutablePointer<T>?, _ stride: Int, _ gradBias: UnsafeMutablePointer<T>?, classes: Int, dim: Int
) {
  if let g = gradWeight {
    for c in 0..<classes { (g + c * stride).update(repeating: 0, count: dim) }
  }
  gradBias?.update(repeating: 0, count: classes)
}

extension BiasSum {
  /// eq. 8 summed in Double over every row (with TwoSum error terms for Double), rounded once into
  /// `out` (or added to it, rounded once, when accumulating).
  func round<T: SoftmaxScalar>(into out: UnsafeMutablePointer<T>, count: Int, accumulate: Bool) {
    for j in 0..<count {
      let s = sum[j] + (errors?[j] ?? 0)
      out[j] = accumulate ? T(Double(out[j]) + s) : T(s)
    }
  }
}

/// Steps 3 and 4 of a row block (G: `rows × classes`, contiguous): ∂l/∂H = G·W for its rows and
/// ∂l/∂W (+)= Gᵀ·H over them, each when wanted, column by column of G.
struct LinearBackward<T: SoftmaxScalar> {
  let hidden: UnsafePointer<T>
  let hiddenStride: Int
  let weight: UnsafePointer<T>
  let weightStride: Int
  let dim, classes: Int
  let gradHidden: UnsafeMutablePointer<T>?
  let gradHiddenStride: Int
  let gradWeight: UnsafeMutablePointer<T>?
  let gradWeightStride: Int
  let accumulate: Bool
  let plan: LinearPlan

  /// Steps 3 and 4 by columns of the block: for each `plan.tileLength`-class column, in
  /// `plan.hiddenGroups` fixed groups of columns (one task each, its columns in order): `form(c0, count)`
  /// (the column's G, where it is not formed yet), then, while the column is in cache, its classes' rows
  /// of ∂l/∂W (+)= Gᵀ·H and its part of ∂l/∂H = G·W; the groups' parts of ∂l/∂H are summed apart (the
  /// first in grad_hidden) and added in group order. A fixed grid: the results do not depend on the thread
  /// count.
  func byColumns(
    g: UnsafePointer<T>, rows n: Int, start: Int, partials: UnsafeMutablePointer<T>, _ form: (Int, Int) -> Void
  ) {
    let width = plan.tileLength, groups = plan.hiddenGroups
    let columns = (classes + width - 1) / width
    forEachBlock(count: groups, threads: plan.threads) { group in
      let part = group == 0 ? nil : partials + (group - 1) * n * dim
      let first = group * columns / groups
      for t in first..<(group + 1) * columns / groups {
        let c0 = t * width, cs = c0..<min(c0 + width, classes)
        form(c0, cs.count)
        weightGradient(g: g, rows: n, start: start, columns: cs)
        hiddenGradient(g: g, rows: n, start: start, columns: cs, part: part, first: t == first)
      }
    }
    addHiddenParts(partials, count: groups - 1, rows: n, start: start)
  }

  /// The part of ∂l/∂H = G·W over the classes `columns` for the block's rows, when wanted: into the
  /// rows of grad_hidden (`part` nil) or a part of `rows × dim`; `first`: overwrite, else add.
  @inline(__always)
  func hiddenGradient(g: UnsafePointer<T>, rows n: Int, start: Int, columns: Range<Int>, part: UnsafeMutablePointer<T>?, first: Bool) {
    guard let gh = gradHidden else { return }
    Gemm<T>.call(
      m: n, n: dim, k: columns.count, a: g + columns.lowerBound, lda: classes, transposeA: false,
      b: weight + columns.lowerBound * weightStride, ldb: weightStride, transposeB: false, beta: first ? 0 : 1,
      c: part ?? gh + start * gradHiddenStride, ldc: part == nil ? gradHiddenStride : dim)
  }

  /// grad_hidden's rows of the block += the parts, in order, rows `rows` of them.
  func addHiddenParts(_ parts: UnsafePointer<T>, count: Int, rows n: Int, start: Int) {
    guard let gh = gradHidden, count > 0 else { return }
    forEachBlock(count: n, threads: plan.threads) { i in
      let out = gh + (start + i) * gradHiddenStride
      for k in 0..<count {
        let p = parts + (k * n + i) * dim
        for j in 0..<dim { out[j] += p[j] }
      }
    }
  }

  /// ∂l/∂W (+)= Gᵀ·H over the block's rows for the classes `columns`, when wanted: one BLAS call on the
  /// calling thread.
  @inline(__always)
  func weightGradient(g: UnsafePointer<T>, rows n: Int, start: Int, columns: Range<Int>) {
    guard let gw = gradWeight else { return }
    Gemm<T>.call(
      m: columns.count, n: dim, k: n, a: g + columns.lowerBound, lda: classes, transposeA: true,
      b: hidden + start * hiddenStride, ldb: hiddenStride, transposeB: false, beta: start == 0 && !accumulate ? 0 : 1,
      c: gw + columns.lowerBound * gradWeightStride, ldc: gradWeightStride)
  }
}

/// Forms the logits of a row block (or of a span of blocks), o = H·Wᵀ + b, in tiles of `tileRows` ×
/// `tileLength` on the workers (a fixed grid, so the results do not depend on the thread count), and takes
/// each tile's row statistics while the tile is still in cache, or, given `gradient`, turns the tile into
/// its gradient there.
struct LogitTiles<T: SoftmaxScalar>: ExponentialSpecialized {
  let hidden: UnsafePointer<T>
  let hiddenStride: Int
  let weight: UnsafePointer<T>
  let weightStride: Int
  let bias: UnsafePointer<T>?
  /// `rows` in tiles of `tileRows` rows (the last one shorter).
  let rows, tileRows, dim, classes: Int
  let logits: UnsafeMutablePointer<T>
  let statistics: UnsafeMutablePointer<RowStatistics<T>>
  let tiles, tileLength: Int
  let smoothing: Bool
  let cap: T
  let threads: Int
  /// The gradient from merged statistics (a vocabulary shard's), instead of the statistics.
  var gradient: ShardGradient<T>? = nil
  /// When set, the logits are not kept: worker w forms its tiles at `logits + w·elements` (leading
  /// dimension `ld`), and the rows' label logits are kept by `labelLogits`.
  var scratch: (elements: Int, ld: Int)? = nil
  var labelLogits: LabelLogits<T>? = nil

  func run<E: VectorExponential>(_: E.Type) {
    if smoothing && gradient == nil { run(SmoothedStatistics<E>.self) } else { run(PlainStatistics<E>.self) }
  }

  private func run<M: StatisticsMode>(_: M.Type) {
    let rowTiles = (rows + tileRows - 1) / tileRows
    // Tile-major: consecutive tasks share a slice of W. With a bias gradient's sums, a task takes a
    // column of tiles whole: its sums then stay on one worker and add the rows in order.
    let wholeColumns = gradient?.bias != nil
    forEachBlockOnWorkers(count: wholeColumns ? tiles : tiles * rowTiles, threads: threads) { task, worker in
      if wholeColumns {
        for r in 0..<rowTiles { tile(task, r * tileRows, worker, M.self) }
      } else {
        tile(task / rowTiles, (task % rowTiles) * tileRows, worker, M.self)
      }
    }
  }

  /// Tile `t` of the rows from `r0` on: its logits, then its statistics or its gradient.
  @inline(__always)
  private func tile<M: StatisticsMode>(_ t: Int, _ r0: Int, _ worker: Int, _: M.Type) {
    let m = min(tileRows, rows - r0), c0 = t * tileLength, nc = min(tileLength, classes - c0)
    // In the block, or in the worker's scratch tile.
    let (tile, ld) = scratch.map { (logits + worker * $0.elements, $0.ld) } ?? (logits + r0 * classes + c0, classes)
    if let bias {
      for i in 0..<m { (tile + i * ld).update(from: bias + c0, count: nc) }
    }
    Gemm<T>.call(
      m: m, n: nc, k: dim, a: hidden + r0 * hiddenStride, lda: hiddenStride, transposeA: false,
      b: weight + c0 * weightStride, ldb: weightStride, transposeB: true, beta: bias == nil ? 0 : 1, c: tile, ldc: ld)
    if let gradient {
      gradient.apply(tile, ld, tile, ld, rows: r0..<r0 + m, columns: c0..<c0 + nc, cap: cap, M.self)
      return
    }
    for i in 0..<m {
      statistics[(r0 + i) * tiles + t] = T.rowStatistics(UnsafePointer(tile + i * ld), nil, count: nc, M.self, cap: cap)
    }
    labelLogits?.take(tile, ld, rows: r0..<r0 + m, columns: c0..<c0 + nc)
  }
}

/// The logit at each row's label, taken from the tile that holds it (ignored rows: none).
struct LabelLogits<T: SoftmaxScalar> {
  let labels: UnsafePointer<Int64>
  let ignore: Int64
  let out: UnsafeMutablePointer<T>

  @inline(__always)
  func take(_ tile: UnsafePointer<T>, _ ld: Int, rows: Range<Int>, columns: Range<Int>) {
    for (i, r) in rows.enumerated() {
      let label = labels[r]
      if label != ignore && columns.contains(Int(label)) { out[r] = tile[i * ld + Int(label) - columns.lowerBound] }
    }
  }
}
