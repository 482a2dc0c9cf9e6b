internal import _XentShims

// bfloat16 logits (stored as UInt16: the upper half of a Float). The kernel runs in float32 on the
// exactly widened values: with a float32 gradient buffer, the logits are widened into it and the
// float32 kernel runs there in place (no scratch); otherwise tiles of rows are widened into a scratch
// allocated once per call (≤ 4 MiB: the one allocation of this entry; XentError.outOfMemory when it
// cannot be had, before anything is written), and a bfloat16 gradient is
// rounded to nearest-even from the finished float32 gradient (the −1 of the target folded in float32
// before rounding). Per-row results equal the float32 path's on the widened logits bit for bit, and so
// does the reduced loss when the rows fit in one tile (2^20 elements); with several tiles the row sums
// are added tile by tile (last-bit differences possible).

/// bfloat16 → Float: exact.
@inline(__always) func widen(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

/// Float → bfloat16, rounded to nearest, ties to even; NaN stays NaN (quiet).
@inline(__always) func narrow(_ f: Float) -> UInt16 {
  let u = f.bitPattern
  if f.isNaN { return UInt16(truncatingIfNeeded: (u >> 16) | 0x0040) }
  return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
}

/// Every argument of a bfloat16 cross-entropy call.
package struct BFloat16CrossEntropyCall {
  package var logits: Buffer<UInt16>
  package var layout: MatrixLayout
  package var labels: Buffer<Int64>
  package var options: CrossEntropyOptions
  /// The loss (`rows` values for `.none`, else one) and the `rows` log-sum-exps (or nil address).
  package var loss, lse: Buffer<Float>
  /// At most one gradient: float32 (`gradient`) or bfloat16 (`gradientBFloat16`), rows × gradStride.
  package var gradient: Buffer<Float>
  package var gradientBFloat16: Buffer<UInt16>
  package var gradStride: Int
  package var classWeights, zLoss: Buffer<Double>

  package init(
    logits: Buffer<UInt16>, layout: MatrixLayout, labels: Buffer<Int64>, options: CrossEntropyOptions,
    loss: Buffer<Float>, gradient: Buffer<Float>, gradientBFloat16: Buffer<UInt16>, gradStride: Int,
    lse: Buffer<Float>, classWeights: Buffer<Double> = .init(nil as UnsafePointer<Double>?),
    zLoss: Buffer<Double> = .init(nil as UnsafePointer<Double>?)
  ) {
    (self.logits, self.layout, self.labels, self.options) = (logits, layout, labels, options)
    (self.loss, self.lse, self.gradient, self.gradientBFloat16) = (loss, lse, gradient, gradientBFloat16)
    (self.gradStride, self.classWeights, self.zLoss) = (gradStride, classWeights, zLoss)
  }

  /// The float32 call on `x` (rows × cols with row stride `stride`) with this call's outputs.
  private func float32Call(_ x: Buffer<Float>, rows: Int, stride: Int) -> CrossEntropyCall<Float> {
    CrossEntropyCall<Float>(
      logits: x, layout: MatrixLayout(rows: rows, cols: layout.cols, rowStride: stride),
      targets: .labels(labels), options: options, loss: loss, grad: gradient, gradStride: gradStride,
      lse: lse, classWeights: classWeights, zLoss: zLoss)
  }

  /// Checks every argument (the bfloat16 logits as themselves, the outputs as float32 or bfloat16);
  /// returns the label scan's counts. The kernel runs in place whenever a gradient is asked for (in
  /// the float32 gradient, or in the tile that becomes the bfloat16 one).
  func validate() throws(XentError) -> LabelCounts {
    if gradient.address != nil && gradientBFloat16.address != nil {
      throw .invalidOption("ask for a float32 or a bfloat16 gradient, not both")
    }
    let buffers = OptionBuffers(classWeights: classWeights, zLoss: zLoss)
    let inPlace = gradient.address != nil || gradientBFloat16.address != nil
    if gradient.address != nil {
      return try CrossEntropyArguments<UInt16, Float, Float>(
        logits: logits, layout: layout, targets: .labels(labels), options: options, loss: loss, grad: gradient,
        gradStride: gradStride, lse: lse, bias: .none, buffers: buffers, kernelInPlace: inPlace
      ).validate()
    }
    return try CrossEntropyArguments<UInt16, Float, UInt16>(
      logits: logits, layout: layout, targets: .labels(labels), options: options, loss: loss,
      grad: gradientBFloat16, gradStride: gradStride, lse: lse, bias: .none, buffers: buffers, kernelInPlace: inPlace
    ).validate()
  }

  package func run() throws(XentError) {
    try bindingClassWeights { (call) throws(XentError) in
      let counts = try call.validate()
      if call.gradient.address != nil { call.runInGradient(counts) } else { try call.runInTiles(counts) }
    }
  }

  /// With a float32 gradient: the logits widened into it, then the float32 kernel in place there.
  private func runInGradient(_ counts: LabelCounts) {
    let rows = layout.rows, cols = layout.cols
    let x = logits.pointer, g = gradient.mutablePointer
    for i in 0..<rows {
      for j in 0..<cols { g[i * gradStride + j] = widen(x[i * layout.rowStride + j]) }
    }
    float32Call(Buffer(UnsafePointer(g)), rows: rows, stride: gradStride).computeValidated(counted: counts)
  }

  /// Loss only, or a bfloat16 gradient: tiles of rows widened into one scratch, each run as a float32
  /// call with SUM reduction and the batch's denominators folded into its scales.
  private func runInTiles(_ counts: LabelCounts) throws(XentError) {
    let rows = layout.rows, cols = layout.cols
    let x = logits.pointer
    let tileRows = max(1, min(rows, (1 << 20) / cols))
    // The call's one allocation (≤ 4 MiB), taken before anything is written.
    guard let scratch = xentshim_alloc_floats(UInt(max(1, tileRows * cols))) else {
      throw .outOfMemory("bfloat16 logits: no memory for the \(tileRows * cols) floats of the float32 tile")
    }
    defer { xentshim_free(scratch) }
    let none = options.reduction == .none
    var batch = BlockedReduction<Float>(options: options, counts: counts, weighted: classWeights.address != nil)
    let tileOptions = batch.block
    let labelBase = labels.pointer, lossOut = loss.mutablePointer
    let zOut = zLoss.optionalOutput, lseOut = lse.optionalOutput, gOut = gradientBFloat16.optionalOutput
    var start = 0
    while start < rows {
      let n = min(tileRows, rows - start)
      for i in 0..<n {
        for j in 0..<cols { scratch[i * cols + j] = widen(x[(start + i) * layout.rowStride + j]) }
      }
      batch.run { tileLoss, tileZ in
        CrossEntropyCall<Float>(
          logits: Buffer(UnsafePointer(scratch)), layout: MatrixLayout(rows: n, cols: cols),
          targets: .labels(Buffer(labelBase + start)), options: tileOptions,
          loss: Buffer(none ? lossOut + start : tileLoss), grad: Buffer(gOut != nil ? scratch : nil),
          gradStride: cols, lse: Buffer(lseOut.map { $0 + start }), classWeights: classWeights,
          zLoss: Buffer(zOut.map { none ? $0 + start : tileZ }))
      }
      if let gOut {
        for i in 0..<n {
          for j in 0..<cols { gOut[(start + i) * gradStride + j] = narrow(scratch[i * cols + j]) }
        }
      }
      start += n
    }
    batch.finish(loss: lossOut, zLoss: zOut)
  }
}

// MARK: Swift API

/// Softmax cross-entropy of bfloat16 logits (raw bits, `UInt16`) with float32 accumulation: the same
/// results as the float32 `crossEntropy` on the exactly widened logits. Outputs: `loss` (Float), an
/// optional float32 `gradient` or bfloat16 `bfloat16Gradient` (at most one; the bfloat16 one is the
/// float32 gradient rounded to nearest-even, and may be the logits themselves with the same stride),
/// optional `logSumExp`. Without a float32 gradient the call allocates one scratch tile (≤ 4 MiB).
public func crossEntropy(
  bfloat16Logits logits: Span<UInt16>, layout: MatrixLayout, labels: Span<Int64>,
  options: CrossEntropyOptions = .init(), loss: inout MutableSpan<Float>, gradient: inout MutableSpan<Float>,
  bfloat16Gradient: inout MutableSpan<UInt16>, gradientStride: Int? = nil, logSumExp: inout MutableSpan<Float>
) throws(XentError) {
  try logits.withUnsafeBufferPointer { (x) throws(XentError) in
    try labels.withUnsafeBufferPointer { (l) throws(XentError) in
      try loss.withUnsafeMutableBufferPointer { (lo) throws(XentError) in
        try gradient.withUnsafeMutableBufferPointer { (g) throws(XentError) in
          try bfloat16Gradient.withUnsafeMutableBufferPointer { (h) throws(XentError) in
            try logSumExp.withUnsafeMutableBufferPointer { (e) throws(XentError) in
              try BFloat16CrossEntropyCall(
                logits: Buffer(required: x), layout: layout, labels: Buffer(required: l), options: options,
                loss: Buffer(required: lo), gradient: Buffer(optional: g), gradientBFloat16: Buffer(optional: h),
                gradStride: gradientStride ?? layout.cols, lse: Buffer(optional: e)
              ).run()
            }
          }
        }
      }
    }
  }
}
