// z-loss (PaLM), class weights (PyTorch semantics) and the logit soft cap (Gemma 2) against a Float80
// reference, with and without label smoothing, every reduction, both kernels (≤ 16 classes and
// longer rows) and split long rows; a finite-difference check of the gradients.

import Testing
import Xent

#if canImport(Glibc)
import Glibc
#endif

@Suite("z-loss, class weights and the soft cap")
struct ZLossAndClassWeightTests {
  struct Result { var loss: [Double]; var z: [Double]; var grad: [Double] }

  /// Xent's outputs, as Doubles.
  func run<T: SoftmaxScalar>(_: T.Type, _ x: [Double], rows: Int, cols: Int, labels: [Int64],
                             options: CrossEntropyOptions) throws -> Result {
    let xt = x.map { T($0) }
    let n = options.reduction == .none ? rows : 1
    var loss = [T](repeating: 0, count: n), z = [Double](repeating: -1, count: n)
    var grad = [T](repeating: 0, count: rows * cols)
    // Every output at once (loss, z-loss, gradient, lse, bias): the overlap check must hold them all.
    var lse = [T](repeating: 0, count: rows), bias = [T](repeating: 0, count: cols)
    do {
      var l = loss.mutableSpan, zs = z.mutableSpan, g = grad.mutableSpan, e = lse.mutableSpan, b = bias.mutableSpan
      try crossEntropy(logits: xt.span, layout: MatrixLayout(rows: rows, cols: cols), labels: labels.span,
                       options: options, loss: &l, zLoss: &zs, gradient: &g, logSumExp: &e, biasGradient: &b)
    }
    return Result(loss: loss.map { Double($0) }, z: z, grad: grad.map { Double($0) })
  }

  /// The reference, written from the definitions.
  func reference<T: SoftmaxScalar>(_: T.Type, _ x: [Double], rows: Int, cols: Int, labels: [Int64],
                                   options o: CrossEntropyOptions) -> Result {
    let eps = Wide(o.labelSmoothing), lambda = Wide(o.zLoss), w = (o.classWeights ?? Array(repeating: 1, count: cols)).map { Wide($0) }
    var losses = [Wide](), zs = [Wide](), grad = [Wide](repeating: 0, count: rows * cols)
    var weightSum: Wide = 0, counted: Wide = 0
    var perRowT: [[Wide]] = [], perRowP: [[Wide]] = [], perRowLse: [Wide] = []
    let c = Wide(o.softCap)
    var derivative = [Wide](repeating: 1, count: rows * cols)
    for i in 0..<rows {
      // The soft cap c·tanh(x/c) (−inf kept) and its derivative 1 − tanh²(x/c), in Wide precision.
      let row = (0..<cols).map { j -> Wide in
        let v = Wide(T(x[i * cols + j]))
        if c == 0 || v == -.infinity { if v == -.infinity && c != 0 { derivative[i * cols + j] = 0 }; return v }
        let t = tanh(v / c)
        derivative[i * cols + j] = 1 - t * t
        return c * t
      }
      let r = ReferenceRow(row)
      var t = [Wide](repeating: 0, count: cols)
      if labels[i] != o.ignoreIndex {
        let y = Int(labels[i])
        for j in 0..<cols { t[j] = eps * w[j] / Wide(cols) }
        t[y] += (1 - eps) * w[y]
        weightSum += w[y]
        counted += 1
        losses.append(referenceLoss(row, t, lse: r.lse))
        zs.append(lambda * r.lse * r.lse)
      } else {
        losses.append(0)
        zs.append(0)
      }
      perRowT.append(t); perRowP.append(r.p); perRowLse.append(r.lse)
    }
    let mean = o.reduction == .mean
    let s = Wide(o.gradScale) / (mean ? (o.classWeights != nil ? weightSum : counted) : 1)
    let sz = Wide(o.gradScale) / (mean ? counted : 1)
    for i in 0..<rows where labels[i] != o.ignoreIndex {
      let tsum = perRowT[i].reduce(0, +)
      for j in 0..<cols {
        grad[i * cols + j] = (s * (tsum * perRowP[i][j] - perRowT[i][j]) + sz * 2 * lambda * perRowLse[i] * perRowP[i][j])
          * derivative[i * cols + j]
      }
    }
    func reduce(_ v: [Wide], _ den: Wide) -> [Double] {
      switch o.reduction {
      case .none: v.map { Double($0) }
      case .sum: [Double(v.reduce(0, +))]
      case .mean: [Double(v.reduce(0, +) / den)]
      }
    }
    return Result(loss: reduce(losses, o.classWeights != nil ? weightSum : counted), z: reduce(zs, counted),
                  grad: grad.map { Double($0) })
  }

