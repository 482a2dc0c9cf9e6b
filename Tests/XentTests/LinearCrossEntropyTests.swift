// The linear cross-entropy against the unfused pipeline written out: logits o = H·Wᵀ + b formed in
// Float80, rounded to the element type, `crossEntropy` (every option) for the loss, lse and G, then the
// gradients G·W, Gᵀ·H and Σ_rows G in Float80. The fused call must agree (f64: 1e-12 relative to the
// largest value; f32: 2e-5), give the same bits for any thread count and any number of row blocks'
// worth of threads, accumulate, mask classes with a −inf bias, keep a NaN row to itself, and refuse bad
// arguments before writing anything.

import Testing
import Xent

#if canImport(Glibc)
import Glibc
#endif

@Suite("Linear cross-entropy")
struct LinearCrossEntropyTests {
  struct Problem {
    var rows, dim, classes: Int
    var hiddenStride, weightStride: Int
    var hidden, weight, bias: [Double]
    var labels: [Int64]
  }

  struct Outputs<T: SoftmaxScalar> {
    var loss: [T], gradHidden: [T], gradWeight: [T], gradBias: [T], lse: [T]
  }

  func problem(rows: Int, dim: Int, classes: Int, pad: Int = 0, seed: UInt64, ignore: Bool = true) -> Problem {
    var rng = TestRandom(seed: seed)
    let hs = dim + pad, ws = dim + 2 * pad
    var h = [Double](repeating: .nan, count: max(0, rows * hs)), w = [Double](repeating: .nan, count: classes * ws)
    for i in 0..<rows { for k in 0..<dim { h[i * hs + k] = rng.normal() } }
    for c in 0..<classes { for k in 0..<dim { w[c * ws + k] = rng.normal() / Double(dim).squareRoot() * 3 } }
    let b = (0..<classes).map { _ in rng.normal() }
    var labels = (0..<rows).map { _ in Int64(rng.int(classes)) }
    if ignore && rows > 2 { labels[1] = -100 }
    return Problem(rows: rows, dim: dim, classes: classes, hiddenStride: hs, weightStride: ws, hidden: h, weight: w,
                   bias: b, labels: labels)
  }

  /// The fused call (every output requested unless `grads` is false).
  func fused<T: SoftmaxScalar>(
    _: T.Type, _ p: Problem, options: CrossEntropyOptions, bias: Bool = true, grads: Bool = true,
    start: Outputs<T>? = nil
  ) throws(XentError) -> Outputs<T> {
    let h = p.hidden.map { T($0) }, w = p.weight.map { T($0) }, b = bias ? p.bias.map { T($0) } : []
    let initial = start ?? Outputs<T>(
      loss: [T](repeating: -7, count: options.reduction == .none ? p.rows : 1),
      gradHidden: [T](repeating: -7, count: grads ? p.rows * p.dim : 0),
      gradWeight: [T](repeating: -7, count: grads ? p.classes * p.dim : 0),
      gradBias: [T](repeating: -7, count: grads && bias ? p.classes : 0), lse: [T](repeating: -7, count: p.rows))
    var loss = initial.loss, gradHidden = initial.gradHidden, gradWeight = initial.gradWeight
    var gradBias = initial.gradBias, lse = initial.lse
    do {
      var l = loss.mutableSpan, gh = gradHidden.mutableSpan, gw = gradWeight.mutableSpan
      var gb = gradBias.mutableSpan, e = lse.mutableSpan
      try linearCrossEntropy(
        hidden: h.span, rows: p.rows, dim: p.dim, hiddenStride: p.hiddenStride, weight: w.span, classes: p.classes,
        weightStride: p.weightStride, bias: b.span, labels: p.labels.span, options: options, loss: &l,
        gradHidden: &gh, gradWeight: &gw, gradBias: &gb, logSumExp: &e)
    }
    return Outputs(loss: loss, gradHidden: gradHidden, gradWeight: gradWeight, gradBias: gradBias, lse: lse)
  }

