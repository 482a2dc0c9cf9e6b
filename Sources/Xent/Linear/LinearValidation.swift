// The checks of a linear cross-entropy call, in the order they run (required pointers, inputs, outputs,
// options, class weights, aliasing, the BLAS's size limits, the workspace, labels), and the plan of the
// call's one allocation. Nothing is written before they pass.

/// How a call uses its workspace and its threads.
struct LinearPlan {
  /// Rows per tile of logits (see `linearTileBytes`): the block's or, without kept logits, the span's
  /// rows in the fewest tiles of equal height (the last one may be shorter).
  var tileRows: Int
  /// Rows per block (each block's logits live in the workspace); the bytes of the block's logits (and
  /// of the separate gradient tile when there is one); columns per statistics tile, tiles per row and the
  /// bytes of their statistics (blockRows × tiles) and of the rows' gradient coefficients; the whole block.
  var blockRows, tileBytes, tileLength, tiles, statisticsBytes, bytes: Int
  /// The kernel writes G beside the logits instead of over them: a soft cap with class weights and
  /// smoothing reads the logits again after G is written.
  var separateGradient: Bool
  /// Doubles of the bias gradient's running sum (classes; twice that for Double, with TwoSum errors).
  var biasDoubles: Int
  /// Workers for the GEMMs and the softmax; of those, workers forming tiles at once (fewer when the
  /// scratch tiles of all would not fit the workspace).
  var threads, tileWorkers: Int
  /// Groups of class tiles whose parts of ∂l/∂H = G·W are summed apart (the first into grad_hidden, the
  /// others in the workspace: the bytes of those), then added in group order.
  var hiddenGroups, partialBytes: Int
  /// The row blocks' logits are kept in the workspace; else (a call that needs only their statistics
  /// and label logits) each worker forms its tiles in a scratch tile of its own,
  /// `tileRows × min(tileLength, classes)`, and the label logits take the coefficients' room.
  var keepsLogits: Bool
  /// Rows whose tiles are formed in one pass (a multiple of `blockRows`, or `rows`): `blockRows` when the
  /// logits are kept; without them, as many blocks as their statistics fit in `linearSpanStatisticsBytes`
  /// and in half the room the logits would take, so that the tiles can be as tall as `linearScratchTileBytes`
  /// allows. Their logits may differ in the last bits from a block's tiles' (a BLAS may round a row
  /// differently in a GEMM of another height).
  var spanRows: Int
  /// The leading dimension of a scratch tile, in elements: `min(tileLength, classes)`, padded by 64 bytes
  /// when its rows would lie a multiple of 4 KiB apart (such rows share cache sets, and the BLAS writes a
  /// few rows of C at a time).
  var scratchStride: Int
}

/// At most this many groups of class tiles for ∂l/∂H (`LinearPlan.hiddenGroups`).
let linearHiddenGroups = 4

/// The default workspace bound: 256 MiB (XENT_LINEAR_WORKSPACE_DEFAULT).
let linearWorkspaceDefault = 256 << 20

/// The logits are formed and their statistics taken in tiles of `LinearPlan.tileRows` rows ×
/// `linearTileLength` classes, at most `linearTileBytes`: each tile's statistics are taken while it is
/// still in cache (L3), so the statistics pass costs no memory traffic. The BLAS packs the tile's slice of
/// W for each tile: that copy costs 1/(2·tileRows) of the tile's flops, so tiles are as tall as the
/// bound allows: a row block is cut into the fewest tiles of equal height (a multiple of 16 rows).
let linearTileLength = 2048
let linearTileBytes = 8 << 20
/// The bound of a tile formed in a scratch tile of its own (a call that keeps no logits): twice
/// `linearTileBytes`, so that W is packed half as often again (2048 float32 rows).
let linearScratchTileBytes = 2 * linearTileBytes
/// At most this many bytes of tile statistics per span of rows of a call that keeps no logits
/// (`LinearPlan.spanRows`): 2048 rows at 128256 classes, 15420 at 32000.
let linearSpanStatisticsBytes = 16 << 20
/// Bytes of workspace per row and tile for its statistics, and per row for its gradient coefficients
/// (MemoryLayout<RowStatistics<T>>.stride and MemoryLayout<GradientCoefficients<T>>.stride ≤ 64).
let linearStatisticsBytes = 64

