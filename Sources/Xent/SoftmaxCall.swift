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
    (self.function, self.x, self.layout, self.out) = (function, x, layout, out)
    (self.outStride, self.threads, self.exponential) = (outStride ?? layout.cols, threads, exponential)
  }

  func validate() throws(XentError) {
    try Check.notNull(x, "x")
    try Check.notNull(out, "out")
    var aliasing = Aliasing()
    let input = aliasing.input(try MatrixOperand(x, layout, "x").range)
    let output: Int
    if function == .logSumExp {
      output = aliasing.output(try VectorOperand(out, count: layout.rows, "out").range)
    } else {
      output = aliasing.output(try MatrixOperand(out, like: layout, stride: outStride, "out").range)
      // softmax and log-softmax may run in place (out == x with the same stride).
      if outStride == layout.rowStride { aliasing.allowInPlace(output: output, input: input) }
    }
    try Check.threads(threads)
    try aliasing.check()
  }

  @_specialize(where T == Float)
  @_specialize(where T == Double)
  package func run() throws(XentError) {
    try validate()
    exponential.specialize(capped: false, Specialized(call: self))
  }

  private struct Specialized: ExponentialSpecialized {
    let call: RowFunctionCall
    func run<E: VectorExponential>(_: E.Type) { call.compute(E.self) }
  }

  private func compute<E: VectorExponential>(_: E.Type) {
    let stride = layout.rowStride, cols = layout.cols
    let x0 = x.address!.assumingMemoryBound(to: T.self)
    let o0 = UnsafeMutablePointer(mutating: out.address!.assumingMemoryBound(to: T.self))
    let function = function, outStride = outStride
    // Long rows: fixed column blocks on `columnThreads` workers, merged in order (`sumOverRows`).
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

    forEachRow(rows: layout.rows, cols: cols, requested: threads, T.self) { i, blocks, columnThreads in
      row(i, blocks: blocks, columnThreads: columnThreads)
    }
  }
}
