// The validation of a cross-entropy call, for every element type: logits of `L`, targets and
// outputs of `O`, a gradient of `G` (float32 and float64: all three the same; bfloat16: UInt16 logits,
// Float outputs, a Float or UInt16 gradient). Every rule of the cross-entropy family is here, in the
// order the checks run: required pointers, logits, targets, outputs, options, class weights,
// aliasing, labels.

/// The targets of a cross-entropy call.
package enum Targets<T> {
  /// One class index per row (`rows` values).
  case labels(Buffer<Int64>)
  /// A `rows × cols` matrix of target weights with its own row stride.
  case soft(Buffer<T>, stride: Int)
}

/// Every argument of one cross-entropy call, as validation sees it.
struct CrossEntropyArguments<L, O, G> {
  var logits: Buffer<L>
  var layout: MatrixLayout
  var targets: Targets<O>
  var options: CrossEntropyOptions
  var loss: Buffer<O>
  var grad: Buffer<G>
  var gradStride: Int
  var lse: Buffer<O>
  var bias: Buffer<O>
  var buffers: OptionBuffers
  /// The kernel writes the gradient over the logits it reads (then a soft cap with class weights and
  /// smoothing is refused: that path reads the logits again after the gradient is written).
  var kernelInPlace: Bool

  /// Checks every argument before anything is written; returns what the label scan learned.
  func validate() throws(XentError) -> LabelCounts {
    let rows = layout.rows, cols = layout.cols
    try Check.notNull(logits, "logits")
    switch targets {
    case .labels(let b): try Check.notNull(b, "labels")
    case .soft(let b, _): try Check.notNull(b, "targets")
    }
    try Check.notNull(loss, "loss")

    var aliasing = Aliasing()
    let logitsIndex = aliasing.input(try MatrixOperand(logits, layout, "logits").range)
    var labels: LabelOperand? = nil
    switch targets {
    case .labels(let b):
      labels = try LabelOperand(b, rows: rows)
      aliasing.input(labels!.range)
    case .soft(let b, let stride):
      aliasing.input(try MatrixOperand(b, like: layout, stride: stride, "targets").range)
    }
    let lossCount = options.reduction == .none ? rows : 1
    aliasing.output(try VectorOperand(loss, count: lossCount, "loss").range)
    if grad.address != nil {
      let g = aliasing.output(try MatrixOperand(grad, like: layout, stride: gradStride, "gradient").range)
      // In place: the gradient may be the logits exactly, with the same row stride and element type.
      if gradStride == layout.rowStride && L.self == G.self { aliasing.allowInPlace(output: g, input: logitsIndex) }
    }
    if let r = try VectorOperand.optional(lse, count: rows, "lse")?.range { aliasing.output(r) }
    if let r = try VectorOperand.optional(bias, count: cols, "bias gradient")?.range { aliasing.output(r) }
    if let r = try VectorOperand.optional(buffers.zLoss, count: lossCount, "z-loss")?.range { aliasing.output(r) }
    try Check.options(options)
    var weights: ClassWeightOperand? = nil
    if buffers.classWeights.address != nil {
      if case .soft = targets { throw .unsupported("class weights apply to integer labels, not to soft targets") }
      if options.softCap != 0 && options.labelSmoothing > 0 && kernelInPlace {
        throw .unsupported("a soft cap with class weights and label smoothing cannot write the gradient in place")
      }
      weights = try ClassWeightOperand(buffers.classWeights, classes: cols)
      aliasing.input(weights!.vector.range)
    }
    try aliasing.check()

    guard let labels else { return LabelCounts(rows: rows, weight: Double(rows)) }
    return try labels.scan(classes: cols, ignore: options.ignoreIndex, weights: weights?.pointer)
  }
}

/// A call whose class weights come either as a buffer (C) or as the Swift options' array.
protocol ClassWeightedCall {
  var options: CrossEntropyOptions { get }
  var classWeights: Buffer<Double> { get set }
}

extension ClassWeightedCall {
  /// Runs `body` on this call with the Swift options' class-weight array bound as its class-weight
  /// buffer (when the caller gave no buffer).
  func bindingClassWeights(_ body: (Self) throws(XentError) -> Void) throws(XentError) {
    guard classWeights.address == nil, let w = options.classWeights else { return try body(self) }
    try w.withUnsafeBufferPointer { (p) throws(XentError) in
      var bound = self
      bound.classWeights = Buffer(required: p)
      try body(bound)
    }
  }
}

extension CrossEntropyCall: ClassWeightedCall {}
extension BFloat16CrossEntropyCall: ClassWeightedCall {}
extension LinearCrossEntropyCall: ClassWeightedCall {
  var classWeights: Buffer<Double> {
    get { buffers.classWeights }
    set { buffers.classWeights = newValue }
  }
}
