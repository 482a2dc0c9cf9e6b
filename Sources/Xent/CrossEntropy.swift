// The public Swift API of cross-entropy: zero-copy over spans (`array.span`, `array.mutableSpan`,
// `buffer.span`), a `MatrixLayout` giving the shape.

/// Softmax cross-entropy with integer class labels, its log-sum-exp, its gradient and the
/// batch-summed (bias) gradient, in two reads of the logits (fused kernel).
///
/// For row i with logits x (`cols` values), `lse = log Σ_j exp(x_j)`, label k and smoothing ε, the
/// target is `t = (1 − ε)·onehot(k) + ε/cols` and
///
///     loss_i = Σ_j t_j (lse − x_j) = (1 − ε)·(lse − x_k) + ε·(lse − mean(x))
///     gradient row i = s·(softmax(x) − t),   s = gradScale / denominator
///     biasGradient = Σ_i gradient row i      (eq. 8: the gradient of a bias shared by all rows)
///
/// with denominator = number of rows not ignored for `.mean`, 1 for `.sum` and `.none`. The loss is
/// evaluated as `(max − x_k) + log Σ exp(x − max)` and reduced in Double.
///
/// - Parameters:
///   - logits: `layout` over caller memory.
///   - layout: the logits' shape and row stride.
///   - labels: `rows` labels in `[0, cols)` or equal to `options.ignoreIndex`.
///   - options: reduction, ignore index, smoothing, gradient scale, threads, the 1.1.0 options.
///   - loss: `rows` values for `.none`, one value otherwise.
///   - gradient: `rows × gradientStride` (default stride `cols`), or empty for none.
///   - gradientStride: the gradient's row stride, at least `cols`; default `cols`.
///   - logSumExp: `rows` values, or empty for none. Written for ignored rows too.
///   - biasGradient: `cols` values, or empty for none; needs no gradient matrix. (One thread.) Rows
///     are summed in Double and rounded once, so the error does not grow with the row count; above
///     4096 classes that sum takes one heap block per call (``XentError/outOfMemory(_:)`` if it cannot).
/// - Error bound (asserted by `Tests/XentTests/CrossEntropyAccuracyTests.swift` against a Float80
///   reference; every bound is stated in `docs/numerics.md`): Float loss relative error ≤ 2e-7 (per
///   row: relative to max(1, |loss_i|)), lse ≤ 2e-7·max(1, |lse|), gradient absolute error ≤ 2e-7·s,
///   bias gradient ≤ 2e-7·s·rows; Double loss ≤ 1e-14, lse ≤ 1e-15·max(1, |lse|), gradient ≤ 1e-15·s,
///   bias gradient ≤ 1e-14·s·rows.
/// - Special values: −inf logits have probability 0 (masked vocabulary); a label whose logit is −inf
///   gives loss +inf and a finite gradient; an all −inf row has lse −inf, loss +inf and gradient −s·t;
///   a NaN or +inf logit makes that row's loss, lse and gradient NaN, other rows stay exact. Ignored
///   rows get loss 0 and a zero gradient row.
/// - Throws: `XentError`, before anything is written.
public func crossEntropy<T: SoftmaxScalar>(
  logits: Span<T>, layout: MatrixLayout, labels: Span<Int64>, options: CrossEntropyOptions = .init(),
  loss: inout MutableSpan<T>, gradient: inout MutableSpan<T>, gradientStride: Int? = nil,
  logSumExp: inout MutableSpan<T>, biasGradient: inout MutableSpan<T>
) throws(XentError) {
  var none = MutableSpan<Double>()
  try crossEntropy(logits: logits, layout: layout, labels: labels, options: options, loss: &loss,
                   zLoss: &none, gradient: &gradient, gradientStride: gradientStride, logSumExp: &logSumExp,
                   biasGradient: &biasGradient)
}