extension LinearCrossEntropyCall {
  /// Checks every argument and plans the workspace; returns the label scan's counts and the plan.
  func validate() throws(XentError) -> (LabelCounts, LinearPlan) {
    try Check.notNull(hidden, "hidden")
    try Check.notNull(weight, "weight")
    try Check.notNull(labels, "labels")
    try Check.notNull(loss, "loss")
    if dim == 0 { throw .invalidShape("dim is 0; hidden states must have at least one feature") }
    if classes == 0 { throw .invalidShape("classes is 0; the class dimension must not be empty") }
    var aliasing = Aliasing()
    let hiddenLayout = MatrixLayout(rows: rows, cols: dim, rowStride: hiddenStride)
    let weightLayout = MatrixLayout(rows: classes, cols: dim, rowStride: weightStride)
    aliasing.input(try MatrixOperand(hidden, hiddenLayout, "hidden").range)
    aliasing.input(try MatrixOperand(weight, weightLayout, "weight").range)
    if let r = try VectorOperand.optional(bias, count: classes, "bias")?.range { aliasing.input(r) }
    let labelOperand = try LabelOperand(labels, rows: rows)
    aliasing.input(labelOperand.range)
    let lossCount = options.reduction == .none ? rows : 1
    aliasing.output(try VectorOperand(loss, count: lossCount, "loss").range)
    if gradHidden.address != nil {
      aliasing.output(try MatrixOperand(gradHidden, like: hiddenLayout, stride: gradHiddenStride, "grad_hidden").range)
    }
    if gradWeight.address != nil {
      aliasing.output(try MatrixOperand(gradWeight, like: weightLayout, stride: gradWeightStride, "grad_weight").range)
    }
    if let r = try VectorOperand.optional(gradBias, count: classes, "grad_bias")?.range { aliasing.output(r) }
    if let r = try VectorOperand.optional(lse, count: rows, "lse")?.range { aliasing.output(r) }
    if let r = try VectorOperand.optional(buffers.zLoss, count: lossCount, "z-loss")?.range { aliasing.output(r) }
    try Check.options(options)
    if options.workspaceBytes < 0 { throw .invalidOption("workspace bound \(options.workspaceBytes) is negative") }
    var weights: ClassWeightOperand? = nil
    if buffers.classWeights.address != nil {
      weights = try ClassWeightOperand(buffers.classWeights, classes: classes)
      aliasing.input(weights!.vector.range)
    }
    try aliasing.check()
    try blasSize(dim, "dim")
    try blasSize(classes, "classes")
    try blasSize(hiddenStride, "hidden_stride")
    try blasSize(weightStride, "weight_stride")
    try blasSize(gradHiddenStride, "grad_hidden_stride", wanted: gradHidden.address != nil)
    try blasSize(gradWeightStride, "grad_weight_stride", wanted: gradWeight.address != nil)
    let plan = try self.plan()
    let counts = try labelOperand.scan(classes: classes, ignore: options.ignoreIndex, weights: weights?.pointer)
    return (counts, plan)
  }

  /// The workspace of this call (see `LinearPlan.init`): the same row blocks whichever gradients are
  /// asked for (the room of a separate gradient and of the bias sums is reserved either way), so that a
  /// call without gradients reduces the loss over the same blocks and stays within the same bound.
  private func plan() throws(XentError) -> LinearPlan {
    try LinearPlan(
      T.self, rows: rows, dim: dim, classes: classes, workspaceBytes: options.workspaceBytes,
      separateGradient: options.softCap != 0 && options.labelSmoothing > 0 && buffers.classWeights.address != nil,
      biasGradient: true, requestedThreads: options.threads,
      mayDropLogits: !wantsGradient && !(options.labelSmoothing > 0 && buffers.classWeights.address != nil))
  }
}

