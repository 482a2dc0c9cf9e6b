// bfloat16 logits: the results equal the float32 path's on the exactly widened logits (per row bit for
// bit), the bfloat16 gradient is the float32 gradient rounded to nearest-even, in place works, tiles
// (loss only / bfloat16 gradient) agree with the float32-gradient path, and errors write nothing.

import Testing
import Xent

/// Float → bfloat16 bits, nearest-even (the test's own, written plainly).
func bfloat16(_ f: Float) -> UInt16 {
  if f.isNaN { return 0x7FC0 }
  let u = f.bitPattern
  let lower = u & 0xFFFF, upper = u >> 16
  let roundUp = lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1)
  return UInt16(truncatingIfNeeded: upper + (roundUp ? 1 : 0))
}

/// Equal, or within one float rounding per tile of the reduced loss.
func close(_ a: Float, _ b: Float) -> Bool { a == b || abs(a - b) <= 4e-7 * abs(b) }

@Suite("bfloat16 logits")
struct BFloat16Tests {
  func run(_ h: [UInt16], layout: MatrixLayout, labels: [Int64], options: CrossEntropyOptions, gradient: Int)
    throws -> (loss: [Float], g32: [Float], g16: [UInt16], lse: [Float])
  {
    let n = options.reduction == .none ? layout.rows : 1
    var loss = [Float](repeating: 0, count: n), lse = [Float](repeating: 0, count: layout.rows)
    var g32 = [Float](repeating: 0, count: gradient == 1 ? layout.rows * layout.cols : 0)
    var g16 = [UInt16](repeating: 0, count: gradient == 2 ? layout.rows * layout.cols : 0)
    do {
      var l = loss.mutableSpan, a = g32.mutableSpan, b = g16.mutableSpan, e = lse.mutableSpan
      try crossEntropy(bfloat16Logits: h.span, layout: layout, labels: labels.span, options: options, loss: &l,
                       gradient: &a, bfloat16Gradient: &b, logSumExp: &e)
    }
    return (loss, g32, g16, lse)
  }

