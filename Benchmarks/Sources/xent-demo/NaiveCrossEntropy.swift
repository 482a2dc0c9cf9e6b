// The yardstick, not the product: the textbook three-loop scalar cross-entropy (max, Σ exp, gradient),
// written the way one would without Xent.

#if canImport(Glibc)
import Glibc
#endif

/// Mean loss over rows; writes (softmax − onehot)/rows to `grad`.
func naiveCrossEntropy(_ x: [Float], rows: Int, cols: Int, labels: [Int64], grad: inout [Float]) -> Float {
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