  /// The unfused pipeline, in Float80 but for the logits and G, which are the element type's.
  func unfused<T: SoftmaxScalar>(_: T.Type, _ p: Problem, options: CrossEntropyOptions, bias: Bool = true) throws
    -> (loss: [Wide], gradHidden: [Wide], gradWeight: [Wide], gradBias: [Wide], lse: [Wide])
  {
    let (n, d, c) = (p.rows, p.dim, p.classes)
    var logits = [T](repeating: 0, count: n * c)
    for i in 0..<n {
      for j in 0..<c {
        var o: Wide = bias ? Wide(T(p.bias[j])) : 0
        for k in 0..<d { o += Wide(T(p.hidden[i * p.hiddenStride + k])) * Wide(T(p.weight[j * p.weightStride + k])) }
        logits[i * c + j] = T(o)
      }
    }
    var loss = [T](repeating: 0, count: options.reduction == .none ? n : 1), g = [T](repeating: 0, count: n * c)
    var lse = [T](repeating: 0, count: n), none = MutableSpan<T>()
    do {
      var ls = loss.mutableSpan, gs = g.mutableSpan, es = lse.mutableSpan
      try crossEntropy(logits: logits.span, layout: MatrixLayout(rows: n, cols: c), labels: p.labels.span,
                       options: options, loss: &ls, gradient: &gs, logSumExp: &es, biasGradient: &none)
    }
    var gh = [Wide](repeating: 0, count: n * d), gw = [Wide](repeating: 0, count: c * d), gb = [Wide](repeating: 0, count: c)
    for i in 0..<n {
      for j in 0..<c {
        let gij = Wide(g[i * c + j])
        if gij == 0 { continue }
        gb[j] += gij
        for k in 0..<d {
          gh[i * d + k] += gij * Wide(T(p.weight[j * p.weightStride + k]))
          gw[j * d + k] += gij * Wide(T(p.hidden[i * p.hiddenStride + k]))
        }
      }
    }
    return (loss.map { Wide($0) }, gh, gw, gb, lse.map { Wide($0) })
  }

  /// max |a − b| / max(max |b|, tiny).
  func error<T: SoftmaxScalar>(_ a: [T], _ b: [Wide]) -> Double {
    var e = 0.0, m = 1e-300
    for (x, y) in zip(a, b) {
      if Wide(x).isNaN != y.isNaN { return .infinity }
      if y.isNaN { continue }
      e = max(e, Double(abs(Wide(x) - y)))
      m = max(m, Double(abs(y)))
    }
    return e / m
  }

