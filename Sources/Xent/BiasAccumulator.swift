internal import _XentShims

// The bias gradient (eq. 8: the sum of the gradient rows) is accumulated over rows in Double, whatever
// the element type, and rounded once at the end: summed in the element type row after row, its error
// would grow with the row count (rows × ½ ulp of the sum).

/// Class counts up to which the accumulator's scratch lives on the stack (32 KiB); above it, one heap
/// block per call.
let biasStackLimit = 4096
/// … and up to which a 1 KiB stack buffer does: small class counts do not pay for zeroing 32 KiB.
let smallBiasStackLimit = 128

/// The running sum over rows of the bias gradient, one entry per class: `sum` in Double and, for Double
/// outputs, `errors`: the rounding error of every addition (TwoSum), added in once at the end (so that a
/// Double sum's error does not grow with the rows either). Float outputs need no error terms: Double
/// holds each Float row exactly.
struct BiasSum {
  let sum: UnsafeMutablePointer<Double>
  let errors: UnsafeMutablePointer<Double>?

  /// The same sums seen from column `k`.
  @inline(__always) static func + (b: BiasSum, k: Int) -> BiasSum {
    BiasSum(sum: b.sum + k, errors: b.errors.map { $0 + k })
  }

  /// Adds the lanes of `v` to entries `i ..< i + lanes`.
  @inline(__always) func add<T: SoftmaxScalar>(_ v: T._Vector, at i: Int, _: T.Type) {
    T._accumulate(v, into: sum + i, errors: errors.map { $0 + i })
  }

  /// Adds the first `count` lanes of `v` to entries `i ..< i + count`.
  @inline(__always) func add<T: SoftmaxScalar>(_ v: T._Vector, at i: Int, count: Int, _: T.Type) {
    for k in 0..<count { add(Double(v[k]), at: i + k) }
  }

  /// Adds `x` to entry `j`.
  @inline(__always) func add(_ x: Double, at j: Int) {
    let (s, err) = twoSum(sum[j], x)
    if let errors { errors[j] += err }
    sum[j] = s
  }
}

extension CrossEntropyCall {
  /// Runs `body` with the bias gradient's running sum, zeroed (nil without a bias gradient), then
  /// rounds it into the output. Float: the sums on the stack up to `biasStackLimit` classes, else on the
  /// heap. Double: the sums in the output itself, their errors on the stack or heap. The heap block
  /// (once per call, the only allocation a call makes) is taken before anything is written: if it
  /// cannot be, `.outOfMemory` is thrown.
  func withBiasSum(_ body: (BiasSum?) -> Void) throws(XentError) {
    guard let address = bias.address else { return body(nil) }
    let cols = layout.cols
    let out = UnsafeMutableRawPointer(mutating: address)
    if layout.rows == 0 {  // cols zeros, nothing to sum: no scratch (none allocated)
      out.assumingMemoryBound(to: T.self).update(repeating: 0, count: cols)
      return body(nil)
    }
    let isDouble = T.self == Double.self
    @inline(__always) func run(_ scratch: UnsafeMutablePointer<Double>) {
      if isDouble {
        let sum = out.assumingMemoryBound(to: Double.self)
        sum.update(repeating: 0, count: cols)
        body(BiasSum(sum: sum, errors: scratch))
        for j in 0..<cols { sum[j] += scratch[j] }
      } else {
        body(BiasSum(sum: scratch, errors: nil))
        let o = out.assumingMemoryBound(to: T.self)
        for j in 0..<cols { o[j] = T(scratch[j]) }
      }
    }
    if cols <= biasStackLimit { return withStackDoubles(cols, run) }
    guard let heap = xentshim_alloc_doubles(UInt(cols)) else {
      throw .outOfMemory("bias gradient: no memory for the \(cols) doubles of its running sum")
    }
    defer { xentshim_free(heap) }
    heap.initialize(repeating: 0, count: cols)
    run(heap)
  }
}

/// Runs `body` with at least `count ≤ biasStackLimit` zeroed Doubles on the stack. Not inlined, so that
/// other calls' frames do not carry the buffer.
@inline(never)
func withStackDoubles(_ count: Int, _ body: (UnsafeMutablePointer<Double>) -> Void) {
  if count <= smallBiasStackLimit {
    var storage = InlineArray<128, Double>(repeating: 0)
    var span = storage.mutableSpan
    span.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
  } else {
    var storage = InlineArray<4096, Double>(repeating: 0)
    var span = storage.mutableSpan
    span.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
  }
}