  func check<T: SoftmaxScalar>(_ type: T.Type, cols: Int, tolerance: Double) throws {
    var rng = TestRandom(seed: UInt64(cols))
    let rows = cols > 10_000 ? 4 : 11
    let x = (0..<(rows * cols)).map { _ in rng.normal() * 2 }
    var labels = (0..<rows).map { _ in Int64(rng.int(cols)) }
    labels[3] = -100
    let weights = (0..<cols).map { j in j % 5 == 0 ? 0 : 0.25 + rng.uniform() * 2 }
    for reduction in [Reduction.none, .sum, .mean] {
      for eps in [0.0, 0.2] {
        for (lambda, w) in [(1e-2, nil), (0.0, weights), (1e-3, weights)] as [(Double, [Double]?)] {
          let o = CrossEntropyOptions(reduction: reduction, labelSmoothing: eps, gradScale: 1.5, zLoss: lambda,
                                      classWeights: w)
          let got = try run(T.self, x, rows: rows, cols: cols, labels: labels, options: o)
          let want = reference(T.self, x, rows: rows, cols: cols, labels: labels, options: o)
          let what = "\(T.self) cols \(cols) \(reduction) ε \(eps) λ \(lambda) weights \(w != nil)"
          for k in got.loss.indices {
            #expect(abs(got.loss[k] - want.loss[k]) <= tolerance * max(1, abs(want.loss[k])), "\(what) loss \(k)")
          }
          for k in got.z.indices {
            #expect(abs(got.z[k] - want.z[k]) <= tolerance * max(1e-3, abs(want.z[k])), "\(what) z-loss \(k): \(got.z[k]) vs \(want.z[k])")
          }
          var worst = 0.0
          for k in got.grad.indices { worst = max(worst, abs(got.grad[k] - want.grad[k])) }
          #expect(worst <= tolerance * 4, "\(what) gradient error \(worst)")
        }
      }
    }
  }