  func agree<T: SoftmaxScalar>(_: T.Type, _ p: Problem, _ o: CrossEntropyOptions, bias: Bool = true, bound: Double)
    throws
  {
    let f = try fused(T.self, p, options: o, bias: bias)
    let r = try unfused(T.self, p, options: o, bias: bias)
    let what = "\(T.self) \(p.rows)×\(p.dim)×\(p.classes) \(o)"
    #expect(error(f.loss, r.loss) <= bound, "loss \(what)")
    #expect(error(f.lse, r.lse) <= bound, "lse \(what)")
    #expect(error(f.gradHidden, r.gradHidden) <= bound, "gradHidden \(what)")
    #expect(error(f.gradWeight, r.gradWeight) <= bound, "gradWeight \(what)")
    if bias { #expect(error(f.gradBias, r.gradBias) <= bound, "gradBias \(what)") }
  }

  static let optionSets: [CrossEntropyOptions] = [
    .init(),
    .init(reduction: .sum, gradScale: 0.5),
    .init(reduction: .none, labelSmoothing: 0.1),
    .init(labelSmoothing: 0.2, zLoss: 1e-3),
    .init(reduction: .sum, softCap: 5),
    .init(labelSmoothing: 0.1, softCap: 5, classWeights: (0..<37).map { 0.5 + Double($0 % 5) * 0.25 }),
    .init(reduction: .none, zLoss: 1e-4, classWeights: (0..<37).map { Double($0 % 3) }),
  ]

  @Test("Against the unfused pipeline: every option, f64 and f32, strides, one and many row blocks",
        arguments: 0..<7)
  func options(_ k: Int) throws {
    var o = Self.optionSets[k]
    let p = problem(rows: 23, dim: 13, classes: 37, pad: k % 2 * 3, seed: UInt64(k) + 1)
    try agree(Double.self, p, o, bound: 1e-12)
    try agree(Float.self, p, o, bound: 2e-5)
    // Several row blocks: a workspace of 5 rows of logits (and the bias sums).
    // (Each row: its logits and one tile's statistics, ≤ 64 bytes; the bias sums; 128 bytes of alignment.)
    o.workspaceBytes = 5 * (37 * 8 * 2 + 64) + 2 * 37 * 8 + 128
    try agree(Double.self, p, o, bound: 1e-12)
    try agree(Double.self, p, o, bias: false, bound: 1e-12)
  }

  @Test("Class-count tails, one class, long rows (column blocks in the kernel)", arguments: [1, 2, 7, 8, 9, 17, 33, 70001])
  func tails(_ classes: Int) throws {
    let p = problem(rows: classes > 1000 ? 3 : 9, dim: 5, classes: classes, seed: UInt64(classes))
    try agree(Double.self, p, .init(labelSmoothing: 0.1), bound: 1e-12)
  }

  @Test("The same bits for any thread count and any block count's threads")
  func threads() throws {
    let p = problem(rows: 70, dim: 33, classes: 3000, seed: 9)
    var o = CrossEntropyOptions(labelSmoothing: 0.1, threads: 1)
    o.workspaceBytes = 20 * (3000 * 4 + 2 * 64) + 3000 * 8 + 128
    let one = try fused(Float.self, p, options: o)
    for t in [2, 3, 5] {
      o.threads = t
      let other = try fused(Float.self, p, options: o)
      #expect(one.loss == other.loss && one.lse == other.lse && one.gradHidden == other.gradHidden
              && one.gradWeight == other.gradWeight && one.gradBias == other.gradBias, "threads \(t)")
    }
  }

  @Test("The loss alone: the loss with every gradient up to the BLAS's rounding, the same bits for any thread count")
  func lossAlone() throws {
    // Workspaces of 200 rows (one block), of 40 rows (spans of one block) and, at 20000 classes, of 32 rows
    // (spans of 4 blocks, tiles of 128 rows; 150 rows: a shorter last span): a call without gradients forms
    // taller tiles than the blocks.
    let weights = (0..<20000).map { Double($0 % 5) / 2 }
    for (classes, bounds) in [(4200, [0, 40 * 4200 * 4 + 300_000]), (20000, [32 * 20000 * 4 + 300_000])] {
      let p = problem(rows: classes < 10000 ? 200 : 150, dim: 16, classes: classes, seed: 12)
      for (k, base) in [
        CrossEntropyOptions(), CrossEntropyOptions(reduction: .sum, labelSmoothing: 0.1, zLoss: 0.01),
        CrossEntropyOptions(reduction: .none, softCap: 4),
        CrossEntropyOptions(labelSmoothing: 0.1, classWeights: Array(weights[..<classes])),
      ].enumerated() where classes < 10000 || k % 2 == 1 {
        for bytes in bounds {
          var o = base
          o.workspaceBytes = bytes
          let all = try fused(Float.self, p, options: o)
          o.threads = 1
          let alone = try fused(Float.self, p, options: o, grads: false)
          o.threads = 3
          let other = try fused(Float.self, p, options: o, grads: false)
          let what = "\(classes) classes, options \(k), bound \(bytes)"
          #expect(alone.loss == other.loss && alone.lse == other.lse, "threads: \(what)")
          for (a, b) in zip(alone.loss + alone.lse, all.loss + all.lse) {
            #expect(abs(a - b) <= 4 * Float.ulpOfOne * abs(b), "\(what): \(a) against \(b)")
          }
        }
      }
    }
  }

