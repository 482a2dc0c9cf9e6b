// The driver of the per-row functions: log-sum-exp, softmax, log-softmax.

package enum RowFunction: Sendable {
  /// `out[i] = log Σ_j exp(x_ij)`; `out` has `rows` values.
  case logSumExp
  /// `out_ij = exp(x_ij − lse_i)`; `out` is `rows × outStride`.
  case softmax
  /// `out_ij = x_ij − lse_i`; `out` is `rows × outStride`.
  case logSoftmax
}

/// Every argument of one per-row call.
package struct RowFunctionCall<T: SoftmaxScalar> {
  package var function: RowFunction
  package var x: Buffer<T>
  package var layout: MatrixLayout
  package var out: Buffer<T>
  package var outStride: Int
  package var threads: Int
  package var exponential: Exponential

  package init(
    _ function: RowFunction, x: Buffer<T>, layout: MatrixLayout, out: Buffer<T>, outStride: Int? = nil,
    threads: Int = 0, exponential: Exponential = .environmentDefault
  ) {
    self.exponential = exponential
    self.function = function
    self.x = x
    self.layout = layout
    self.out = out
    self.outStride = outStride ?? layout.cols
    self.threads = threads
  }

  func validate() throws(XentError) {
    try Check.notNull(x, "x")
    try Check.notNull(out, "out")
    let extent = try Check.layout(layout, "x", T.self)
    try Check.length(x, extent, "x")
    let outExtent: Int
    if function == .logSumExp {
      outExtent = layout.rows
    } else {
      outExtent = try Check.layout(
        MatrixLayout(rows: layout.rows, cols: layout.cols, rowStride: outStride), "out", T.self)
    }
    try Check.length(out, outExtent, "out")
    if threads < 0 { throw .invalidOption("thread count \(threads) is negative") }
    // softmax and log-softmax may run in place (out == x with the same stride).
    let inPlace = function != .logSumExp && outStride == layout.rowStride ? (output: 0, input: 0) : nil
    try Check.noOverlap(
      inputs: ByteRanges(try Check.range(x, elements: extent, "x")),
      outputs: ByteRanges(try Check.range(out, elements: outExtent, "out")), inPlace: inPlace)
  }

  @_specialize(where T == Float)
  @_specialize(where T == Double)
  package func run() throws(XentError) {
    try validate()
    if exponential == .fast { compute(FastExponential.self) } else { compute(SleefExponential.self) }
  }

  private func compute<E: VectorExponential>(_: E.Type) {
    let stride = layout.rowStride, cols = layout.cols
    let x0 = x.address!.assumingMemoryBound(to: T.self)
    let o0 = UnsafeMutablePointer(mutating: out.address!.assumingMemoryBound(to: T.self))
    let function = function, outStride = outStride
    // Long rows: fixed column blocks on `columnThreads` workers, merged in order (Parallel.swift).
    let split = cols >= columnSplitThreshold
    let blockLength = split ? columnBlockLength(cols) : cols
    let blockCount = (cols + blockLength - 1) / blockLength

    @inline(__always) func row(_ i: Int, blocks: UnsafeMutablePointer<RowStatistics<T>>?, columnThreads: Int) {
      let x = x0 + i * stride
      let o = o0 + i * outStride
      // Softmax stores exp(x − max) in the statistics pass, then scales it by 1/Σexp (formed in
      // Double, rounded once); an all −inf row (Σexp = 0) gives zeros.
      let store = function == .softmax ? o : nil
      let st: RowStatistics<T>
      if let blocks {
        st = T.blockedRowStatistics(x, nil, count: cols, PlainStatistics<E>.self, store: store,
                                    blockLength: blockLength, blocks: blocks, threads: columnThreads)
      } else {
        st = T.rowStatistics(x, nil, count: cols, PlainStatistics<E>.self, store: store)
      }
      switch function {
      case .logSumExp:
        o0[i] = T(st.logSumExp)
      case .softmax:
        let f = st.sumExp == 0 ? 0 : 1 / st.sumExp
        forEachBlock(count: blockCount, threads: columnThreads) { k in
          let lo = k * blockLength
          // Each block's exps are relative to its own reference.
          let fk = blocks.map { f * $0[k].rescale(to: st) } ?? f
          T.scaleRow(o + lo, count: min(blockLength, cols - lo), by: T(fk))
        }
      case .logSoftmax:
        // An all −inf row gives −inf: (−inf − 0) − 0.
        let l = st.sumExp == 0 ? 0 : scalarLog(st.sumExp)
        forEachBlock(count: blockCount, threads: columnThreads) { k in
          let lo = k * blockLength
          T.logSoftmaxRow(x + lo, count: min(blockLength, cols - lo), ref: st.ref, logSum: T(l), out: o + lo)
        }
      }
    }

    if split {
      // Many rows: rows to the workers, each row's blocks on its worker; few rows: each row's blocks
      // spread over the workers. The same blocks merged in the same order either way (same bits).
      let rowThreads = workerCount(requested: threads, rows: layout.rows, cols: cols)
      let byRows = rowThreads > 1 && layout.rows >= 4 * rowThreads
      let columnThreads = byRows ? 1 : workerCount(requested: threads, rows: layout.rows, cols: cols, limit: blockCount)
      _ = sumOverRowChunks(rows: layout.rows, threads: byRows ? rowThreads : 1) { range in
        withBlockStatistics(T.self) { blocks in
          for i in range { row(i, blocks: blocks, columnThreads: columnThreads) }
        }
        return 0
      }
    } else {
      let threads = workerCount(requested: threads, rows: layout.rows, cols: cols)
      _ = sumOverRowChunks(rows: layout.rows, threads: threads) { range in
        for i in range { row(i, blocks: nil, columnThreads: 1) }
        return 0
      }
    }
  }
}
