// Bad input gets a clear error and loses nothing: every refused call leaves every output untouched.

import Testing
import Xent

@Suite("Validation")
struct ValidationTests {
  /// Calls cross-entropy with the given arguments and returns the error, after checking that no
  /// output changed.
  func refused(
    layout: MatrixLayout, labels: [Int64], options: CrossEntropyOptions = .init(),
    logitsCount: Int? = nil, lossCount: Int = 1, gradientCount: Int = 0, gradientStride: Int? = nil,
    lseCount: Int = 4
  ) -> XentError? {
    let x = [Float](repeating: 0.25, count: logitsCount ?? max(0, layout.extent ?? 0))
    var loss = [Float](repeating: 42, count: lossCount), grad = [Float](repeating: 42, count: gradientCount)
    var lse = [Float](repeating: 42, count: lseCount), bias = [Float](repeating: 42, count: 4)
    var error: XentError? = nil
    do {
      var l = loss.mutableSpan, g = grad.mutableSpan, s = lse.mutableSpan, b = bias.mutableSpan
      try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: options, loss: &l,
                       gradient: &g, gradientStride: gradientStride, logSumExp: &s, biasGradient: &b)
    } catch let e {
      error = e
    }
    #expect(loss.allSatisfy { $0 == 42 } && grad.allSatisfy { $0 == 42 })
    #expect(lse.allSatisfy { $0 == 42 } && bias.allSatisfy { $0 == 42 })
    return error
  }

  @Test("Shapes: empty class dimension, negative rows, stride < cols, overflow, short buffers")
  func shapes() {
    #expect(refused(layout: MatrixLayout(rows: 2, cols: 0), labels: [0, 0])?.status == 2)
    #expect(refused(layout: MatrixLayout(rows: -1, cols: 4), labels: [])?.status == 2)
    #expect(refused(layout: MatrixLayout(rows: 2, cols: 4, rowStride: 3), labels: [0, 0], logitsCount: 8)?.status == 2)
    #expect(refused(layout: MatrixLayout(rows: Int.max / 2, cols: 4, rowStride: 4), labels: [0], logitsCount: 8)?.status == 2)
    #expect(refused(layout: MatrixLayout(rows: 2, cols: 4), labels: [0, 0], logitsCount: 7)?.status == 2)
    #expect(refused(layout: MatrixLayout(rows: 2, cols: 4), labels: [0])?.status == 2)
    #expect(refused(layout: MatrixLayout(rows: 2, cols: 4), labels: [0, 0], gradientCount: 7)?.status == 2)
    #expect(refused(layout: MatrixLayout(rows: 2, cols: 4), labels: [0, 0], gradientCount: 8, gradientStride: 3)?.status == 2)
    #expect(refused(layout: MatrixLayout(rows: 4, cols: 4), labels: [0, 0, 0, 0], options: .init(reduction: .none))?.status == 2)
  }

  @Test("Labels outside [0, cols) name the row", arguments: [Int64(4), -1, -101, .min, .max])
  func labels(_ bad: Int64) {
    let e = refused(layout: MatrixLayout(rows: 3, cols: 4), labels: [0, 3, bad])
    #expect(e == .labelOutOfRange(row: 2, label: bad, cols: 4))
    #expect(e?.description == "label \(bad) at row 2 is outside [0, 4)")
  }

  @Test("Among many rows (the branch-free check, then the search for the row), the first bad label is named")
  func labelsManyRows() {
    var labels = (0..<1000).map { Int64($0 % 4) }
    for i in stride(from: 5, to: 1000, by: 7) { labels[i] = -100 }  // ignored rows in between
    labels[777] = 4
    labels[901] = -1
    #expect(refused(layout: MatrixLayout(rows: 1000, cols: 4), labels: labels, lseCount: 1000)
            == .labelOutOfRange(row: 777, label: 4, cols: 4))
    // An ignore index inside [0, cols) is ignored; −100 is then an ordinary (bad) label.
    #expect(refused(layout: MatrixLayout(rows: 1000, cols: 4), labels: labels, options: .init(ignoreIndex: 3),
                    lseCount: 1000) == .labelOutOfRange(row: 5, label: -100, cols: 4))
  }

  @Test("Options out of range")
  func options() {
    let layout = MatrixLayout(rows: 1, cols: 4)
    for o in [CrossEntropyOptions(labelSmoothing: -0.1), .init(labelSmoothing: 1.5), .init(labelSmoothing: .nan),
              .init(gradScale: .infinity), .init(gradScale: .nan), .init(threads: -1)] {
      #expect(refused(layout: layout, labels: [0], options: o)?.status == 4)
    }
  }

  @Test("Overlapping outputs and inputs are refused; the documented in-place case is not")
  func aliasing() throws {
    var buffer = [Float](repeating: 0.5, count: 16)
    let layout = MatrixLayout(rows: 2, cols: 4)
    // The gradient shifted by one element over the logits: refused, nothing written.
    try buffer.withUnsafeMutableBufferPointer { p in
      let x = Span(_unsafeElements: UnsafeBufferPointer(rebasing: p[0..<8]))
      var g = MutableSpan(_unsafeElements: UnsafeMutableBufferPointer(rebasing: p[1..<9]))
      #expect(throws: XentError.aliasing("gradient overlaps logits")) {
        _ = try crossEntropy(logits: x, layout: layout, labels: [Int64(0), 1].span, gradient: &g)
      }
      // Loss inside the logits.
      var loss = MutableSpan(_unsafeElements: UnsafeMutableBufferPointer(rebasing: p[7..<8]))
      var none = MutableSpan<Float>(), n2 = MutableSpan<Float>(), n3 = MutableSpan<Float>()
      #expect(throws: XentError.self) {
        try crossEntropy(logits: x, layout: layout, labels: [Int64(0), 1].span, loss: &loss, gradient: &none,
                         logSumExp: &n2, biasGradient: &n3)
      }
    }
    #expect(buffer.allSatisfy { $0 == 0.5 })
    // In place is allowed and equals out of place.
    let x = [Float](repeating: 0.5, count: 8)
    var g = [Float](repeating: 0, count: 8)
    var gs = g.mutableSpan
    let l1 = try crossEntropy(logits: x.span, layout: layout, labels: [Int64(0), 1].span, gradient: &gs)
    _ = consume gs
    var y = x
    var ys = y.mutableSpan
    let l2 = try crossEntropyInPlace(logits: &ys, layout: layout, labels: [Int64(0), 1].span)
    _ = consume ys
    #expect(l1 == l2 && g == y)
  }

  @Test("rows == 0 is valid: sum and mean are 0, the bias gradient 0")
  func empty() throws {
    let x = [Float]()
    let layout = MatrixLayout(rows: 0, cols: 5)
    #expect(try crossEntropy(logits: x.span, layout: layout, labels: [Int64]().span) == 0)
    #expect(try crossEntropy(logits: x.span, layout: layout, labels: [Int64]().span, options: .init(reduction: .sum)) == 0)
    var loss = [Float](repeating: 9, count: 1), bias = [Float](repeating: 9, count: 5)
    do {
      var l = loss.mutableSpan, b = bias.mutableSpan, n = MutableSpan<Float>(), n2 = MutableSpan<Float>()
      try crossEntropy(logits: x.span, layout: layout, labels: [Int64]().span, loss: &l, gradient: &n,
                       logSumExp: &n2, biasGradient: &b)
    }
    #expect(loss == [0] && bias == [0, 0, 0, 0, 0])
  }
}