  @Test("Equal to the float32 path on the widened logits; tiles; every option", arguments: [10, 300, 70_001])
  func matchesFloat32(cols: Int) throws {
    var rng = TestRandom(seed: UInt64(cols))
    let rows = cols > 10_000 ? 70 : 37  // 70 × 70001 spans several tiles of ≤ 2^20 elements
    let layout = MatrixLayout(rows: rows, cols: cols, rowStride: cols + 3)
    var h = (0..<layout.extent!).map { _ in bfloat16(Float(rng.normal() * 4)) }
    h[5] = 0xFF80  // −inf
    let x = h.map { Float(bitPattern: UInt32($0) << 16) }
    let labels = (0..<rows).map { i in i % 9 == 4 ? Int64(-100) : Int64(rng.int(cols)) }
    for o in [CrossEntropyOptions(reduction: .none), .init(reduction: .mean, labelSmoothing: 0.1, zLoss: 1e-3),
              .init(reduction: .sum, softCap: 20, classWeights: (0..<cols).map { Double($0 % 3) + 0.5 })] {
      // The float32 reference: the fused kernel on the widened logits.
      let n = o.reduction == .none ? rows : 1
      var refLoss = [Float](repeating: 0, count: n), refGrad = [Float](repeating: 0, count: rows * cols)
      var refLse = [Float](repeating: 0, count: rows)
      do {
        var l = refLoss.mutableSpan, g = refGrad.mutableSpan, e = refLse.mutableSpan, b = MutableSpan<Float>()
        try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: o, loss: &l, gradient: &g,
                         logSumExp: &e, biasGradient: &b)
      }
      let viaF32 = try run(h, layout: layout, labels: labels, options: o, gradient: 1)
      #expect(viaF32.loss == refLoss && viaF32.g32 == refGrad && viaF32.lse == refLse, "float32 gradient path")
      let viaBF16 = try run(h, layout: layout, labels: labels, options: o, gradient: 2)
      #expect(viaBF16.g16 == refGrad.map(bfloat16), "bfloat16 gradient = rounded float32 gradient")
      #expect(viaBF16.lse == refLse)
      let lossOnly = try run(h, layout: layout, labels: labels, options: o, gradient: 0)
      for k in refLoss.indices {
        // Per row equal, and so is a reduced loss over one tile (≤ 2^20 elements: its sum comes back
        // unrounded); over several tiles the sums are added per tile: within one rounding per tile.
        let oneTile = rows * cols <= 1 << 20
        let ok = o.reduction == .none || oneTile
          ? viaBF16.loss[k] == refLoss[k] && lossOnly.loss[k] == refLoss[k]
          : close(viaBF16.loss[k], refLoss[k]) && close(lossOnly.loss[k], refLoss[k])
        #expect(ok, "\(o.reduction) loss \(k): \(viaBF16.loss[k]) \(lossOnly.loss[k]) vs \(refLoss[k])")
      }
    }
  }

  @Test("A reduced loss over one tile equals the float32 call bit for bit (200 small problems)")
  func reducedLossOneTile() throws {
    // Found by the fuzzer (fuzz/corpus/alias_overlap_0.bin): the tile's sum was rounded to float before
    // the division by the row count, a second rounding the float32 call does not make.
    var rng = TestRandom(seed: 7)
    for p in 0..<200 {
      let rows = 1 + rng.int(40), cols = 1 + rng.int(50)
      let layout = MatrixLayout(rows: rows, cols: cols)
      let h = (0..<rows * cols).map { _ in bfloat16(Float(rng.normal() * 3)) }
      let x = h.map { Float(bitPattern: UInt32($0) << 16) }
      let labels = (0..<rows).map { _ in Int64(rng.int(cols)) }
      let o = CrossEntropyOptions(reduction: p % 2 == 0 ? .mean : .sum)
      let ref: Float = try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: o)
      let lossOnly = try run(h, layout: layout, labels: labels, options: o, gradient: 0)
      let viaBF16 = try run(h, layout: layout, labels: labels, options: o, gradient: 2)
      #expect(lossOnly.loss[0] == ref && viaBF16.loss[0] == ref, "\(rows)x\(cols) \(o.reduction): \(lossOnly.loss[0]) vs \(ref)")
    }
  }

  @Test("In place over the bfloat16 logits; errors write nothing")
  func inPlaceAndErrors() throws {
    var rng = TestRandom(seed: 1)
    let layout = MatrixLayout(rows: 4, cols: 33)
    let h = (0..<132).map { _ in bfloat16(Float(rng.normal())) }
    let labels: [Int64] = [0, 5, 32, 7]
    let out = try run(h, layout: layout, labels: labels, options: .init(), gradient: 2)
    var inPlace = h
    var loss: [Float] = [0]
    do {
      var l = loss.mutableSpan, none = MutableSpan<Float>(), e = MutableSpan<Float>()
      var g = inPlace.mutableSpan
      try g.withUnsafeMutableBufferPointer { p in
        let x = Span(_unsafeElements: UnsafeBufferPointer(p))
        var same = MutableSpan(_unsafeElements: p)
        try crossEntropy(bfloat16Logits: x, layout: layout, labels: labels.span, loss: &l, gradient: &none,
                         bfloat16Gradient: &same, gradientStride: 33, logSumExp: &e)
      }
    }
    #expect(inPlace == out.g16 && loss == out.loss)
    // Both gradients at once, a bad label: refused, nothing written.
    var g32 = [Float](repeating: 7, count: 132), g16 = [UInt16](repeating: 7, count: 132)
    loss = [7]
    #expect(throws: XentError.self) {
      var l = loss.mutableSpan, a = g32.mutableSpan, b = g16.mutableSpan, e = MutableSpan<Float>()
      try crossEntropy(bfloat16Logits: h.span, layout: layout, labels: labels.span, loss: &l, gradient: &a,
                       bfloat16Gradient: &b, logSumExp: &e)
    }
    #expect(throws: XentError.labelOutOfRange(row: 1, label: 40, cols: 33)) {
      var l = loss.mutableSpan, a = MutableSpan<Float>(), b = g16.mutableSpan, e = MutableSpan<Float>()
      try crossEntropy(bfloat16Logits: h.span, layout: layout, labels: [Int64(0), 40, 1, 2].span, loss: &l,
                       gradient: &a, bfloat16Gradient: &b, logSumExp: &e)
    }
    #expect(loss == [7] && g32.allSatisfy { $0 == 7 } && g16.allSatisfy { $0 == 7 })
  }
}
