// Special values: masked (−inf) vocabulary, all −inf rows, NaN and +inf isolation, huge logits,
// one class. Each test checks the exact documented value.

import Testing
import Xent
#if canImport(Glibc)
import Glibc
#endif

/// Per-row loss (.none), gradient (gradScale 1), lse of a small matrix given as rows.
func perRow<T: SoftmaxScalar>(_ m: [[T]], labels: [Int64], options: CrossEntropyOptions = .init(reduction: .none))
  throws -> (loss: [T], grad: [[T]], lse: [T])
{
  let cols = m[0].count
  let x = m.flatMap { $0 }
  let layout = MatrixLayout(rows: m.count, cols: cols)
  var loss = [T](repeating: -7, count: m.count), grad = [T](repeating: -7, count: x.count)
  var lse = [T](repeating: -7, count: m.count), none = [T]()
  do {
    var l = loss.mutableSpan, g = grad.mutableSpan, s = lse.mutableSpan, b = none.mutableSpan
    try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: options,
                     loss: &l, gradient: &g, logSumExp: &s, biasGradient: &b)
  }
  return (loss, (0..<m.count).map { Array(grad[($0 * cols)..<($0 * cols + cols)]) }, lse)
}

/// Loss and lse (loss only, `.none`) of one row: 300 masked logits, then 50 near −1000, label 349.
func maskedPrefixRun<T: SoftmaxScalar>(_: T.Type, smoothing: Double) throws -> (loss: T, lse: T) {
  var x = [T](repeating: -.infinity, count: 350)
  for j in 300..<350 { x[j] = T(-1000 + Double(j - 300) * 0.01) }
  var loss = [T](repeating: -7, count: 1), lse = [T](repeating: -7, count: 1), none = [T](), none2 = [T]()
  do {
    var l = loss.mutableSpan, s = lse.mutableSpan, g = none.mutableSpan, b = none2.mutableSpan
    try crossEntropy(logits: x.span, layout: MatrixLayout(rows: 1, cols: 350), labels: [Int64(349)].span,
                     options: CrossEntropyOptions(reduction: .none, labelSmoothing: smoothing),
                     loss: &l, gradient: &g, logSumExp: &s, biasGradient: &b)
  }
  return (loss[0], lse[0])
}


@Suite("Special values")
struct SpecialValuesTests {
  @Test("−inf logits are probability 0 (masked vocabulary)")
  func masked() throws {
    let inf = Float.infinity
    let (loss, grad, lse) = try perRow([[0, -inf, 0, -inf, 0, -inf, -inf, -inf, -inf, 0]], labels: [0])
    // Four equal live logits: lse = log 4, loss = log 4, ŷ = 1/4 on them, 0 on the masked ones.
    #expect(abs(lse[0] - Float(1.3862944)) <= 1.2e-7)
    #expect(abs(loss[0] - Float(1.3862944)) <= 1.2e-7)
    #expect(grad[0] == [-0.75, 0, 0.25, 0, 0.25, 0, 0, 0, 0, 0.25])
  }

  @Test("A masked prefix longer than a block, then logits far below 0, loss only (sums moved per block)")
  func maskedPrefixThenNegative() throws {
    // Blocks are 256 floats / 128 doubles: 300 masked logits, then 50 near −1000. The first block leaves
    // the sums at 0 relative to the reference 0; the next raises the maximum to ≈ −999.5, and moving
    // zero sums by e^(0 − max) = inf must not make them NaN (fuzz/regressions).
    var sum = 0.0
    for j in 0..<50 { sum += exp(Double(j - 49) * 0.01) }
    let lse = -1000 + 0.49 + log(sum)  // max + log Σ exp(x − max)
    let f = try maskedPrefixRun(Float.self, smoothing: 0)
    #expect(abs(Double(f.lse) - lse) <= 1000 * 1.2e-7 && abs(Double(f.loss) - (lse - (-1000 + 0.49))) <= 1e-4, "\(f)")
    let d = try maskedPrefixRun(Double.self, smoothing: 0)
    #expect(abs(d.lse - lse) <= 1000 * 4e-16 && abs(d.loss - (lse - (-1000 + 0.49))) <= 1e-12, "\(d)")
    // With smoothing every class has target mass, and the masked ones have log ŷ = −inf: loss +inf.
    #expect(try maskedPrefixRun(Float.self, smoothing: 0.1).loss == .infinity)
    #expect(try maskedPrefixRun(Double.self, smoothing: 0.1).loss == .infinity)
  }

