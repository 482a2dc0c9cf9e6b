// The yardstick, not the product: the textbook three-loop scalar cross-entropy (max, Σ exp, gradient),
// written the way one would without Xent. Same meaning as Xent's `.mean` reduction with a gradient.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Mean loss over the first `rows` rows of `x` (`cols` values each); writes (softmax − onehot)/rows to
/// the first `rows · cols` elements of `grad`.
public func naiveCrossEntropy(_ x: [Float], rows: Int, cols: Int, labels: [Int64], grad: inout [Float]) -> Float {
  var total = 0.0
  let scale = 1 / Float(rows)
  for i in 0..<rows {
    let base = i * cols
    var m = -Float.infinity
    for j in 0..<cols { m = max(m, x[base + j]) }
    var s: Float = 0
    for j in 0..<cols { s += expf(x[base + j] - m) }
    let label = Int(labels[i])
    total += Double(m - x[base + label] + logf(s))
    for j in 0..<cols { grad[base + j] = expf(x[base + j] - m) / s * scale }
    grad[base + label] -= scale
  }
  return Float(total / Double(rows))
}

/// As the Float version, in Double (`exp`, `log`).
public func naiveCrossEntropy(_ x: [Double], rows: Int, cols: Int, labels: [Int64], grad: inout [Double]) -> Double {
  var total = 0.0
  let scale = 1 / Double(rows)
  for i in 0..<rows {
    let base = i * cols
    var m = -Double.infinity
    for j in 0..<cols { m = max(m, x[base + j]) }
    var s = 0.0
    for j in 0..<cols { s += exp(x[base + j] - m) }
    let label = Int(labels[i])
    total += m - x[base + label] + log(s)
    for j in 0..<cols { grad[base + j] = exp(x[base + j] - m) / s * scale }
    grad[base + label] -= scale
  }
  return total / Double(rows)
}

/// Generic entry used by the benchmarks (Float and Double only).
public protocol NaiveScalar: BinaryFloatingPoint {
  static func naive(_ x: [Self], rows: Int, cols: Int, labels: [Int64], grad: inout [Self]) -> Self
}

extension Float: NaiveScalar {
  public static func naive(_ x: [Float], rows: Int, cols: Int, labels: [Int64], grad: inout [Float]) -> Float {
    naiveCrossEntropy(x, rows: rows, cols: cols, labels: labels, grad: &grad)
  }
}

extension Double: NaiveScalar {
  public static func naive(_ x: [Double], rows: Int, cols: Int, labels: [Int64], grad: inout [Double]) -> Double {
    naiveCrossEntropy(x, rows: rows, cols: cols, labels: labels, grad: &grad)
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
