// logSumExp, softmax and logSoftmax against the Float80 reference, every tail length, strided
// input and output, unaligned, in place.

import Testing
import Xent
#if canImport(Glibc)
import Glibc
#endif

@Suite("Softmax, log-softmax, log-sum-exp")
struct SoftmaxTests {
  /// Max errors: lse |err|/max(1,|lse|), softmax |err| / ((1 + |log p|)·p·ulp + leastNormal),
  /// log-softmax |err|/(1 + |value|).
  func errors<T: SoftmaxScalar>(_: T.Type, rows: Int, cols: Int, pad: Int, offset: Int, sigma: Double)
    throws -> (lse: Double, softmax: Double, logSoftmax: Double)
  {
    var rng = TestRandom(seed: UInt64(cols * 31 + pad))
    let layout = MatrixLayout(rows: rows, cols: cols, rowStride: cols + pad)
    var storage = [T](repeating: .nan, count: offset + layout.extent!)
    for i in 0..<rows { for j in 0..<cols { storage[offset + i * layout.rowStride + j] = T(rng.normal() * sigma) } }
    let x = storage.span.extracting(offset...)
    let lse = try logSumExp(x, layout: layout)
    // Strided output with NaN padding that must stay untouched.
    let outLayout = MatrixLayout(rows: rows, cols: cols, rowStride: cols + 2)
    var sm = [T](repeating: .nan, count: outLayout.extent!), ls = sm
    do {
      var s = sm.mutableSpan, l = ls.mutableSpan
      try softmax(x, layout: layout, into: &s, outputStride: cols + 2)
      try logSoftmax(x, layout: layout, into: &l, outputStride: cols + 2)
    }
    let ulp = Double(T.ulpOfOne)
    var e = (lse: 0.0, softmax: 0.0, logSoftmax: 0.0)
    for (i, row) in XentTests.rows(storage, layout, offset: offset).enumerated() {
      let r = ReferenceRow(row)
      e.lse = max(e.lse, absoluteError(lse[i], r.lse) / Double(max(1, abs(r.lse))))
      for j in 0..<cols {
        // exp(x − max) has condition number |x − max| ≈ |log p|: the rounding of x − max alone costs
        // |log p|/2 ulp. Error in ulps of p, allowing for that, with an absolute floor at the
        // smallest normal (subnormal results have fewer bits).
        let p = r.p[j]
        let allowance = Double(p) * ulp * Double(1 + abs(log(Double(p) > 0 ? Double(p) : 1))) + Double(T.leastNormalMagnitude)
        e.softmax = max(e.softmax, absoluteError(sm[i * outLayout.rowStride + j], p) / allowance)
        let lr = Wide(row[j]) - r.lse
        e.logSoftmax = max(e.logSoftmax, absoluteError(ls[i * outLayout.rowStride + j], lr) / Double(1 + abs(lr)))
      }
      for j in cols..<(cols + 2) where i < rows - 1 {
        #expect(sm[i * outLayout.rowStride + j].isNaN && ls[i * outLayout.rowStride + j].isNaN)
      }
    }
    return e
  }

  @Test("Float, every tail length and large rows", arguments: Array(1...25) + [1000, 32000, 262_144])
  func float(cols: Int) throws {
    let rows = cols > 100_000 ? 2 : 5
    for (pad, offset, sigma) in [(0, 0, 3.0), (5, 1, 30.0)] {
      let e = try errors(Float.self, rows: rows, cols: cols, pad: pad, offset: offset, sigma: sigma)
      #expect(e.lse <= 2e-7 && e.softmax <= 4 && e.logSoftmax <= 2e-7, "\(e)")
    }
  }

  @Test("Double, every tail length and large rows", arguments: Array(1...13) + [1000, 262_144])
  func double(cols: Int) throws {
    let rows = cols > 100_000 ? 2 : 5
    for (pad, offset, sigma) in [(0, 0, 3.0), (3, 1, 30.0)] {
      let e = try errors(Double.self, rows: rows, cols: cols, pad: pad, offset: offset, sigma: sigma)
      #expect(e.lse <= 1e-15 && e.softmax <= 4 && e.logSoftmax <= 1e-15, "\(e)")
    }
  }

  @Test("In place equals out of place")
  func inPlace() throws {
    var rng = TestRandom(seed: 5)
    let layout = MatrixLayout(rows: 3, cols: 19, rowStride: 21)
    let x = (0..<layout.extent!).map { _ in Float(rng.normal()) }
    let dense = try softmax(x.span, layout: layout)
    let denseLog = try logSoftmax(x.span, layout: layout)
    var a = x, b = x
    do {
      var s = a.mutableSpan, l = b.mutableSpan
      try softmaxInPlace(&s, layout: layout)
      try logSoftmaxInPlace(&l, layout: layout)
    }
    for i in 0..<3 {
      #expect(Array(a[(i * 21)..<(i * 21 + 19)]) == Array(dense[(i * 19)..<(i * 19 + 19)]))
      #expect(Array(b[(i * 21)..<(i * 21 + 19)]) == Array(denseLog[(i * 19)..<(i * 19 + 19)]))
      if i < 2 {  // the gap between rows is untouched
        let gap = i * 21 + 19
        #expect(a[gap] == x[gap] && a[gap + 1] == x[gap + 1] && b[gap] == x[gap])
      }
    }
  }

  @Test("Errors: softmax output overlapping its input with another stride")
  func aliasing() throws {
    var buffer = [Float](repeating: 1, count: 12)
    try buffer.withUnsafeMutableBufferPointer { p in
      let x = Span(_unsafeElements: UnsafeBufferPointer(rebasing: p[0..<8]))
      var out = MutableSpan(_unsafeElements: UnsafeMutableBufferPointer(rebasing: p[2..<12]))
      #expect(throws: XentError.aliasing("out overlaps x")) {
        try softmax(x, layout: MatrixLayout(rows: 2, cols: 4), into: &out)
      }
    }
    #expect(buffer.allSatisfy { $0 == 1 })
  }
}
