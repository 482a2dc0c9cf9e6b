// The gradient is the derivative of the loss (central finite differences in Double), the bias
// gradient is the column sum of the gradient, and results do not depend on the thread count.

import Testing
import Xent

@Suite("Gradient and threads")
struct GradientAndThreadTests {
  @Test("Finite differences in Double, hard and soft targets, with smoothing and scale")
  func finiteDifferences() throws {
    var rng = TestRandom(seed: 11)
    let layout = MatrixLayout(rows: 3, cols: 11)
    let x = (0..<33).map { _ in rng.normal() * 2 }
    let labels: [Int64] = [4, -100, 10]
    let y = (0..<33).map { _ in rng.uniform() * 0.2 }  // row sums ≈ 1.1, not 1
    let o = CrossEntropyOptions(reduction: .mean, labelSmoothing: 0.2, gradScale: 1.5)
    for soft in [false, true] {
      func loss(_ v: [Double]) throws -> Double {
        let l = soft ? try softCrossEntropy(logits: v.span, layout: layout, targets: y.span, options: o)
                     : try crossEntropy(logits: v.span, layout: layout, labels: labels.span, options: o)
        return l * o.gradScale
      }
      var g = [Double](repeating: 0, count: 33)
      do {
        var gs = g.mutableSpan
        _ = soft ? try softCrossEntropy(logits: x.span, layout: layout, targets: y.span, options: o, gradient: &gs)
                 : try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: o, gradient: &gs)
      }
      let h = 1e-5
      for k in 0..<33 {
        var a = x, b = x
        a[k] += h
        b[k] -= h
        let fd = (try loss(a) - loss(b)) / (2 * h)
        #expect(abs(fd - g[k]) <= 1e-8, "soft \(soft) element \(k): \(fd) vs \(g[k])")
      }
    }
  }

  /// 29 classes: the rows-in-lanes kernel; 1000: the row kernel (stack accumulator); 5000: the heap one.
  @Test("Bias gradient without the gradient matrix equals the column sums of the gradient",
        arguments: [(40, 29), (40, 1000), (24, 5000)])
  func biasGradient(rows: Int, cols: Int) throws {
    var rng = TestRandom(seed: 3)
    let layout = MatrixLayout(rows: rows, cols: cols)
    let x = (0..<(rows * cols)).map { _ in Float(rng.normal()) }
    let labels = (0..<rows).map { _ in Int64(rng.int(cols)) }
    var loss: [Float] = [0], bias = [Float](repeating: 0, count: cols), grad = [Float](repeating: 0, count: rows * cols)
    do {
      var l = loss.mutableSpan, b = bias.mutableSpan, g = MutableSpan<Float>(), s = MutableSpan<Float>()
      try crossEntropy(logits: x.span, layout: layout, labels: labels.span, loss: &l, gradient: &g,
                       logSumExp: &s, biasGradient: &b)
      var gs = grad.mutableSpan
      _ = try crossEntropy(logits: x.span, layout: layout, labels: labels.span, gradient: &gs)
    }
    for j in 0..<cols {
      var s: Double = 0, magnitude: Double = 0
      for i in 0..<rows {
        s += Double(grad[i * cols + j])
        magnitude += abs(Double(grad[i * cols + j]))
      }
      // Summed in Double and rounded once: within ½ ulp of the exact column sum, plus the difference of
      // the two calls' gradient values (the bias-only call recomputes each exp; the other scales stored
      // exps: ≤ 1 ulp each). (Summed in Float, as before, the error reached rows · ½ ulp · Σ|g|.)
      #expect(abs(Double(bias[j]) - s) <= 0x1p-24 * abs(s) + 0x1p-23 * magnitude, "column \(j)")
    }
  }

  @Test("Bit-identical for 1, 2, 3 and 8 threads")
  func threads() throws {
    var rng = TestRandom(seed: 9)
    let layout = MatrixLayout(rows: 301, cols: 517, rowStride: 520)
    let x = (0..<layout.extent!).map { _ in Float(rng.normal() * 4) }
    let labels = (0..<301).map { i in i % 7 == 0 ? -100 : Int64(rng.int(517)) }
    func run(_ t: Int) throws -> (Float, [Float], [Float], [Float]) {
      let o = CrossEntropyOptions(labelSmoothing: 0.1, threads: t)
      var g = [Float](repeating: 0, count: 301 * 517)
      var gs = g.mutableSpan
      let l = try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: o, gradient: &gs)
      _ = consume gs
      return (l, g, try softmax(x.span, layout: layout, threads: t), try logSumExp(x.span, layout: layout, threads: t))
    }
    let one = try run(1)
    for t in [2, 3, 8] {
      let r = try run(t)
      #expect(r.0 == one.0 && r.1 == one.1 && r.2 == one.2 && r.3 == one.3, "threads \(t)")
    }
  }

  @Test("Long rows split into column blocks: bit-identical for 1, 2, 3 and 8 threads, in place too")
  func columnBlocks() throws {
    var rng = TestRandom(seed: 21)
    let cols = 200_003
    let layout = MatrixLayout(rows: 3, cols: cols, rowStride: cols + 5)
    var x = (0..<layout.extent!).map { _ in Float(rng.normal() * 3) }
    x[17] = -.infinity
    x[cols + 5 + 70_000] = 40  // a maximum in a later block of row 1
    let labels: [Int64] = [5, 199_999, -100]
    let targets = (0..<(3 * cols)).map { _ in Float(rng.uniform() < 0.99 ? 0 : rng.uniform()) }
    func run(_ t: Int) throws -> [[Float]] {
      let o = CrossEntropyOptions(reduction: .none, labelSmoothing: 0.05, threads: t)
      var loss = [Float](repeating: 0, count: 3), grad = [Float](repeating: 0, count: 3 * cols)
      var lse = [Float](repeating: 0, count: 3), bias = [Float](repeating: 0, count: cols)
      var softLoss: Float = 0
      var inPlace = x
      var inPlaceLoss: Float = 0
      do {
        var l = loss.mutableSpan, g = grad.mutableSpan, s = lse.mutableSpan, b = bias.mutableSpan
        try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: o, loss: &l,
                         gradient: &g, logSumExp: &s, biasGradient: &b)
        var none = MutableSpan<Float>()
        softLoss = try softCrossEntropy(logits: x.span, layout: layout, targets: targets.span,
                                        options: .init(threads: t), gradient: &none)
        var ip = inPlace.mutableSpan
        inPlaceLoss = try crossEntropyInPlace(logits: &ip, layout: layout, labels: labels.span,
                                              options: .init(threads: t))
      }
      return [loss, grad, lse, bias, [softLoss, inPlaceLoss], inPlace,
              try softmax(x.span, layout: layout, threads: t), try logSoftmax(x.span, layout: layout, threads: t),
              try logSumExp(x.span, layout: layout, threads: t)]
    }
    let one = try run(1)
    for t in [2, 3, 8] {
      let r = try run(t)
      for k in one.indices { #expect(r[k] == one[k], "threads \(t), output \(k)") }
    }
    // And the split rows are accurate: lse and softmax against the reference.
    for i in 0..<3 {
      let row = Array(x[(i * (cols + 5))..<(i * (cols + 5) + cols)])
      let r = ReferenceRow(row)
      #expect(absoluteError(one[2][i], r.lse) <= 2e-7 * Double(max(1, abs(r.lse))))
      var worst = 0.0
      for j in stride(from: 0, to: cols, by: 97) { worst = max(worst, absoluteError(one[6][i * cols + j], r.p[j])) }
      #expect(worst <= 1e-9)
    }
  }
}
