// The cross-entropy driver below both public APIs (Swift and C): validation of everything
// (Validation/CrossEntropyArguments.swift), then the fused kernel (Kernels/FusedCrossEntropy.swift)
// specialized for the call's exp, soft cap and targets.

/// Every argument of one cross-entropy call.
package struct CrossEntropyCall<T: SoftmaxScalar> {
  package var logits: Buffer<T>
  package var layout: MatrixLayout
  package var targets: Targets<T>
  package var options: CrossEntropyOptions
  /// `rows` values for `.none`, one value otherwise. Required.
  package var loss: Buffer<T>
  /// `rows × gradStride`, or nil address. May be `logits` exactly when `gradStride == rowStride`.
  package var grad: Buffer<T>
  package var gradStride: Int
  /// `rows` log-sum-exps, and the `cols` values of Σ over rows of the gradient rows (eq. 8); each or nil.
  package var lse, bias: Buffer<T>
  /// `cols` class weights (`options.classWeights` from Swift) and the z-loss output (`rows` values for
  /// `.none`, one otherwise); each or nil address.
  package var classWeights, zLoss: Buffer<Double>
  /// When set (SUM and MEAN), also receives the unrounded Double sum of the row losses, so that a caller
  /// adding several calls' sums (the bfloat16 tiles) rounds once, as a single call does.
  var lossTotal: UnsafeMutablePointer<Double>? = nil
  /// When set, the z-loss gradient's scale (gradScale over the batch's counted rows) for a block of a
  /// batch whose loss scale is folded into `options.gradScale` (BlockedReduction).
  var zGradScale: Double? = nil
  /// Statistics of every row over fixed column tiles, computed by the caller on tiles still in cache
  /// (the linear driver): the kernel merges them instead of reading the rows for them, and finishes
  /// the gradient from the logits.
  var precomputed: PrecomputedStatistics<T>? = nil

  package init(
    logits: Buffer<T>, layout: MatrixLayout, targets: Targets<T>, options: CrossEntropyOptions,
    loss: Buffer<T>, grad: Buffer<T> = .init(nil as UnsafePointer<T>?), gradStride: Int? = nil,
    lse: Buffer<T> = .init(nil as UnsafePointer<T>?), bias: Buffer<T> = .init(nil as UnsafePointer<T>?),
    classWeights: Buffer<Double> = .init(nil as UnsafePointer<Double>?),
    zLoss: Buffer<Double> = .init(nil as UnsafePointer<Double>?)
  ) {
    (self.logits, self.layout, self.targets, self.options) = (logits, layout, targets, options)
    (self.loss, self.grad, self.gradStride) = (loss, grad, gradStride ?? layout.rowStride)
    (self.lse, self.bias, self.classWeights, self.zLoss) = (lse, bias, classWeights, zLoss)
  }

  /// Checks every argument; returns the rows that count (not ignored) and their weight.
  func validate() throws(XentError) -> LabelCounts {
    try CrossEntropyArguments(
      logits: logits, layout: layout, targets: targets, options: options, loss: loss, grad: grad,
      gradStride: gradStride, lse: lse, bias: bias, buffers: OptionBuffers(classWeights: classWeights, zLoss: zLoss),
      kernelInPlace: grad.address != nil && grad.address == logits.address
    ).validate()
  }

  /// Validates, then computes. On error nothing has been written.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  package func run() throws(XentError) {
    try bindingClassWeights { (call) throws(XentError) in
      let counted = try call.validate()
      try call.withBiasSum { biasSum in call.compute(counted: counted, biasSum: biasSum) }
    }
  }

  /// The kernel on arguments validated by the caller (`counted` from their label scan), adding the bias
  /// gradient's rows to the caller's running sum `biasSum` when given: the bfloat16 and linear drivers'
  /// float32/float64 work.
  func computeValidated(counted: LabelCounts, biasSum: BiasSum? = nil) {
    compute(counted: counted, biasSum: biasSum)
  }

  private func compute(counted: LabelCounts, biasSum: BiasSum?) {
    let soft: Bool
    if case .soft = targets { soft = true } else { soft = false }
    options.exponential.specialize(
      capped: options.softCap != 0, Specialized(call: self, counted: counted, biasSum: biasSum, soft: soft))
  }

  /// The kernel specialized for the exp and cap (`run`) and for the targets and smoothing (below):
  /// concrete types in every branch, never an existential call.
  private struct Specialized: ExponentialSpecialized {
    let call: CrossEntropyCall
    let counted: LabelCounts
    let biasSum: BiasSum?
    let soft: Bool

    func run<E: VectorExponential>(_: E.Type) {
      switch (soft, call.options.labelSmoothing > 0) {
      case (false, false): call.fused(counted: counted, biasSum: biasSum, PlainStatistics<E>.self)
      case (false, true): call.fused(counted: counted, biasSum: biasSum, SmoothedStatistics<E>.self)
      case (true, false): call.fused(counted: counted, biasSum: biasSum, SoftStatistics<E>.self)
      case (true, true): call.fused(counted: counted, biasSum: biasSum, SoftSmoothedStatistics<E>.self)
      }
    }
  }
}
