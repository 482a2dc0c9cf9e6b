// The linear cross-entropy over vocabulary shards: each shard's statistics, merged, and its gradients from
// the merged statistics must give the unsharded fused call's loss, lse and gradients (the shards' weight
// and bias gradients are its rows; the ∂l/∂H contributions sum to its ∂l/∂H), for uneven shards, labels
// in other shards, ignored rows, smoothing with the global class count and a soft cap; the same bits for
// any thread count; the z-loss's gradient from the merged lse; and refuse what the statistics cannot
// carry (class weights) or what is not merged.

import Testing
import Xent

@Suite("Linear cross-entropy over vocabulary shards")
struct LinearShardTests {
  typealias Problem = LinearCrossEntropyTests.Problem
  let linear = LinearCrossEntropyTests()

  struct Sharded<T: SoftmaxScalar> {
    var loss: [T], lse: [T], gradHidden: [T], gradWeight: [T], gradBias: [T]
    var statistics: [ShardStatistics]
  }

  /// Shards at `cuts` (class boundaries): partial statistics, a left-fold merge, the loss, then every
  /// shard's gradients (∂l/∂H contributions summed in shard order).
  func sharded<T: SoftmaxScalar>(
    _: T.Type, _ p: Problem, cuts: [Int], options: CrossEntropyOptions
  ) throws(XentError) -> Sharded<T> {
    let h = p.hidden.map { T($0) }, w = p.weight.map { T($0) }, b = p.bias.map { T($0) }
    let bounds = [0] + cuts + [p.classes]
    var merged = [ShardStatistics](repeating: ShardStatistics(), count: p.rows)
    for k in 0..<(bounds.count - 1) {
      let lo = bounds[k], n = bounds[k + 1] - lo
      var s = [ShardStatistics](repeating: ShardStatistics(), count: p.rows)
      do {
        var ss = s.mutableSpan
        try linearPartialStatistics(
          hidden: h.span, rows: p.rows, dim: p.dim, hiddenStride: p.hiddenStride,
          weight: w.span.extracting((lo * p.weightStride)...), columns: n, weightStride: p.weightStride,
          columnOffset: lo, totalColumns: p.classes, bias: b.span.extracting(lo..<(lo + n)), labels: p.labels.span,
          options: options, into: &ss)
      }
      for i in 0..<p.rows { merged[i] = k == 0 ? s[i] : merged[i].merged(with: s[i]) }
    }
    var loss = [T](repeating: 0, count: options.reduction == .none ? p.rows : 1)
    var lse = [T](repeating: 0, count: p.rows)
    do {
      var l = loss.mutableSpan, e = lse.mutableSpan
      try crossEntropy(statistics: merged.span, totalColumns: p.classes, labels: p.labels.span, options: options,
                       loss: &l, logSumExp: &e)
    }
    var gh = [T](repeating: 0, count: p.rows * p.dim), gw = [T](repeating: -7, count: p.classes * p.dim)
    var gb = [T](repeating: -7, count: p.classes), part = [T](repeating: -7, count: p.rows * p.dim)
    for k in 0..<(bounds.count - 1) {
      let lo = bounds[k], n = bounds[k + 1] - lo
      var ghs = part.mutableSpan
      try gw.withUnsafeMutableBufferPointer { (pw) throws(XentError) in
        try gb.withUnsafeMutableBufferPointer { (pb) throws(XentError) in
          var gws = MutableSpan(_unsafeElements: UnsafeMutableBufferPointer(rebasing: pw[(lo * p.dim)..<((lo + n) * p.dim)]))
          var gbs = MutableSpan(_unsafeElements: UnsafeMutableBufferPointer(rebasing: pb[lo..<(lo + n)]))
          try linearCrossEntropyGradients(
            hidden: h.span, rows: p.rows, dim: p.dim, hiddenStride: p.hiddenStride,
            weight: w.span.extracting((lo * p.weightStride)...), columns: n, weightStride: p.weightStride,
            columnOffset: lo, totalColumns: p.classes, bias: b.span.extracting(lo..<(lo + n)), labels: p.labels.span,
            statistics: merged.span, options: options, gradHidden: &ghs, gradWeight: &gws, gradBias: &gbs)
        }
      }
      _ = consume ghs
      for i in 0..<(p.rows * p.dim) { gh[i] += part[i] }
    }
    return Sharded(loss: loss, lse: lse, gradHidden: gh, gradWeight: gw, gradBias: gb, statistics: merged)
  }

  func wide<T: SoftmaxScalar>(_ a: [T]) -> [Wide] { a.map { Wide($0) } }

  static let optionSets: [CrossEntropyOptions] = [
    .init(),
    .init(reduction: .sum, gradScale: 0.5),
    .init(reduction: .none, labelSmoothing: 0.1),
    .init(labelSmoothing: 0.2, softCap: 5),
    .init(reduction: .sum, labelSmoothing: 0.3, gradScale: 2),
    .init(labelSmoothing: 0.1, zLoss: 1e-3),
    .init(reduction: .none, zLoss: 1e-4, softCap: 4),
  ]

