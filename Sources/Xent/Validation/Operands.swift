// Checked descriptions of a call's operands. Each is built once per call, by the driver, from a
// `Buffer` whose address is known to be non-nil: building it checks the operand's shape, its length
// (when the caller knows it) and its byte range, in that order. `Aliasing` then checks the ranges
// against each other.

/// A `rows × cols` matrix of `E` with a row stride, checked.
struct MatrixOperand<E> {
  let buffer: Buffer<E>
  let layout: MatrixLayout
  /// Elements from the first to the last: `(rows − 1)·rowStride + cols`.
  let extent: Int
  let range: ByteRange

  init(_ b: Buffer<E>, _ layout: MatrixLayout, _ name: StaticString) throws(XentError) {
    buffer = b
    self.layout = layout
    extent = try Check.layout(layout, "\(name)", E.self)
    try Check.length(b, extent, "\(name)")
    range = try Check.range(b, elements: extent, name)
  }

  /// The same rows and columns in `b` with `stride` (an output shaped like an input).
  init(_ b: Buffer<E>, like other: MatrixLayout, stride: Int, _ name: StaticString) throws(XentError) {
    try self.init(b, MatrixLayout(rows: other.rows, cols: other.cols, rowStride: stride), name)
  }

  var pointer: UnsafePointer<E> { buffer.pointer }
  var mutablePointer: UnsafeMutablePointer<E> { buffer.mutablePointer }
}

/// `count` values of `E`, checked.
struct VectorOperand<E> {
  let buffer: Buffer<E>
  let count: Int
  let range: ByteRange

  init(_ b: Buffer<E>, count: Int, _ name: StaticString) throws(XentError) {
    buffer = b
    self.count = count
    try Check.length(b, count, "\(name)")
    range = try Check.range(b, elements: count, name)
  }

  /// An optional vector: nil when `b` is not requested.
  static func optional(_ b: Buffer<E>, count: Int, _ name: StaticString) throws(XentError) -> VectorOperand? {
    b.address == nil ? nil : try VectorOperand(b, count: count, name)
  }
}

/// What a label scan learns: the rows that count (not ignored) and the Σ of their class weights.
struct LabelCounts {
  var rows = 0
  var weight = 0.0
}

/// One class index per row, checked for length and range; `scan` checks the values.
struct LabelOperand {
  let vector: VectorOperand<Int64>

  init(_ b: Buffer<Int64>, rows: Int) throws(XentError) {
    vector = try VectorOperand(b, count: rows, "labels")
  }

  var range: ByteRange { vector.range }
  var pointer: UnsafePointer<Int64> { vector.buffer.pointer }

  /// Every label must be in `[0, classes)` or `ignore`: the first that is not is named with its row.
  /// Returns the rows counted and, with class weights, the Σ of their weights (else the row count).
  func scan(classes: Int, ignore: Int64, weights: UnsafePointer<Double>? = nil) throws(XentError) -> LabelCounts {
    let labels = pointer, rows = vector.count, limit = Int64(classes)
    if weights == nil {
      // Branch-free (the compiler vectorizes it): count the rows that are not ignored and note whether
      // any of them is out of range; the loop below, which names the first bad row, runs only then.
      // Rows are counted as an integer; Double(n) is the same value, exactly.
      var live = 0, bad = 0
      for i in 0..<rows {
        let label = labels[i]
        let counted = label != ignore ? 1 : 0
        live &+= counted
        bad |= counted & (UInt64(bitPattern: label) >= UInt64(limit) ? 1 : 0)
      }
      if bad == 0 { return LabelCounts(rows: live, weight: Double(live)) }
    }
    var counts = LabelCounts()
    var weight = 0.0
    for i in 0..<rows {
      let label = labels[i]
      if label == ignore { continue }
      if label < 0 || label >= limit { throw .labelOutOfRange(row: i, label: label, cols: classes) }
      counts.rows += 1
      if let weights { weight += weights[Int(label)] }
    }
    counts.weight = weights == nil ? Double(counts.rows) : weight
    return counts
  }
}

/// `cols` class weights, checked: each finite and ≥ 0.
struct ClassWeightOperand {
  let vector: VectorOperand<Double>

  init(_ b: Buffer<Double>, classes: Int) throws(XentError) {
    vector = try VectorOperand(b, count: classes, "class weights")
    let w = b.pointer
    for j in 0..<classes where !(w[j] >= 0 && w[j].isFinite) {
      throw .invalidOption("class weight \(w[j]) of class \(j) is not finite and >= 0")
    }
  }

  var pointer: UnsafePointer<Double> { vector.buffer.pointer }
}

/// A call's inputs and outputs as byte ranges. No output may overlap an input or another output,
/// except the one output allowed to start exactly at one input (in place; its layout checked to match
/// by the driver).
struct Aliasing {
  private var inputs = ByteRanges()
  private var outputs = ByteRanges()
  private var inPlace: (output: Int, input: Int)? = nil

  init() {}

  /// Adds an input; returns its index (for `allowInPlace`).
  @discardableResult
  mutating func input(_ r: ByteRange) -> Int {
    inputs.append(r)
    return inputs.count - 1
  }

  /// Adds an output; returns its index.
  @discardableResult
  mutating func output(_ r: ByteRange) -> Int {
    outputs.append(r)
    return outputs.count - 1
  }

  /// Output `output` may be input `input` exactly.
  mutating func allowInPlace(output: Int, input: Int) {
    inPlace = (output, input)
  }

  func check() throws(XentError) {
    try Check.noOverlap(inputs: inputs, outputs: outputs, inPlace: inPlace)
  }
}
