// Plain, high-precision references and test data. Deliberately naive: the kernels are checked
// against this, not against themselves.

import Xent

#if canImport(Glibc)
import Glibc
#endif

#if arch(x86_64)
typealias Wide = Float80
#else
typealias Wide = Double
#endif

/// SplitMix64: reproducible test data.
struct TestRandom {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [0, 1).
  mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
  /// Standard normal (Box–Muller).
  mutating func normal() -> Double {
    let u = max(uniform(), 0x1p-60), v = uniform()
    return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
  }
  mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Reference statistics of one row in Wide precision.
struct ReferenceRow {
  var lse: Wide
  var p: [Wide]

  init<T: BinaryFloatingPoint>(_ x: some Collection<T>) {
    let w = x.map { Wide($0) }
    let m = w.max() ?? -.infinity
    if m == -.infinity {
      lse = -.infinity
      p = [Wide](repeating: 0, count: w.count)
      return
    }
    var s: Wide = 0
    for v in w { s += exp(v - m) }
    lse = m + log(s)
    p = w.map { exp($0 - m) / s }
  }
}

/// Reference cross-entropy of one row with target t (dense), per the documented formula.
func referenceLoss(_ x: [Wide], _ t: [Wide], lse: Wide) -> Wide {
  var l: Wide = 0
  for j in x.indices where t[j] != 0 { l += t[j] * (lse - x[j]) }
  return l
}

/// The rows of a strided matrix as arrays.
func rows<T>(_ a: [T], _ layout: MatrixLayout, offset: Int = 0) -> [[T]] {
  (0..<layout.rows).map { i in Array(a[(offset + i * layout.rowStride)..<(offset + i * layout.rowStride + layout.cols)]) }
}

/// Relative error |a − b| / |b| (absolute when b = 0); 0 when both are the same special value.
func relativeError<T: BinaryFloatingPoint>(_ a: T, _ b: Wide) -> Double {
  let x = Wide(a)
  if x == b || (x.isNaN && b.isNaN) { return 0 }
  if b == 0 { return Double(abs(x)) }
  return Double(abs(x - b) / abs(b))
}

/// Absolute error, 0 when both are the same special value.
func absoluteError<T: BinaryFloatingPoint>(_ a: T, _ b: Wide) -> Double {
  let x = Wide(a)
  if x == b || (x.isNaN && b.isNaN) { return 0 }
  return Double(abs(x - b))
}