  @Test("An all −inf row: lse −inf, loss +inf, gradient −t, softmax 0, log-softmax −inf")
  func allMinusInfinity() throws {
    for cols in [1, 7, 8, 9, 300] {
      let row = [Double](repeating: -.infinity, count: cols)
      let (loss, grad, lse) = try perRow([row, [Double](repeating: 0, count: cols)], labels: [Int64(cols - 1), 0])
      #expect(lse[0] == -.infinity && loss[0] == .infinity)
      var t = [Double](repeating: 0, count: cols); t[cols - 1] = -1
      #expect(grad[0] == t)
      #expect(abs(loss[1] - log(Double(cols))) <= 1e-15 * log(Double(cols)) + 1e-300)
      let sm = try softmax(row.span, layout: MatrixLayout(rows: 1, cols: cols))
      #expect(sm == [Double](repeating: 0, count: cols))
      let ls = try logSoftmax(row.span, layout: MatrixLayout(rows: 1, cols: cols))
      #expect(ls == row)
    }
  }

  @Test("A label whose logit is −inf: loss +inf, finite gradient")
  func labelMasked() throws {
    let (loss, grad, _) = try perRow([[Float(1), -.infinity, 1]], labels: [1])
    #expect(loss[0] == .infinity)
    #expect(grad[0] == [0.5, -1, 0.5])
  }

  @Test("NaN or +inf in one row: that row NaN, the others exact", arguments: [Float.nan, .infinity])
  func poison(_ bad: Float) throws {
    for cols in [3, 8, 13, 600] {
      var a = [Float](repeating: 0.5, count: cols); a[cols / 2] = bad
      var b = [Float](repeating: 0.5, count: cols); b[0] = 2
      let (loss, grad, lse) = try perRow([b, a, b], labels: [0, 0, 0])
      #expect(loss[1].isNaN && lse[1].isNaN && grad[1].allSatisfy { $0.isNaN })
      #expect(loss[0] == loss[2] && grad[0] == grad[2] && !loss[0].isNaN)
      let r = ReferenceRow(b)
      #expect(relativeError(loss[0], r.lse - Wide(b[0])) <= 1e-7)
    }
    // The reduced loss of a batch with a NaN row is NaN.
    let x: [Float] = [1, 2, bad, 0]
    let l = try crossEntropy(logits: x.span, layout: MatrixLayout(rows: 2, cols: 2), labels: [Int64(0), 1].span)
    #expect(l.isNaN)
  }

  @Test("Logits of magnitude 1e30 give the exact finite answer")
  func huge() throws {
    let (loss, grad, lse) = try perRow([[Float(1e30), -1e30, 0, 1e30]], labels: [0])
    #expect(lse[0] == 1e30 && abs(loss[0] - Float(0.6931472)) <= 1.2e-7)
    #expect(grad[0] == [-0.5, 0, 0, 0.5])
    let (l2, g2, _) = try perRow([[Double(-1e30), 1e30, 3]], labels: [0])
    #expect(l2[0] == 2e30 && g2[0] == [-1, 1, 0])
  }

  @Test("One class: loss 0, gradient 0")
  func oneClass() throws {
    let (loss, grad, lse) = try perRow([[Float(5)], [-3]], labels: [0, 0])
    #expect(loss == [0, 0] && grad == [[0], [0]] && lse == [5, -3])
  }

  @Test("Rows-in-lanes kernel (≤ 16 classes, 8 rows at once): every special value in one group")
  func smallClassGroup() throws {
    let inf = Float.infinity
    var m: [[Float]] = (0..<11).map { i in (0..<5).map { j in Float((i * 7 + j * 3) % 5) - 2 } }
    m[1] = [-inf, -inf, -inf, -inf, -inf]  // all −inf
    m[2] = [1, .nan, 0, 0, 0]             // NaN
    m[3] = [1, inf, 0, 0, 0]              // +inf
    m[4] = [1, -inf, 0, 2, 0]             // label logit −inf
    m[5] = [.nan, .nan, 1, 1, 1]          // ignored NaN row
    m[6] = [1e30, -1e30, 0, 1e30, 0]      // huge
    let labels: [Int64] = [0, 2, 0, 0, 1, -100, 0, 4, 3, 2, 1]
    let (loss, grad, lse) = try perRow(m, labels: labels)
    #expect(lse[1] == -inf && loss[1] == inf && grad[1] == [0, 0, -1, 0, 0])
    #expect(loss[2].isNaN && lse[2].isNaN && grad[2].allSatisfy { $0.isNaN })
    #expect(loss[3].isNaN && grad[3].allSatisfy { $0.isNaN })
    #expect(loss[4] == inf && grad[4][1] == -1 && grad[4].allSatisfy { $0.isFinite })
    #expect(loss[5] == 0 && grad[5] == [0, 0, 0, 0, 0] && lse[5].isNaN)
    #expect(lse[6] == 1e30 && abs(loss[6] - Float(0.6931472)) <= 1.2e-7 && grad[6] == [-0.5, 0, 0, 0.5, 0])
    // Finite rows agree with the row kernel's reference.
    for i in [0, 7, 8, 9, 10] {
      let r = ReferenceRow(m[i])
      #expect(relativeError(loss[i], r.lse - Wide(m[i][Int(labels[i])])) <= 2e-7)
      #expect(absoluteError(lse[i], r.lse) <= 2e-7)
    }
  }

