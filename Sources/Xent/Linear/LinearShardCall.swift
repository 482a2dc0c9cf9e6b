// The linear cross-entropy over a vocabulary shard (tensor parallelism): this process holds rows
// [c0, c0 + cols) of W and of b, of `total` classes. Its logits o_r = H·W_rᵀ + b_r are formed in row blocks
// in one workspace, as LinearCrossEntropyCall forms the whole vocabulary's, and never stored whole:
//
//   statistics  per row, the shard's max, Σexp(o − ref), Σ(o − ref), count, label logit (ShardStatistics),
//               taken tile by tile while each tile is in cache and merged in tile order;
//   gradients   from statistics merged over every shard: G = s·(exp(o − lse) − t), t = (1 − ε)·onehot +
//               ε/total (the global class count), formed in place tile by tile; then this shard's
//               contribution G·W_r to ∂l/∂H, its rows Gᵀ·H of ∂l/∂W and Σ_rows G of ∂l/∂b (eq. 8, in Double).
//
// The merge and the loss are the sharded functions' (ShardedCalls.swift): one statistics record per row is
// all that crosses between processes, besides the rows × dim sum of the ∂l/∂H contributions.

internal import _XentBLAS
internal import _XentShims

/// The inputs of a shard's linear cross-entropy call; `statistics` and `gradients` are the two calls.
package struct LinearShardCall<T: SoftmaxScalar> {
  /// `rows × dim`, row stride `hiddenStride` (the whole batch).
  package var hidden: Buffer<T>
  package var rows, dim, hiddenStride: Int
  /// The shard: `cols × dim`, row stride `weightStride`, its classes `[shard.offset, shard.offset + cols)`;
  /// its bias, `cols` values or nil address.
  package var weight: Buffer<T>
  package var cols, weightStride: Int
  package var shard: Shard
  package var bias: Buffer<T>
  /// Global class indices in `[0, shard.totalColumns)` or `options.ignoreIndex`.
  package var labels: Buffer<Int64>
  package var options: CrossEntropyOptions
  package var buffers: OptionBuffers

  package init(
    hidden: Buffer<T>, rows: Int, dim: Int, hiddenStride: Int, weight: Buffer<T>, cols: Int, weightStride: Int,
    shard: Shard, bias: Buffer<T>, labels: Buffer<Int64>, options: CrossEntropyOptions, buffers: OptionBuffers = .init()
  ) {
    (self.hidden, self.rows, self.dim, self.hiddenStride) = (hidden, rows, dim, hiddenStride)
    (self.weight, self.cols, self.weightStride, self.shard, self.bias) = (weight, cols, weightStride, shard, bias)
    (self.labels, self.options, self.buffers) = (labels, options, buffers)
  }

  /// `xent_linear_partial_stats_*`: `out[i]` = the statistics of row i over the shard's classes.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  package func statistics(into out: Buffer<ShardStatistics>) throws(XentError) {
    try Check.notNull(out, "stats")
    var aliasing = Aliasing()
    let labels = try checkInputs(&aliasing)
    aliasing.output(try VectorOperand(out, count: rows, "stats").range)
    try aliasing.check()
    let plan = try self.plan()
    _ = try labels.scan(classes: shard.totalColumns, ignore: options.ignoreIndex)
    if rows == 0 { return }
    try withWorkspace(plan, biasGradient: false) { space in
      let o = out.mutablePointer, l = labels.pointer, cap = T(options.softCap), ignore = options.ignoreIndex
      forEachRowBlock(plan, space, smoothing: true) { start, n in
        let pre = PrecomputedStatistics(statistics: UnsafePointer(space.statistics), tiles: plan.tiles,
                                        tileLength: plan.tileLength)
        for i in 0..<n {
          o[start + i] = ShardStatistics(
            pre.row(i, cols: cols, sumsX: true, soft: false), row: space.logits + i * cols, cols: cols,
            offset: shard.offset, label: l[start + i], ignore: ignore, cap: cap)
        }
      }
    }
  }

  /// `xent_linear_grad_from_stats_*`: from `statistics` merged over all `shard.totalColumns` classes, this
  /// shard's contribution to ∂l/∂H (`rows × gradHiddenStride`, overwritten), its rows of ∂l/∂W
  /// (`cols × gradWeightStride`) and its entries of ∂l/∂b (`cols`); each nil address when not wanted (not all).
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  package func gradients(
    statistics: Buffer<ShardStatistics>, gradHidden: Buffer<T>, gradHiddenStride: Int, gradWeight: Buffer<T>,
    gradWeightStride: Int, gradBias: Buffer<T>
  ) throws(XentError) {
    try Check.notNull(statistics, "stats")
    if gradHidden.address == nil && gradWeight.address == nil && gradBias.address == nil {
      throw .nullPointer(argument: "every gradient (grad_hidden, grad_weight, grad_bias)")
    }
    var aliasing = Aliasing()
    let labels = try checkInputs(&aliasing)
    let stats = try VectorOperand(statistics, count: rows, "stats")
    aliasing.input(stats.range)
    let hiddenLayout = MatrixLayout(rows: rows, cols: dim, rowStride: hiddenStride)
    if gradHidden.address != nil {
      aliasing.output(try MatrixOperand(gradHidden, like: hiddenLayout, stride: gradHiddenStride, "grad_hidden").range)
    }
    if gradWeight.address != nil {
      let layout = MatrixLayout(rows: cols, cols: dim, rowStride: weightStride)
      aliasing.output(try MatrixOperand(gradWeight, like: layout, stride: gradWeightStride, "grad_weight").range)
    }
    if let r = try VectorOperand.optional(gradBias, count: cols, "grad_bias")?.range { aliasing.output(r) }
    try aliasing.check()
    try blasSize(gradHiddenStride, "grad_hidden_stride", wanted: gradHidden.address != nil)
    try blasSize(gradWeightStride, "grad_weight_stride", wanted: gradWeight.address != nil)
    let plan = try self.plan()
    let counted = try checkMerged(stats, total: shard.totalColumns, labels: labels, ignore: options.ignoreIndex)
    if rows == 0 {
      if !options.accumulate {
        zeroWeightGradients(gradWeight.optionalOutput, gradWeightStride, gradBias.optionalOutput, classes: cols, dim: dim)
      }
      return
    }
    try withWorkspace(plan, biasGradient: gradBias.address != nil) { space in
      var gradient = ShardGradient<T>(
        statistics: statistics.pointer, labels: labels.pointer, options: options, counted: counted, shard: shard)
      gradient.bias = space.biasSum
      let backward = LinearBackward(
        hidden: hidden.pointer, hiddenStride: hiddenStride, weight: weight.pointer, weightStride: weightStride,
        dim: dim, classes: cols, gradHidden: gradHidden.optionalOutput, gradHiddenStride: gradHiddenStride,
        gradWeight: gradWeight.optionalOutput, gradWeightStride: gradWeightStride, accumulate: options.accumulate,
        plan: plan)
      forEachRowBlock(plan, space, smoothing: false, gradient: gradient) { start, n in
        backward.byColumns(g: space.logits, rows: n, start: start, partials: space.partials) { _, _ in }
      }
      if let biasSum = space.biasSum, let out = gradBias.optionalOutput {
        biasSum.round(into: out, count: cols, accumulate: options.accumulate)
      }
    }
  }

  /// The input checks both calls share, in order: required pointers, hidden, weight, the shard's range,
  /// bias, labels, options, the BLAS's size limits. Returns the labels' operand (not yet scanned).
  private func checkInputs(_ aliasing: inout Aliasing) throws(XentError) -> LabelOperand {
    try Check.notNull(hidden, "hidden")
    try Check.notNull(weight, "weight")
    try Check.notNull(labels, "labels")
    if dim == 0 { throw .invalidShape("dim is 0; hidden states must have at least one feature") }
    if cols == 0 { throw .invalidShape("cols is 0; the shard must hold at least one class") }
    aliasing.input(try MatrixOperand(hidden, MatrixLayout(rows: rows, cols: dim, rowStride: hiddenStride), "hidden").range)
    aliasing.input(try MatrixOperand(weight, MatrixLayout(rows: cols, cols: dim, rowStride: weightStride), "weight").range)
    try shard.check(MatrixLayout(rows: rows, cols: cols))
    if let r = try VectorOperand.optional(bias, count: cols, "bias")?.range { aliasing.input(r) }
    let labels = try LabelOperand(labels, rows: rows)
    aliasing.input(labels.range)
    try checkShardOptions(options, buffers)
    if options.workspaceBytes < 0 { throw .invalidOption("workspace bound \(options.workspaceBytes) is negative") }
    try blasSize(dim, "dim")
    try blasSize(cols, "cols")
    try blasSize(hiddenStride, "hidden_stride")
    try blasSize(weightStride, "weight_stride")
    return labels
  }

  /// The workspace of both calls: the same row blocks for the same `workspaceBytes` (the bias sums'
  /// room is reserved whether or not a bias gradient is asked for), so that the BLAS forms the same
  /// logits for the statistics and for the gradient (it may round a row differently in a block of
  /// another height), and G = exp(o − lse) uses the very logits the statistics summed.
  private func plan() throws(XentError) -> LinearPlan {
    try LinearPlan(
      T.self, rows: rows, dim: dim, classes: cols, workspaceBytes: options.workspaceBytes, separateGradient: false,
      biasGradient: true, requestedThreads: options.threads)
  }

  /// Takes the workspace (`.outOfMemory` before anything is written), runs `body` with the BLAS on one thread.
  private func withWorkspace(
    _ plan: LinearPlan, biasGradient: Bool, _ body: (LinearWorkspace<T>) -> Void
  ) throws(XentError) {
    guard let workspace = xentshim_workspace_take(UInt(plan.bytes)) else {
      throw .outOfMemory("linear cross-entropy: no memory for its \(plan.bytes)-byte workspace")
    }
    defer { xentshim_workspace_give(workspace) }
    xentblas_enter_single_threaded()
    defer { xentblas_leave_single_threaded() }
    body(LinearWorkspace<T>(workspace, plan, classes: cols, biasGradient: biasGradient))
  }

  /// For each row block: its logits tile by tile (with their statistics, or turned into G), then `body`
  /// with the block's first row and row count.
  private func forEachRowBlock(
    _ plan: LinearPlan, _ space: LinearWorkspace<T>, smoothing: Bool, gradient: ShardGradient<T>? = nil,
    _ body: (Int, Int) -> Void
  ) {
    var start = 0
    while start < rows {
      let n = min(plan.blockRows, rows - start)
      var tiles = LogitTiles(
        hidden: hidden.pointer + start * hiddenStride, hiddenStride: hiddenStride, weight: weight.pointer,
        weightStride: weightStride, bias: bias.address == nil ? nil : bias.pointer, rows: n,
        tileRows: plan.tileRows, dim: dim, classes: cols, logits: space.logits, statistics: space.statistics,
        tiles: plan.tiles, tileLength: plan.tileLength, smoothing: smoothing, cap: T(options.softCap), threads: plan.threads)
      tiles.gradient = gradient.map { $0.starting(at: start) }
      options.exponential.specialize(capped: options.softCap != 0, tiles)
      body(start, n)
      start += n
    }
  }
}