  @Test("Soft cap (with z-loss, weights, smoothing, in place): against the reference", arguments: [10, 333, 70_001])
  func softCap(cols: Int) throws {
    var rng = TestRandom(seed: UInt64(cols) + 1)
    let rows = cols > 10_000 ? 3 : 9
    var x = (0..<(rows * cols)).map { _ in rng.normal() * 20 }
    x[1] = -.infinity
    let labels = (0..<rows).map { i in i == 2 ? Int64(-100) : Int64(rng.int(cols)) }
    let weights = (0..<cols).map { _ in 0.5 + rng.uniform() }
    for (eps, lambda, w) in [(0.0, 0.0, nil), (0.1, 1e-3, nil), (0.1, 0.0, weights)] as [(Double, Double, [Double]?)] {
      for cap in [30.0, 5.0] {
        let o = CrossEntropyOptions(reduction: .none, labelSmoothing: eps, zLoss: lambda, softCap: cap, classWeights: w)
        for (type, tolerance) in [(0, 4 * cap * 1.2e-7), (1, 1e-13)] {
          let got = type == 0 ? try run(Float.self, x, rows: rows, cols: cols, labels: labels, options: o)
                              : try run(Double.self, x, rows: rows, cols: cols, labels: labels, options: o)
          let want = type == 0 ? reference(Float.self, x, rows: rows, cols: cols, labels: labels, options: o)
                               : reference(Double.self, x, rows: rows, cols: cols, labels: labels, options: o)
          let what = "cap \(cap) ε \(eps) λ \(lambda) weights \(w != nil) \(type == 0 ? "Float" : "Double")"
          // (With smoothing, row 0's masked −inf logit makes its loss +inf on both sides.)
          for i in 0..<rows {
            #expect(got.loss[i] == want.loss[i] || abs(got.loss[i] - want.loss[i]) <= tolerance * max(1, abs(want.loss[i])),
                    "\(what): row \(i) loss \(got.loss[i]) vs \(want.loss[i])")
          }
          var worst = 0.0
          for k in got.grad.indices { worst = max(worst, abs(got.grad[k] - want.grad[k])) }
          #expect(worst <= tolerance, "\(what): gradient error \(worst)")
          #expect(got.grad[1] == 0, "a masked (−inf) logit stays masked under the cap")
        }
      }
    }
    // In place equals out of place under the cap.
    let o = CrossEntropyOptions(labelSmoothing: 0.1, softCap: 10)
    let xf = x.map { Float($0) }
    var g = [Float](repeating: 0, count: xf.count), y = xf
    var gs = g.mutableSpan, ys = y.mutableSpan
    let layout = MatrixLayout(rows: rows, cols: cols)
    let l1 = try crossEntropy(logits: xf.span, layout: layout, labels: labels.span, options: o, gradient: &gs)
    let l2 = try crossEntropyInPlace(logits: &ys, layout: layout, labels: labels.span, options: o)
    _ = consume gs
    _ = consume ys
    #expect(l1 == l2 && g == y)
  }

  @Test("Float: against the reference, small and long rows", arguments: [10, 333, 70_001])
  func float(cols: Int) throws { try check(Float.self, cols: cols, tolerance: 4e-7) }

  @Test("Double: against the reference", arguments: [10, 333])
  func double(cols: Int) throws { try check(Double.self, cols: cols, tolerance: 1e-14) }

  @Test("The z-loss gradient is the derivative of loss + z-loss (finite differences, Double)")
  func finiteDifferences() throws {
    var rng = TestRandom(seed: 3)
    let rows = 2, cols = 7
    let x = (0..<(rows * cols)).map { _ in rng.normal() * 3 }
    let labels: [Int64] = [2, 6]
    let o = CrossEntropyOptions(reduction: .sum, labelSmoothing: 0.1, zLoss: 0.05, softCap: 4,
                                classWeights: [1, 2, 0.5, 1, 1, 3, 0.7])
    func objective(_ v: [Double]) throws -> Double {
      let r = try run(Double.self, v, rows: rows, cols: cols, labels: labels, options: o)
      return r.loss[0] + r.z[0]
    }
    let g = try run(Double.self, x, rows: rows, cols: cols, labels: labels, options: o).grad
    for k in 0..<(rows * cols) {
      var a = x, b = x
      a[k] += 1e-6
      b[k] -= 1e-6
      let fd = (try objective(a) - objective(b)) / 2e-6
      #expect(abs(fd - g[k]) <= 1e-7, "element \(k): \(fd) vs \(g[k])")
    }
  }

  @Test("A label of weight 0 adds 0, also when its logit is −inf (found by the fuzzer; 0·inf was NaN)")
  func zeroWeightMaskedLabel() throws {
    // Row [0, −inf, 0], label 1 (masked), weights [1, 0, 1]: the label term is 0; with ε = 0.1 the smoothing
    // part is ε·(Σw·lse − Σ w_j x_j)/cols = 0.1·(2·log 2 − 0)/3 (the masked column has weight 0).
    let x: [Double] = [0, -.infinity, 0]
    for eps in [0.0, 0.1] {
      for cap in [0.0, 30.0] {
        var loss = [Double](repeating: -7, count: 1), grad = [Double](repeating: -7, count: 3), none = [Double](), none2 = [Double]()
        do {
          var l = loss.mutableSpan, g = grad.mutableSpan, e = none.mutableSpan, b = none2.mutableSpan
          try crossEntropy(logits: x.span, layout: MatrixLayout(rows: 1, cols: 3), labels: [Int64(1)].span,
                           options: CrossEntropyOptions(reduction: .sum, labelSmoothing: eps, softCap: cap,
                                                        classWeights: [1, 0, 1]),
                           loss: &l, gradient: &g, logSumExp: &e, biasGradient: &b)
        }
        let expected = eps * 2 * log(2.0) / 3
        #expect(abs(loss[0] - expected) <= 1e-15, "ε \(eps) cap \(cap): loss \(loss[0]), expected \(expected)")
        let finite = grad.allSatisfy { $0.isFinite }
        #expect(finite, "ε \(eps) cap \(cap): \(grad)")
      }
    }
  }

  @Test("Weighted smoothing with a label logit far below the row (found by the fuzzer: −1e30 cancelled the row)",
        arguments: [6, 1000])
  func weightedSmoothingFarLabel(cols: Int) throws {
    // The weighted Σ w_j (x_j − m0) was taken relative to the label's logit: at −1e30, every x_j − m0 rounded
    // to 1e30 and the loss came out as −9.4e13 (Double) instead of ~2.1.
    var rng = TestRandom(seed: 11)
    let rows = 3
    var x = (0..<(rows * cols)).map { _ in rng.normal() * 10 }
    let labels: [Int64] = [4, 0, Int64(cols - 1)]
    x[0 * cols + 4] = -1e30
    x[2 * cols + cols - 1] = -3e37  // the loss (0.9·w·3e37 for ε = 0.1) stays within Float's range
    let weights = (0..<cols).map { Double(1 + $0 % 3) * 0.5 }
    for eps in [1.0, 0.1] {
      let o = CrossEntropyOptions(reduction: .none, labelSmoothing: eps, zLoss: 0.5, classWeights: weights)
      for (type, tolerance) in [(0, 4e-7), (1, 1e-13)] {
        let got = type == 0 ? try run(Float.self, x, rows: rows, cols: cols, labels: labels, options: o)
                            : try run(Double.self, x, rows: rows, cols: cols, labels: labels, options: o)
        let want = type == 0 ? reference(Float.self, x, rows: rows, cols: cols, labels: labels, options: o)
                             : reference(Double.self, x, rows: rows, cols: cols, labels: labels, options: o)
        for i in 0..<rows {
          #expect(abs(got.loss[i] - want.loss[i]) <= tolerance * max(1, abs(want.loss[i])),
                  "ε \(eps) \(type == 0 ? "Float" : "Double") row \(i): loss \(got.loss[i]) vs \(want.loss[i])")
        }
      }
    }
  }

  @Test("Refused: negative or non-finite weights, λ and cap, weights with soft targets")
  func refused() {
    let x: [Float] = [1, 2, 3, 4]
    let labels: [Int64] = [0, 1]
    let layout = MatrixLayout(rows: 2, cols: 2)
    for o in [CrossEntropyOptions(zLoss: -1), .init(zLoss: .infinity), .init(classWeights: [1, -1]),
              .init(classWeights: [1, .nan])] {
      #expect(throws: XentError.self) { _ = try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: o) }
    }
    #expect((try? crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: .init(classWeights: [1]))) == nil)
    #expect(throws: XentError.self) {
      _ = try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: .init(softCap: -1))
    }
    #expect(throws: XentError.unsupported("class weights apply to integer labels, not to soft targets")) {
      _ = try softCrossEntropy(logits: x.span, layout: layout, targets: x.span, options: .init(classWeights: [1, 1]))
    }
  }
}