  @Test("A call that reuses the kept workspace, left full of another call's values, gives the bits of a fresh one")
  func keptWorkspace() throws {
    // Other tests run concurrently and take and give back blocks too: the bits must not depend on which block a
    // call gets, whatever it holds.
    let p = problem(rows: 37, dim: 12, classes: 2100, pad: 1, seed: 21)
    var other = problem(rows: 61, dim: 7, classes: 4200, seed: 22)
    other.hidden[5 * other.hiddenStride + 3] = .nan
    (other.bias[9], other.bias[10]) = (.infinity, -.infinity)
    let o = CrossEntropyOptions(reduction: .none, labelSmoothing: 0.1, softCap: 20)
    releaseLinearWorkspace()
    let fresh = try fused(Float.self, p, options: o)
    for grads in [true, false] {
      _ = try fused(Double.self, other, options: .init(labelSmoothing: 0.2), grads: grads)
      let kept = try fused(Float.self, p, options: o)
      #expect(kept.loss == fresh.loss && kept.lse == fresh.lse && kept.gradHidden == fresh.gradHidden)
      #expect(kept.gradWeight == fresh.gradWeight && kept.gradBias == fresh.gradBias)
    }
    #expect(releaseLinearWorkspace() >= 0)
  }

  @Test("accumulate adds the weight and bias gradients; rows == 0; every row ignored")
  func accumulateAndEdges() throws {
    let p = problem(rows: 12, dim: 6, classes: 11, seed: 4)
    let once = try fused(Double.self, p, options: .init(reduction: .sum))
    var o = CrossEntropyOptions(reduction: .sum)
    o.accumulate = true
    let twice = try fused(Double.self, p, options: o, start: once)
    for (a, b) in zip(twice.gradWeight, once.gradWeight) { #expect(a == 2 * b) }
    for (a, b) in zip(twice.gradBias, once.gradBias) { #expect(a == 2 * b) }
    // rows == 0: loss 0, gradients 0 (unchanged when accumulating).
    let empty = problem(rows: 0, dim: 6, classes: 11, seed: 5)
    let e = try fused(Double.self, empty, options: .init())
    #expect(e.loss == [0] && e.gradWeight.allSatisfy { $0 == 0 } && e.gradBias.allSatisfy { $0 == 0 })
    // Every row ignored, MEAN: 0, not NaN, and zero gradients.
    var ignored = p
    ignored.labels = ignored.labels.map { _ in -100 }
    let z = try fused(Double.self, ignored, options: .init())
    #expect(z.loss == [0] && z.gradHidden.allSatisfy { $0 == 0 } && z.gradWeight.allSatisfy { $0 == 0 })
  }

  @Test("A −inf bias masks its class; a NaN row stays in its row")
  func specialValues() throws {
    var p = problem(rows: 10, dim: 4, classes: 9, seed: 6)
    p.bias[3] = -.infinity
    p.labels = p.labels.map { $0 == 3 ? 4 : $0 }
    let f = try fused(Double.self, p, options: .init())
    #expect((0..<4).allSatisfy { f.gradWeight[3 * 4 + $0] == 0 } && f.gradBias[3] == 0)
    #expect(f.loss[0].isFinite)
    p.hidden[2 * p.hiddenStride + 1] = .nan
    let g = try fused(Double.self, p, options: .init(reduction: .none))
    #expect(g.loss[2].isNaN && g.lse[2].isNaN && (0..<4).allSatisfy { g.gradHidden[2 * 4 + $0].isNaN })
    #expect(g.loss.enumerated().allSatisfy { $0.offset == 2 || $0.element.isFinite })
    #expect((0..<4).allSatisfy { g.gradHidden[5 * 4 + $0].isFinite })
  }

  @Test("Refused before any write: shapes, labels, aliasing, workspace")
  func errors() throws {
    let p = problem(rows: 4, dim: 3, classes: 5, seed: 7)
    func refused(_ o: CrossEntropyOptions = .init(), _ q: Problem, _ status: Int32) {
      do {
        _ = try fused(Double.self, q, options: o)
        Issue.record("accepted: expected status \(status)")
      } catch { #expect(error.status == status, "\(error)") }
    }
    var bad = p
    bad.labels[2] = 5
    refused(.init(), bad, 3)
    var tooSmall = CrossEntropyOptions()
    tooSmall.workspaceBytes = 10
    refused(tooSmall, p, 4)
    bad = p
    bad.dim = 0
    refused(.init(), bad, 2)
    refused(.init(labelSmoothing: 2), p, 4)
  }
}
