// Sharded vocabulary: shards' statistics, merged, give the unsharded loss and gradient (label
// smoothing with the global class count), for uneven shards, masked logits, ignored rows, long shards.

import Testing
import Xent

/// The bit patterns of the six fields (NaN == NaN).
func bits(_ s: ShardStatistics) -> [UInt64] {
  [s.max, s.sumExp, s.sumX, s.count, s.labelLogit, s.labelSeen].map(\.bitPattern)
}

@Suite("Sharded vocabulary statistics")
struct ShardStatisticsTests {
  /// Splits `cols` into shards at `cuts`, runs partial → merge (left fold) → finalize/gradient, and
  /// returns (loss per row, lse, gradient) next to the fused kernel's.
  func sharded<T: SoftmaxScalar>(
    _: T.Type, x: [T], rows: Int, cols: Int, labels: [Int64], cuts: [Int], options: CrossEntropyOptions
  ) throws -> (loss: [T], lse: [T], grad: [T], fusedLoss: [T], fusedLse: [T], fusedGrad: [T]) {
    let bounds = [0] + cuts + [cols]
    var merged = [ShardStatistics](repeating: ShardStatistics(), count: rows)
    var grad = [T](repeating: .nan, count: rows * cols)
    var allStats: [[ShardStatistics]] = []
    for k in 0..<(bounds.count - 1) {
      let lo = bounds[k], n = bounds[k + 1] - lo
      var s = [ShardStatistics](repeating: ShardStatistics(), count: rows)
      var ss = s.mutableSpan
      // The shard is columns [lo, lo + n) of the full matrix: a strided view, no copy.
      try partialStatistics(logits: x.span.extracting(lo...), layout: MatrixLayout(rows: rows, cols: n, rowStride: cols),
                            columnOffset: lo, totalColumns: cols, labels: labels.span, options: options, into: &ss)
      _ = consume ss
      allStats.append(s)
      for i in 0..<rows { merged[i] = merged[i].merged(with: s[i]) }
    }
    let lossCount = options.reduction == .none ? rows : 1
    var loss = [T](repeating: 0, count: lossCount), lse = [T](repeating: 0, count: rows)
    do {
      var l = loss.mutableSpan, e = lse.mutableSpan
      try crossEntropy(statistics: merged.span, totalColumns: cols, labels: labels.span, options: options,
                       loss: &l, logSumExp: &e)
    }
    for k in 0..<(bounds.count - 1) {
      let lo = bounds[k], n = bounds[k + 1] - lo
      try grad.withUnsafeMutableBufferPointer { p in
        var g = MutableSpan(_unsafeElements: UnsafeMutableBufferPointer(rebasing: p[lo...]))
        try crossEntropyGradient(logits: x.span.extracting(lo...), layout: MatrixLayout(rows: rows, cols: n, rowStride: cols),
                                 columnOffset: lo, totalColumns: cols, labels: labels.span, statistics: merged.span,
                                 options: options, gradient: &g, gradientStride: cols)
      }
    }
    // Commutativity, bit for bit, on every pair of shards.
    if allStats.count >= 2 {
      for i in 0..<rows {
        #expect(bits(allStats[0][i].merged(with: allStats[1][i])) == bits(allStats[1][i].merged(with: allStats[0][i])))
      }
    }
    var fl = [T](repeating: 0, count: lossCount), fe = [T](repeating: 0, count: rows), fg = [T](repeating: 0, count: rows * cols)
    do {
      var l = fl.mutableSpan, e = fe.mutableSpan, g = fg.mutableSpan, b = MutableSpan<T>()
      try crossEntropy(logits: x.span, layout: MatrixLayout(rows: rows, cols: cols), labels: labels.span, options: options,
                       loss: &l, gradient: &g, logSumExp: &e, biasGradient: &b)
    }
    return (loss, lse, grad, fl, fe, fg)
  }