  @Test("Rows-in-lanes groups in pairs (one log call for two groups): the same bits, NaNs included, as alone")
  func smallClassGroupPairs() throws {
    // The special rows of smallClassGroup as the first group alone (11 rows: one group and a row-kernel
    // tail), then as the second of a pair (8 finite rows before them), Float and Double.
    func check<T: SoftmaxScalar>(_: T.Type) throws {
      let inf = T.infinity
      var m: [[T]] = (0..<11).map { i in (0..<5).map { j in T((i * 7 + j * 3) % 5) - 2 } }
      m[1] = [-inf, -inf, -inf, -inf, -inf]
      m[2] = [1, .nan, 0, 0, 0]
      m[3] = [1, inf, 0, 0, 0]
      m[4] = [1, -inf, 0, 2, 0]
      m[5] = [.nan, .nan, 1, 1, 1]
      m[6] = [1e30, -1e30, 0, 1e30, 0]
      let labels: [Int64] = [0, 2, 0, 0, 1, -100, 0, 4, 3, 2, 1]
      let prefix: [[T]] = (0..<8).map { i in (0..<5).map { j in T(i - j) * 0.5 } }
      for smoothing in [0.0, 0.1] {
        let o = CrossEntropyOptions(reduction: .none, labelSmoothing: smoothing)
        let alone = try perRow(m, labels: labels, options: o)
        let paired = try perRow(prefix + m, labels: [Int64](repeating: 1, count: 8) + labels, options: o)
        func bits(_ v: [T]) -> [String] { v.map { "\($0.sign) \($0.exponentBitPattern) \($0.significandBitPattern)" } }
        for i in 0..<8 {  // the group itself (rows 8–10 go through the row kernel either way)
          #expect(bits([alone.loss[i], alone.lse[i]]) == bits([paired.loss[8 + i], paired.lse[8 + i]]),
                  "\(T.self) row \(i) ε \(smoothing)")
          #expect(bits(alone.grad[i]) == bits(paired.grad[8 + i]), "\(T.self) row \(i) ε \(smoothing)")
        }
        #expect(alone.loss[2].isNaN && alone.lse[3].isNaN && alone.loss[1] == inf)
      }
    }
    try check(Float.self)
    try check(Double.self)
  }

  @Test("Label smoothing on rows spanning nearly the type's range: Σ(x − max) must not overflow",
        arguments: [10, 1000, 70_001])
  func smoothingWideSpan(cols: Int) throws {
    // x_j = +a for j % 3 == 0, else −a (span 2a just below the type's maximum), label 0, ε = 0.1:
    // lse = a + log n₊, loss = (1 − ε)(lse − a) + ε(lse − mean x) = log n₊ + ε·a·2n₋/n (finite), although
    // Σ (x − max) = −2a·n₋ is far beyond the type's range (it overflowed before 1.1.0's scaled sums).
    // The class-weighted path sums w_j(x_j − x_label) term by term in Double: n·2^-53 relative at most.
    func check<T: SoftmaxScalar & BinaryFloatingPoint>(_ a: T, tolerance: Double) throws {
      let row = (0..<cols).map { $0 % 3 == 0 ? a : -a }
      let plus = (cols + 2) / 3, minus = cols - plus
      let eps = 0.1
      let expected = log(Double(plus)) + eps * Double(a) * (2 * Double(minus) / Double(cols))
      for weights in [nil, [Double](repeating: 1, count: cols)] {  // plain and class-weighted paths
        let o = CrossEntropyOptions(reduction: .none, labelSmoothing: eps, classWeights: weights)
        let (loss, grad, _) = try perRow([row, row], labels: [0, 0], options: o)
        for l in loss {
          let bound = weights == nil ? tolerance : Swift.max(tolerance, Double(cols) * 0x1p-53)
          #expect(l.isFinite && abs(Double(l) - expected) <= bound * expected,
                  "\(T.self) cols \(cols) weights \(weights != nil): loss \(l), expected \(expected)")
        }
        #expect(grad.allSatisfy { $0.allSatisfy(\.isFinite) })
      }
    }
    try check(Float(1.5e38), tolerance: 1e-6)
    try check(Double(8e307), tolerance: 1e-13)
  }
}