/// As the function above, with the z-loss (`options.zLoss` = λ > 0): `zLoss` receives Σ or mean of
/// `λ·lse_i²` over the counted rows (`rows` values for `.none`), computed in Double and never added to
/// `loss`; the gradient includes its term `2λ·lse_i·ŷ` (scaled like the loss's, by gradScale / counted rows).
public func crossEntropy<T: SoftmaxScalar>(
  logits: Span<T>, layout: MatrixLayout, labels: Span<Int64>, options: CrossEntropyOptions = .init(),
  loss: inout MutableSpan<T>, zLoss: inout MutableSpan<Double>, gradient: inout MutableSpan<T>,
  gradientStride: Int? = nil, logSumExp: inout MutableSpan<T>, biasGradient: inout MutableSpan<T>
) throws(XentError) {
  try logits.withUnsafeBufferPointer { (x) throws(XentError) in
    try labels.withUnsafeBufferPointer { (l) throws(XentError) in
      try zLoss.withUnsafeMutableBufferPointer { (z) throws(XentError) in
        try withOutputs(&loss, &gradient, &logSumExp, &biasGradient) { (lo, g, lse, b) throws(XentError) in
          try CrossEntropyCall(
            logits: Buffer(required: x), layout: layout, targets: .labels(Buffer(required: l)),
            options: options, loss: lo, grad: g, gradStride: gradientStride ?? layout.cols, lse: lse, bias: b,
            zLoss: Buffer(optional: z)
          ).run()
        }
      }
    }
  }
}

/// The reduced cross-entropy loss (`.sum` or `.mean`) of integer labels; see
/// ``crossEntropy(logits:layout:labels:options:loss:gradient:gradientStride:logSumExp:biasGradient:)``.
/// `options.reduction` must not be `.none` (pass a `loss:` span of `rows` values for that).
public func crossEntropy<T: SoftmaxScalar>(
  logits: Span<T>, layout: MatrixLayout, labels: Span<Int64>, options: CrossEntropyOptions = .init()
) throws(XentError) -> T {
  var none = MutableSpan<T>()
  return try crossEntropy(logits: logits, layout: layout, labels: labels, options: options, gradient: &none)
}

/// The reduced cross-entropy loss of integer labels, with its gradient written to `gradient`
/// (`rows × cols`, contiguous).
public func crossEntropy<T: SoftmaxScalar>(
  logits: Span<T>, layout: MatrixLayout, labels: Span<Int64>, options: CrossEntropyOptions = .init(),
  gradient: inout MutableSpan<T>
) throws(XentError) -> T {
  try reducedLoss(options) { (loss) throws(XentError) in
    var none = MutableSpan<T>(), none2 = MutableSpan<T>()
    try crossEntropy(logits: logits, layout: layout, labels: labels, options: options, loss: &loss,
                     gradient: &gradient, logSumExp: &none, biasGradient: &none2)
  }
}

/// The reduced cross-entropy loss of integer labels; the gradient overwrites the logits (in place,
/// with the logits' row stride).
public func crossEntropyInPlace<T: SoftmaxScalar>(
  logits: inout MutableSpan<T>, layout: MatrixLayout, labels: Span<Int64>,
  options: CrossEntropyOptions = .init()
) throws(XentError) -> T {
  if options.reduction == .none {
    throw .invalidOption("reduction .none gives one loss per row: pass a `loss:` span of `rows` values")
  }
  var value: T = 0
  try logits.withUnsafeMutableBufferPointer { (x) throws(XentError) in
    try labels.withUnsafeBufferPointer { (l) throws(XentError) in
      try withUnsafeMutablePointer(to: &value) { (p) throws(XentError) in
        try CrossEntropyCall(
          logits: Buffer(required: x), layout: layout, targets: .labels(Buffer(required: l)),
          options: options, loss: Buffer(p, count: 1), grad: Buffer(required: x), gradStride: layout.rowStride
        ).run()
      }
    }
  }
  return value
}