  @Test("Shards merged = unsharded: every reduction, smoothing, ignored rows, masked logits")
  func matchesFused() throws {
    var rng = TestRandom(seed: 77)
    let rows = 9, cols = 103
    var x = (0..<(rows * cols)).map { _ in Float(rng.normal() * 3) }
    for j in 40..<60 { x[2 * cols + j] = -.infinity }  // a masked range spanning a shard
    for j in 0..<cols { x[4 * cols + j] = -.infinity }  // an all −inf row
    var labels = (0..<rows).map { _ in Int64(rng.int(cols)) }
    labels[5] = -100
    for reduction in [Reduction.none, .sum, .mean] {
      for eps in [0.0, 0.1] {
        let o = CrossEntropyOptions(reduction: reduction, labelSmoothing: eps)
        for cuts in [[], [1], [50], [7, 8, 60, 102]] {
          let r = try sharded(Float.self, x: x, rows: rows, cols: cols, labels: labels, cuts: cuts, options: o)
          for i in r.loss.indices {
            #expect(r.loss[i] == r.fusedLoss[i] || abs(r.loss[i] - r.fusedLoss[i]) <= 2e-7 * max(1, abs(r.fusedLoss[i])),
                     "\(reduction) ε \(eps) cuts \(cuts) row \(i): \(r.loss[i]) vs \(r.fusedLoss[i])")
          }
          for i in 0..<rows where i != 4 { #expect(abs(r.lse[i] - r.fusedLse[i]) <= 2e-7 * max(1, abs(r.fusedLse[i]))) }
          #expect(r.lse[4] == -.infinity)
          for k in r.grad.indices { #expect(abs(r.grad[k] - r.fusedGrad[k]) <= 2e-7, "grad \(k)") }
        }
      }
    }
  }

  @Test("Label smoothing uses the global class count")
  func globalCount() throws {
    var rng = TestRandom(seed: 5)
    let rows = 3, cols = 40
    let x = (0..<(rows * cols)).map { _ in rng.normal() }
    let labels: [Int64] = [0, 20, 39]
    let r = try sharded(Double.self, x: x, rows: rows, cols: cols, labels: labels, cuts: [10, 20, 30],
                        options: .init(reduction: .none, labelSmoothing: 0.3))
    for i in 0..<rows { #expect(abs(r.loss[i] - r.fusedLoss[i]) <= 1e-14 * abs(r.fusedLoss[i])) }
    for k in r.grad.indices { #expect(abs(r.grad[k] - r.fusedGrad[k]) <= 1e-15) }
  }

  @Test("The z-loss from merged statistics: its value and gradient as the fused call's, every reduction",
        arguments: [Reduction.none, .sum, .mean])
  func zLoss(reduction: Reduction) throws {
    var rng = TestRandom(seed: 31)
    let rows = 6, cols = 57
    var x = (0..<(rows * cols)).map { _ in rng.normal() * 4 }
    for j in 0..<cols { x[3 * cols + j] = -.infinity }  // an all −inf row: z = +inf, its gradient term 0
    var labels = (0..<rows).map { _ in Int64(rng.int(cols)) }
    labels[1] = -100
    let o = CrossEntropyOptions(reduction: reduction, labelSmoothing: 0.1, gradScale: 0.5, zLoss: 2e-3)
    let r = try sharded(Double.self, x: x, rows: rows, cols: cols, labels: labels, cuts: [20, 21], options: o)
    for k in r.grad.indices { #expect(abs(r.grad[k] - r.fusedGrad[k]) <= 1e-15, "grad \(k)") }
    // The z-loss values: the statistics' call against the fused call's.
    var merged = [ShardStatistics](repeating: ShardStatistics(), count: rows)
    do {
      var ss = merged.mutableSpan
      try partialStatistics(logits: x.span, layout: MatrixLayout(rows: rows, cols: cols), columnOffset: 0,
                            totalColumns: cols, labels: labels.span, options: o, into: &ss)
    }
    let n = reduction == .none ? rows : 1
    var loss = [Double](repeating: 0, count: n), z = [Double](repeating: -1, count: n)
    var fusedLoss = loss, fusedZ = z
    do {
      var l = loss.mutableSpan, zs = z.mutableSpan, e = MutableSpan<Double>()
      try crossEntropy(statistics: merged.span, totalColumns: cols, labels: labels.span, options: o, loss: &l,
                       zLoss: &zs, logSumExp: &e)
      var fl = fusedLoss.mutableSpan, fz = fusedZ.mutableSpan, g = MutableSpan<Double>(), fe = MutableSpan<Double>()
      var b = MutableSpan<Double>()
      try crossEntropy(logits: x.span, layout: MatrixLayout(rows: rows, cols: cols), labels: labels.span, options: o,
                       loss: &fl, zLoss: &fz, gradient: &g, logSumExp: &fe, biasGradient: &b)
    }
    for i in 0..<n {
      #expect(z[i] == fusedZ[i] || abs(z[i] - fusedZ[i]) <= 1e-14 * abs(fusedZ[i]), "z \(i): \(z[i]) vs \(fusedZ[i])")
    }
    if reduction == .none { #expect(z[3] == .infinity && z[1] == 0) }
  }

  @Test("A long shard (column blocks inside the shard) and NaN rows")
  func longShard() throws {
    var rng = TestRandom(seed: 8)
    let rows = 2, cols = 140_000
    var x = (0..<(rows * cols)).map { _ in Float(rng.normal() * 2) }
    x[cols + 3] = .nan
    let labels: [Int64] = [139_999, 5]
    let r = try sharded(Float.self, x: x, rows: rows, cols: cols, labels: labels, cuts: [70_001],
                        options: .init(reduction: .none))
    #expect(abs(r.loss[0] - r.fusedLoss[0]) <= 2e-7 * max(1, abs(r.fusedLoss[0])))
    #expect(r.loss[1].isNaN && r.fusedLoss[1].isNaN)
  }

  @Test("Errors: incomplete merges, a label seen twice, shards outside the row, labels out of range")
  func errors() throws {
    let x: [Float] = [1, 2, 3, 4]
    let labels: [Int64] = [3]
    var s = [ShardStatistics](repeating: ShardStatistics(), count: 1)
    var loss: [Float] = [0]
    do {
      var ss = s.mutableSpan
      try partialStatistics(logits: x.span, layout: MatrixLayout(rows: 1, cols: 2), columnOffset: 2, totalColumns: 4,
                            labels: labels.span, into: &ss)
    }
    #expect(s[0].count == 2 && s[0].labelSeen == 1 && s[0].labelLogit == 2)
    // Only half the columns merged: refused, naming the row.
    #expect(throws: XentError.invalidShape("row 0: the statistics cover 2.0 columns, total_cols is 4")) {
      var l = loss.mutableSpan, e = MutableSpan<Float>()
      try crossEntropy(statistics: s.span, totalColumns: 4, labels: labels.span, loss: &l, logSumExp: &e)
    }
    // The same shard merged twice: the label is seen twice.
    let twice = [s[0].merged(with: s[0])]
    #expect(throws: XentError.self) {
      var l = loss.mutableSpan, e = MutableSpan<Float>()
      try crossEntropy(statistics: twice.span, totalColumns: 4, labels: labels.span, loss: &l, logSumExp: &e)
    }
    #expect(throws: XentError.self) {
      var ss = s.mutableSpan
      try partialStatistics(logits: x.span, layout: MatrixLayout(rows: 1, cols: 2), columnOffset: 3, totalColumns: 4,
                            labels: labels.span, into: &ss)
    }
    #expect(throws: XentError.labelOutOfRange(row: 0, label: 4, cols: 4)) {
      var ss = s.mutableSpan
      try partialStatistics(logits: x.span, layout: MatrixLayout(rows: 1, cols: 2), columnOffset: 0, totalColumns: 4,
                            labels: [Int64(4)].span, into: &ss)
    }
    #expect(loss == [0])
  }
}