  @Test("Shards merged give the unsharded call: every supported option, f64 and f32, uneven shards",
        arguments: [[1, 18], [12], [2100 - 37], [5, 6, 7]])
  func agreesWithUnsharded(cuts: [Int]) throws {
    for (n, o) in Self.optionSets.enumerated() {
      let classes = cuts.last! + 40
      let p = linear.problem(rows: 23, dim: 19, classes: classes, pad: n % 2, seed: UInt64(7 + n + classes))
      for bound64 in [true, false] {
        func check<T: SoftmaxScalar>(_: T.Type, _ bound: Double) throws {
          let s = try sharded(T.self, p, cuts: cuts, options: o)
          let f = try linear.fused(T.self, p, options: o)
          let what = "\(T.self) cuts \(cuts) \(o)"
          #expect(linear.error(s.loss, wide(f.loss)) <= bound, "loss \(what)")
          #expect(linear.error(s.lse, wide(f.lse)) <= bound, "lse \(what)")
          #expect(linear.error(s.gradHidden, wide(f.gradHidden)) <= bound, "gradHidden \(what)")
          #expect(linear.error(s.gradWeight, wide(f.gradWeight)) <= bound, "gradWeight \(what)")
          #expect(linear.error(s.gradBias, wide(f.gradBias)) <= bound, "gradBias \(what)")
        }
        if bound64 { try check(Double.self, 1e-13) } else { try check(Float.self, 4e-6) }
      }
    }
  }

  @Test("Every row ignored gives zero gradients, not NaN; rows == 0; a long shard (two tiles)")
  func edges() throws {
    var p = linear.problem(rows: 9, dim: 5, classes: 4200, seed: 3)
    p.labels = [Int64](repeating: -100, count: 9)
    let s = try sharded(Double.self, p, cuts: [2049], options: .init())
    #expect(s.loss == [0])
    #expect(s.gradHidden.allSatisfy { $0 == 0 } && s.gradWeight.allSatisfy { $0 == 0 } && s.gradBias.allSatisfy { $0 == 0 })
    let empty = linear.problem(rows: 0, dim: 5, classes: 30, seed: 4)
    let e = try sharded(Float.self, empty, cuts: [10], options: .init(reduction: .sum))
    #expect(e.loss == [0] && e.gradWeight.allSatisfy { $0 == 0 } && e.gradBias.allSatisfy { $0 == 0 })
    let long = linear.problem(rows: 5, dim: 7, classes: 4200, seed: 5)
    let l = try sharded(Double.self, long, cuts: [1, 4100], options: .init(labelSmoothing: 0.1))
    let f = try linear.fused(Double.self, long, options: .init(labelSmoothing: 0.1))
    #expect(linear.error(l.loss, wide(f.loss)) <= 1e-13 && linear.error(l.gradWeight, wide(f.gradWeight)) <= 1e-13)
  }

  @Test("The same bits for any thread count; several row blocks within the bound")
  func threadInvariance() throws {
    let p = linear.problem(rows: 70, dim: 33, classes: 3000, seed: 11)
    var o = CrossEntropyOptions(labelSmoothing: 0.05)
    o.threads = 1
    let one = try sharded(Float.self, p, cuts: [1000], options: o)
    for threads in [2, 3, 8] {
      o.threads = threads
      let s = try sharded(Float.self, p, cuts: [1000], options: o)
      #expect(s.statistics.map(bits) == one.statistics.map(bits), "statistics, \(threads) threads")
      #expect(s.loss == one.loss && s.gradHidden == one.gradHidden && s.gradWeight == one.gradWeight
              && s.gradBias == one.gradBias, "\(threads) threads")
    }
    o.workspaceBytes = 200_000  // 16-row blocks of 2000 classes
    let blocked = try sharded(Float.self, p, cuts: [1000], options: o)
    #expect(linear.error(blocked.loss, wide(one.loss)) <= 1e-6)
    #expect(linear.error(blocked.gradWeight, wide(one.gradWeight)) <= 1e-6)
    #expect(linear.error(blocked.gradHidden, wide(one.gradHidden)) <= 1e-6)
  }

  @Test("Refused before any write: class weights, unmerged statistics, no gradient, a shard past total_cols")
  func refusals() throws {
    let p = linear.problem(rows: 4, dim: 3, classes: 10, seed: 2)
    let h = p.hidden, w = p.weight, labels = p.labels
    func partial(_ o: CrossEntropyOptions, offset: Int = 0, into s: inout [ShardStatistics]) -> Int32 {
      var ss = s.mutableSpan
      do {
        try linearPartialStatistics(hidden: h.span, rows: 4, dim: 3, weight: w.span, columns: 5, columnOffset: offset,
                                    totalColumns: 10, labels: labels.span, options: o, into: &ss)
      } catch { return error.status }
      return 0
    }
    var s = [ShardStatistics](repeating: ShardStatistics(), count: 4)
    #expect(partial(.init(classWeights: [Double](repeating: 1, count: 10)), into: &s) == XentError.unsupported("").status)
    #expect(partial(.init(), offset: 6, into: &s) == XentError.invalidShape("").status)
    #expect(s.allSatisfy { $0.count == 0 }, "nothing written")
    #expect(partial(.init(), into: &s) == 0)
    // The statistics of one shard (5 of 10 classes): not merged.
    func gradients(weights: Bool) -> Int32 {
      var gw = [Double](repeating: 7, count: weights ? 15 : 0)
      var none1 = MutableSpan<Double>(), none2 = MutableSpan<Double>(), gws = gw.mutableSpan
      do {
        try linearCrossEntropyGradients(hidden: h.span, rows: 4, dim: 3, weight: w.span, columns: 5, columnOffset: 0,
                                        totalColumns: 10, labels: labels.span, statistics: s.span, gradHidden: &none1,
                                        gradWeight: &gws, gradBias: &none2)
      } catch {
        _ = consume gws
        #expect(gw.allSatisfy { $0 == 7 }, "nothing written")
        return error.status
      }
      return 0
    }
    #expect(gradients(weights: true) == XentError.invalidShape("").status)
    #expect(gradients(weights: false) == XentError.nullPointer(argument: "").status)
  }
}
