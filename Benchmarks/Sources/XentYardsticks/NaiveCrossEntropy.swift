// The yardstick, not the product: the textbook three-loop scalar cross-entropy (max, Σ exp, gradient),
// written the way one would without Xent. Same meaning as Xent's `.mean` reduction with a gradient.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element types of the yardstick (Float and Double), with their C library's exp and log.
public protocol NaiveScalar: BinaryFloatingPoint {
  static func exponential(_ x: Self) -> Self
  static func logarithm(_ x: Self) -> Self
}

extension Float: NaiveScalar {
  @inline(__always) public static func exponential(_ x: Float) -> Float { expf(x) }
  @inline(__always) public static func logarithm(_ x: Float) -> Float { logf(x) }
}

extension Double: NaiveScalar {
  @inline(__always) public static func exponential(_ x: Double) -> Double { exp(x) }
  @inline(__always) public static func logarithm(_ x: Double) -> Double { log(x) }
}

extension NaiveScalar {
  /// Mean loss over the first `rows` rows of `x` (`cols` values each), the row losses summed in Double;
  /// writes (softmax − onehot)/rows to the first `rows · cols` elements of `grad`.
  @_specialize(where Self == Float)
  @_specialize(where Self == Double)
  public static func naive(_ x: [Self], rows: Int, cols: Int, labels: [Int64], grad: inout [Self]) -> Self {
    var total = 0.0
    let scale = 1 / Self(rows)
    for i in 0..<rows {
      let base = i * cols
      var m = -Self.infinity
      for j in 0..<cols { m = max(m, x[base + j]) }
      var s: Self = 0
      for j in 0..<cols { s += exponential(x[base + j] - m) }
      let label = Int(labels[i])
      total += Double(m - x[base + label] + logarithm(s))
      for j in 0..<cols { grad[base + j] = exponential(x[base + j] - m) / s * scale }
      grad[base + label] -= scale
    }
    return Self(total / Double(rows))
  }
}

/// Reproducible logits, uniform in [−4, 4) (the same generator as the C timer), and labels `i·7919 mod cols`.
public func benchmarkLogits<T: BinaryFloatingPoint>(_: T.Type, count: Int) -> [T] {
  var state: UInt64 = 0x9E37_79B9_7F4A_7C15
  return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
    for i in 0..<count {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      buffer[i] = T(Double(state >> 40) * (8.0 / 16_777_216.0) - 4.0)
    }
    initialized = count
  }
}

public func benchmarkLabels(rows: Int, cols: Int) -> [Int64] {
  (0..<rows).map { Int64(($0 &* 7919) % cols) }
}