extension LinearPlan {
  /// The workspace: as many rows of logits as fit beside the bias sums, at most `rows`; 16-row multiples
  /// above 16 rows.
  init<T: SoftmaxScalar>(
    _: T.Type, rows: Int, dim: Int, classes: Int, workspaceBytes: Int, separateGradient separate: Bool,
    biasGradient: Bool, requestedThreads: Int, mayDropLogits: Bool = false
  ) throws(XentError) {
    let element = MemoryLayout<T>.stride
    let tileLength = linearTileLength, tiles = (classes + tileLength - 1) / tileLength
    // 64 bytes of statistics per row and tile (the header's figure; a RowStatistics takes less), 64 for
    // the row's gradient coefficients, and its parts of ∂l/∂H.
    let statisticsStride = linearStatisticsBytes
    let hiddenGroups = min(tiles, linearHiddenGroups)
    let slots = tiles + 1
    let rowBytes = classes * element * (separate ? 2 : 1) + slots * statisticsStride + (hiddenGroups - 1) * dim * element
    let biasDoubles = biasGradient ? (T.self == Double.self ? 2 : 1) * classes : 0
    let bound = workspaceBytes == 0 ? linearWorkspaceDefault : workspaceBytes
    // The regions start at multiples of 64 bytes: up to 63 bytes of padding before each.
    let available = bound - biasDoubles * 8 - 192
    if available < rowBytes {
      throw .invalidOption(
        "workspace bound \(bound) bytes holds no row of logits (\(rowBytes) bytes) beside the bias gradient's sums")
    }
    var blockRows = min(max(rows, 1), available / rowBytes)
    if blockRows > 16 { blockRows = blockRows / 16 * 16 }
    @inline(__always) func aligned(_ n: Int) -> Int { (n + 63) / 64 * 64 }
    let threads = workerCount(
      requested: requestedThreads, rows: rows, cols: classes.multipliedReportingOverflow(by: dim).partialValue,
      limit: 64)
    // The fewest tiles of equal height (16-row multiples) of at most `linearTileBytes` (in the block) or
    // `linearScratchTileBytes` (in a scratch tile).
    let maxTileRows = max(16, linearTileBytes / (tileLength * element))
    let maxScratchRows = max(16, linearScratchTileBytes / (tileLength * element))
    func tileHeight(_ rows: Int, most: Int) -> Int {
      let count = (rows + most - 1) / most
      return min(rows, ((rows + count - 1) / count + 15) / 16 * 16)
    }
    // The row blocks are planned as if the logits were kept either way (the same blocks, the same
    // reduction). Without them, a scratch tile per worker and the statistics of a span of blocks (at most
    // `linearSpanStatisticsBytes`), each in half the room of the logits and the ∂l/∂H parts. The span and
    // its tiles do not depend on the thread count; only how many workers form tiles at once does.
    var tileRows = tileHeight(blockRows, most: maxTileRows), spanRows = blockRows, keepsLogits = true
    var tileWorkers = threads
    var ld = min(tileLength, classes)
    if (ld * element) % 4096 == 0 { ld += 64 / element }
    if mayDropLogits {
      let half = blockRows * (classes * (separate ? 2 : 1) + (hiddenGroups - 1) * dim) * element / 2
      let blockStatistics = blockRows * slots * statisticsStride
      let tileFit = half / (ld * element)  // rows of one tile in half the room
      var blocks = 1 + min(max(0, linearSpanStatisticsBytes - blockStatistics), half) / blockStatistics
      if tileFit < maxScratchRows { blocks = min(blocks, max(1, tileFit / blockRows)) }
      let span = min(blocks * blockRows, max(rows, 1)), height = tileHeight(span, most: maxScratchRows)
      if height <= tileFit {
        (spanRows, tileRows, keepsLogits, tileWorkers) = (span, height, false, min(threads, tileFit / height))
      }
    }
    let tileBytes = aligned((keepsLogits ? blockRows * classes * (separate ? 2 : 1) : tileWorkers * tileRows * ld) * element)
    let partialBytes = keepsLogits ? aligned(blockRows * (hiddenGroups - 1) * dim * element) : 0
    let statisticsBytes = aligned(spanRows * slots * statisticsStride)
    self.init(
      tileRows: tileRows, blockRows: blockRows, tileBytes: tileBytes, tileLength: tileLength, tiles: tiles,
      statisticsBytes: statisticsBytes, bytes: tileBytes + statisticsBytes + partialBytes + biasDoubles * 8,
      separateGradient: separate, biasDoubles: biasDoubles, threads: threads, tileWorkers: tileWorkers,
      hiddenGroups: hiddenGroups, partialBytes: partialBytes, keepsLogits: keepsLogits, spanRows: spanRows,
      scratchStride: ld)
  }
}

/// The BLAS takes 32-bit sizes and leading dimensions.
func blasSize(_ value: Int, _ name: StaticString, wanted: Bool = true) throws(XentError) {
  if wanted && value > Int(Int32.max) { throw .invalidShape("\(name) \(value) is above the BLAS's limit of 2^31 - 1") }
}