/// Softmax cross-entropy with soft (probability) targets `y`, the exact gradient for any target sum
/// (eq. 5 of the derivation: `∂l/∂o = (Σ_j y_j)·ŷ − y`, which is `ŷ − y` only when Σy = 1).
///
/// With smoothing ε the target is `t = (1 − ε)·y + ε/cols`;
///
///     loss_i = Σ_j t_j (lse − x_j)      (terms with t_j = 0 count 0, also where x_j = −inf)
///     gradient row i = s·((Σ_j t_j)·softmax(x) − t)
///
/// `.mean` divides by `rows`. Targets have their own row stride (default `cols`) and are not
/// validated: NaN targets make that row NaN. Same outputs and special values as
/// ``crossEntropy(logits:layout:labels:options:loss:gradient:gradientStride:logSumExp:biasGradient:)``;
/// the same bounds with the loss relative to max(1, Σ_j |t_j (lse − x_j)|) and the gradient's scaled by
/// max(1, Σ_j |t_j|) (`docs/numerics.md`).
public func softCrossEntropy<T: SoftmaxScalar>(
  logits: Span<T>, layout: MatrixLayout, targets: Span<T>, targetStride: Int? = nil,
  options: CrossEntropyOptions = .init(),
  loss: inout MutableSpan<T>, gradient: inout MutableSpan<T>, gradientStride: Int? = nil,
  logSumExp: inout MutableSpan<T>, biasGradient: inout MutableSpan<T>
) throws(XentError) {
  try logits.withUnsafeBufferPointer { (x) throws(XentError) in
    try targets.withUnsafeBufferPointer { (y) throws(XentError) in
      try withOutputs(&loss, &gradient, &logSumExp, &biasGradient) { (lo, g, lse, b) throws(XentError) in
        try CrossEntropyCall(
          logits: Buffer(required: x), layout: layout,
          targets: .soft(Buffer(required: y), stride: targetStride ?? layout.cols),
          options: options, loss: lo, grad: g, gradStride: gradientStride ?? layout.cols, lse: lse, bias: b
        ).run()
      }
    }
  }
}

/// The reduced soft-target cross-entropy loss, optionally with its gradient (`rows × cols`).
public func softCrossEntropy<T: SoftmaxScalar>(
  logits: Span<T>, layout: MatrixLayout, targets: Span<T>, targetStride: Int? = nil,
  options: CrossEntropyOptions = .init(), gradient: inout MutableSpan<T>
) throws(XentError) -> T {
  try reducedLoss(options) { (loss) throws(XentError) in
    var none = MutableSpan<T>(), none2 = MutableSpan<T>()
    try softCrossEntropy(logits: logits, layout: layout, targets: targets, targetStride: targetStride,
                         options: options, loss: &loss, gradient: &gradient, logSumExp: &none,
                         biasGradient: &none2)
  }
}

/// The reduced soft-target cross-entropy loss.
public func softCrossEntropy<T: SoftmaxScalar>(
  logits: Span<T>, layout: MatrixLayout, targets: Span<T>, targetStride: Int? = nil,
  options: CrossEntropyOptions = .init()
) throws(XentError) -> T {
  var none = MutableSpan<T>()
  return try softCrossEntropy(logits: logits, layout: layout, targets: targets, targetStride: targetStride,
                              options: options, gradient: &none)
}

/// Runs `body` with a one-value `loss` span and returns that value: the reduced-loss conveniences
/// (`.sum` or `.mean`; `.none` needs a `loss:` span of `rows` values).
func reducedLoss<T: SoftmaxScalar>(
  _ options: CrossEntropyOptions, _ body: (inout MutableSpan<T>) throws(XentError) -> Void
) throws(XentError) -> T {
  if options.reduction == .none {
    throw .invalidOption("reduction .none gives one loss per row: pass a `loss:` span of `rows` values")
  }
  var value: T = 0
  try withUnsafeMutablePointer(to: &value) { (p) throws(XentError) in
    var loss = MutableSpan(_unsafeElements: UnsafeMutableBufferPointer(start: p, count: 1))
    try body(&loss)
  }
  return value
}

/// Runs `body` with the four outputs as buffers (empty optional outputs become "not requested").
private func withOutputs<T>(
  _ loss: inout MutableSpan<T>, _ g: inout MutableSpan<T>, _ lse: inout MutableSpan<T>,
  _ bias: inout MutableSpan<T>,
  _ body: (Buffer<T>, Buffer<T>, Buffer<T>, Buffer<T>) throws(XentError) -> Void
) throws(XentError) {
  try loss.withUnsafeMutableBufferPointer { (lo) throws(XentError) in
    try g.withUnsafeMutableBufferPointer { (g) throws(XentError) in
      try lse.withUnsafeMutableBufferPointer { (l) throws(XentError) in
        try bias.withUnsafeMutableBufferPointer { (b) throws(XentError) in
          try body(Buffer(required: lo), Buffer(optional: g), Buffer(optional: l), Buffer(optional: b))
        }
      }
    }
  }
}
