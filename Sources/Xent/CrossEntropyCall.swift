// The cross-entropy driver below both public APIs (Swift and C): validation of everything, then the
// fused kernel over fixed row chunks.

/// The targets of a cross-entropy call.
package enum Targets<T> {
  /// One class index per row (`rows` values).
  case labels(Buffer<Int64>)
  /// A `rows × cols` matrix of target weights with its own row stride.
  case soft(Buffer<T>, stride: Int)
}

/// Every argument of one cross-entropy call.
package struct CrossEntropyCall<T: SoftmaxScalar> {
  package var logits: Buffer<T>
  package var layout: MatrixLayout
  package var targets: Targets<T>
  package var options: CrossEntropyOptions
  /// `rows` values for `.none`, one value otherwise. Required.
  package var loss: Buffer<T>
  /// `rows × gradStride`, or nil address. May be `logits` exactly when `gradStride == rowStride`.
  package var grad: Buffer<T>
  package var gradStride: Int
  /// `rows` values, or nil address.
  package var lse: Buffer<T>
  /// `cols` values, or nil address: Σ over rows of the gradient rows (eq. 8).
  package var bias: Buffer<T>
  /// `cols` class weights (`options.classWeights` from Swift), or nil address.
  package var classWeights: Buffer<Double>
  /// The z-loss output (`rows` values for `.none`, one otherwise), or nil address.
  package var zLoss: Buffer<Double>
  /// False only for a stand-in `logits` address (the bfloat16 entry checks its real logits itself).
  var checksLogits = true
  /// When set (SUM and MEAN), also receives the unrounded Double sum of the row losses, so that a caller
  /// adding several calls' sums (the bfloat16 tiles) rounds once, as a single call does.
  var lossTotal: UnsafeMutablePointer<Double>? = nil

  package init(
    logits: Buffer<T>, layout: MatrixLayout, targets: Targets<T>, options: CrossEntropyOptions,
    loss: Buffer<T>, grad: Buffer<T> = .init(nil as UnsafePointer<T>?), gradStride: Int? = nil,
    lse: Buffer<T> = .init(nil as UnsafePointer<T>?), bias: Buffer<T> = .init(nil as UnsafePointer<T>?),
    classWeights: Buffer<Double> = .init(nil as UnsafePointer<Double>?),
    zLoss: Buffer<Double> = .init(nil as UnsafePointer<Double>?)
  ) {
    self.classWeights = classWeights
    self.zLoss = zLoss
    self.logits = logits
    self.layout = layout
    self.targets = targets
    self.options = options
    self.loss = loss
    self.grad = grad
    self.gradStride = gradStride ?? layout.rowStride
    self.lse = lse
    self.bias = bias
  }

  /// What validation learns about the rows: how many count, and the Σ of their class weights.
  struct Counts {
    var rows = 0
    var weight = 0.0
  }

  /// Checks every argument; returns the rows that count (not ignored) and their weight.
  func validate() throws(XentError) -> Counts {
    let rows = layout.rows, cols = layout.cols
    try Check.notNull(logits, "logits")
    switch targets {
    case .labels(let b): try Check.notNull(b, "labels")
    case .soft(let b, _): try Check.notNull(b, "targets")
    }
    try Check.notNull(loss, "loss")

    let extent = try Check.layout(layout, "logits", T.self)
    try Check.length(logits, extent, "logits")
    var inputs = ByteRanges(try Check.range(logits, elements: checksLogits ? extent : 0, "logits"))
    switch targets {
    case .labels(let b):
      try Check.length(b, rows, "labels")
      inputs.append(try Check.range(b, elements: rows, "labels"))
    case .soft(let b, let stride):
      let e = try Check.layout(MatrixLayout(rows: rows, cols: cols, rowStride: stride), "targets", T.self)
      try Check.length(b, e, "targets")
      inputs.append(try Check.range(b, elements: e, "targets"))
    }
    let lossCount = options.reduction == .none ? rows : 1
    try Check.length(loss, lossCount, "loss")
    var outputs = ByteRanges(try Check.range(loss, elements: lossCount, "loss"))
    var gradientIndex = -1
    if grad.address != nil {
      let e = try Check.layout(MatrixLayout(rows: rows, cols: cols, rowStride: gradStride), "gradient", T.self)
      try Check.length(grad, e, "gradient")
      gradientIndex = outputs.count
      outputs.append(try Check.range(grad, elements: e, "gradient"))
    }
    if lse.address != nil {
      try Check.length(lse, rows, "lse")
      outputs.append(try Check.range(lse, elements: rows, "lse"))
    }
    if bias.address != nil {
      try Check.length(bias, cols, "bias gradient")
      outputs.append(try Check.range(bias, elements: cols, "bias gradient"))
    }
    if zLoss.address != nil {
      try Check.length(zLoss, lossCount, "z-loss")
      outputs.append(try Check.range(zLoss, elements: lossCount, "z-loss"))
    }
    try Check.options(options)
    if classWeights.address != nil {
      if case .soft = targets { throw .unsupported("class weights apply to integer labels, not to soft targets") }
      if options.softCap != 0 && options.labelSmoothing > 0 && grad.address != nil && grad.address == logits.address {
        throw .unsupported("a soft cap with class weights and label smoothing cannot write the gradient in place")
      }
      try Check.length(classWeights, cols, "class weights")
      inputs.append(try Check.range(classWeights, elements: cols, "class weights"))
      let w = classWeights.address!.assumingMemoryBound(to: Double.self)
      for j in 0..<cols where !(w[j] >= 0 && w[j].isFinite) {
        throw .invalidOption("class weight \(w[j]) of class \(j) is not finite and >= 0")
      }
    }
    // In place: the gradient may be the logits exactly, with the same row stride.
    let inPlace = gradStride == layout.rowStride ? (output: gradientIndex, input: 0) : nil
    try Check.noOverlap(inputs: inputs, outputs: outputs, inPlace: inPlace)

    guard case .labels(let b) = targets else { return Counts(rows: rows, weight: Double(rows)) }
    let labels = b.address!.assumingMemoryBound(to: Int64.self)
    let weights = classWeights.address?.assumingMemoryBound(to: Double.self)
    // Rows are counted as an integer (a Double sum of ones was a 4-cycle dependency per row, 5% of a
    // 65536×10 call); only class weights need the Double sum. Double(n) is the same value, exactly.
    let ignore = options.ignoreIndex, limit = Int64(cols)
    var counts = Counts()
    var weight = 0.0
    if weights == nil {
      // Branch-free (the compiler vectorizes it): count the rows that are not ignored and note whether
      // any of them is out of range; the loop below, which names the first bad row, runs only then.
      var live = 0, bad = 0
      for i in 0..<rows {
        let label = labels[i]
        let counted = label != ignore ? 1 : 0
        live &+= counted
        bad |= counted & (UInt64(bitPattern: label) >= UInt64(limit) ? 1 : 0)
      }
      if bad == 0 { return Counts(rows: live, weight: Double(live)) }
    }
    for i in 0..<rows {
      let label = labels[i]
      if label == ignore { continue }
      if label < 0 || label >= limit { throw .labelOutOfRange(row: i, label: label, cols: cols) }
      counts.rows += 1
      if let weights { weight += weights[Int(label)] }
    }
    counts.weight = weights == nil ? Double(counts.rows) : weight
    return counts
  }

  /// Validates, then computes. On error nothing has been written.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  package func run() throws(XentError) {
    // Class weights given through the Swift options' array: bind them to the call, then run it.
    if classWeights.address == nil, let w = options.classWeights {
      try w.withUnsafeBufferPointer { (p) throws(XentError) in
        var call = self
        call.classWeights = Buffer(required: p)
        try call.run()
      }
      return
    }
    let counted = try validate()
    try withBiasSum { biasSum in compute(counted: counted, biasSum: biasSum) }
  }

  private func compute(counted: Counts, biasSum: BiasSum?) {
    let soft: Bool
    if case .soft = targets { soft = true } else { soft = false }
    // Concrete types in every branch, so each kernel is specialized (never an existential call).
    switch (options.exponential, options.softCap != 0) {
    case (.sleef, false): dispatch(counted: counted, biasSum: biasSum, soft: soft, SleefExponential.self)
    case (.fast, false): dispatch(counted: counted, biasSum: biasSum, soft: soft, FastExponential.self)
    case (.sleef, true): dispatch(counted: counted, biasSum: biasSum, soft: soft, CappedExponential<SleefExponential>.self)
    case (.fast, true): dispatch(counted: counted, biasSum: biasSum, soft: soft, CappedExponential<FastExponential>.self)
    }
  }

  private func dispatch<E: VectorExponential>(
    counted: Counts, biasSum: BiasSum?, soft: Bool, _: E.Type
  ) {
    switch (soft, options.labelSmoothing > 0) {
    case (false, false): compute(counted: counted, biasSum: biasSum, PlainStatistics<E>.self)
    case (false, true): compute(counted: counted, biasSum: biasSum, SmoothedStatistics<E>.self)
    case (true, false): compute(counted: counted, biasSum: biasSum, SoftStatistics<E>.self)
    case (true, true): compute(counted: counted, biasSum: biasSum, SoftSmoothedStatistics<E>.self)
    }
  }

  /// The kernel proper: no checks, no allocation.
  private func compute<M: StatisticsMode>(counted: Counts, biasSum biasOut: BiasSum?, _: M.Type) {
    let rows = layout.rows, cols = layout.cols, stride = layout.rowStride
    let x0 = logits.address!.assumingMemoryBound(to: T.self)
    let lossOut = UnsafeMutablePointer(mutating: loss.address!.assumingMemoryBound(to: T.self))
    let gradOut = grad.address.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: T.self)) }
    let lseOut = lse.address.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: T.self)) }
    // Constants, not vars: a var captured by the nested functions below would be boxed on the heap.
    let labels: UnsafePointer<Int64>?, y0: UnsafePointer<T>?, yStride: Int
    switch targets {
    case .labels(let b): (labels, y0, yStride) = (b.address!.assumingMemoryBound(to: Int64.self), nil, 0)
    case .soft(let b, let s): (labels, y0, yStride) = (nil, b.address!.assumingMemoryBound(to: T.self), s)
    }
    let reduction = options.reduction
    let eps = options.labelSmoothing
    let ignore = options.ignoreIndex
    let wantsGradient = gradOut != nil || biasOut != nil
    let weights = classWeights.address?.assumingMemoryBound(to: Double.self)
    let zOut = zLoss.address.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Double.self)) }
    let lambda = options.zLoss

    // s = gradScale / denominator; the target is t = (1 − ε)·y + ε/cols (y one-hot or soft). With
    // class weights (PyTorch): row i's target is (1 − ε)·w_label·onehot + ε·w/cols and `.mean`
    // divides by Σ w_label over the counted rows.
    let denominator = reduction == .mean ? (weights != nil ? counted.weight : Double(counted.rows)) : 1
    let scale = denominator == 0 ? 0 : options.gradScale / denominator
    let a = scale * (1 - eps)                  // coefficient of y in s·t
    let c = weights != nil ? 0 : scale * eps / Double(cols)  // uniform part of s·t (weighted: per class, below)
    let weightSum: Double = {
      guard let weights else { return Double(cols) }
      var total = 0.0
      for j in 0..<cols { total += weights[j] }
      return total
    }()
    // The z-loss λ·lse² is reduced like the loss but always over the counted rows (never weighted).
    let zDenominator = reduction == .mean ? Double(counted.rows) : 1
    let zScale = zDenominator == 0 ? 0 : options.gradScale / zDenominator

    // Long rows are split into fixed column blocks (see Parallel.swift): their statistics are
    // computed block by block, on `columnThreads` workers, and merged in block order.
    let split = cols >= columnSplitThreshold
    let blockLength = columnBlockLength(cols)
    let blockCount = split ? (cols + blockLength - 1) / blockLength : 1

    // The soft cap c (0: off). With it, exps are not stored: the output pass needs the logits again
    // for the chain rule, so it recomputes tanh and exp from them.
    let cap = T(options.softCap)

    /// The statistics of row `x` (exps stored to `g` when non-nil), whole or by blocks.
    @inline(__always) func statistics<N: StatisticsMode>(
      _ x: UnsafePointer<T>, _ y: UnsafePointer<T>?, _ g: UnsafeMutablePointer<T>?, _: N.Type,
      blocks: UnsafeMutablePointer<RowStatistics<T>>?, columnThreads: Int, next: RowPrefetch<T>? = nil
    ) -> RowStatistics<T> {
      guard let blocks else { return T.rowStatistics(x, y, count: cols, N.self, store: g, cap: cap, next: next) }
      return T.blockedRowStatistics(x, y, count: cols, N.self, store: g, blockLength: blockLength, blocks: blocks,
                                    threads: columnThreads, cap: cap)
    }

    // One row: statistics pass, loss, then the output pass. Returns the row's loss and z-loss.
    @inline(__always) func row(
      _ i: Int, blocks: UnsafeMutablePointer<RowStatistics<T>>? = nil, columnThreads: Int = 1, prefetchNext: Bool = false
    ) -> LossSums {
      let x = x0 + i * stride
      let y = y0.map { $0 + i * yStride }
      let g = gradOut.map { $0 + i * gradStride }
      // The next row of this worker's chunk, fetched into L2 during this row's statistics pass, when
      // that pass stores exps (its max pass would otherwise wait on memory) and rows are longer than L1.
      // Measured (c_bench, 1 / 2 threads): 4096×32000 loss+grad 1.07–1.10× faster; 8192×1000 loss+grad
      // (L1-sized rows) 0.92× and 4096×32000 loss only (one streaming read) 0.88×, hence the conditions.
      let next = prefetchNext && g != nil && cap == 0 && cols * MemoryLayout<T>.size >= rowPrefetchBytes
        ? RowPrefetch(x: x + stride, out: g.map { $0 + gradStride }, count: cols) : nil
      var label = 0
      if let labels {
        let l = labels[i]
        if l == ignore {
          if let lseOut {
            let st = statistics(x, nil, nil, PlainStatistics<M.Exp>.self, blocks: blocks, columnThreads: columnThreads)
            lseOut[i] = T(st.logSumExp)
          }
          if let g { T.zeroRow(g, count: cols) }
          if reduction == .none {
            lossOut[i] = 0
            zOut?[i] = 0
          }
          return .zero
        }
        label = Int(l)
      }
      // The label's logit: read after the statistics pass (when the row is in cache), unless that pass
      // overwrites the row with exps (in place).
      let overwrites = cap == 0 && g.map { UnsafeRawPointer($0) == UnsafeRawPointer(x) } == true
      let readFirst = !M.soft && overwrites
      let early = readFirst ? T.capped(x[label], cap) : (value: T(0), derivative: T(0))
      let w = weights?[label] ?? 1
      // Weighted smoothing needs Σ_j w_j (x_j − ref): taken now (before the statistics pass may
      // overwrite the row), relative to the row's maximum m0, the reference that pass takes (0 when no
      // element is above −inf), and moved to that pass's reference below (the same value: a difference
      // of 0); scaled by sumXScale like RowStatistics.sumX, so that it cannot overflow. (Relative to the
      // label's logit instead, a label logit far below the row, e.g. −1e30, cancelled every other term.)
      // The max pass repeats the statistics pass's own on this path only (class weights with smoothing),
      // which must read the row before it may be overwritten.
      var m0 = 0.0
      var weightedX = 0.0
      if let weights, M.sumsX {
        let m = Double(T.rowMax(x, count: cols, cap: cap, M.Exp.self))
        m0 = m.isFinite ? m : 0
        for j in 0..<cols where weights[j] != 0 { weightedX += weights[j] * ((Double(T.capped(x[j], cap).value) - m0) * sumXScale) }
      }
      // With a gradient matrix, the statistics pass stores exp(x − max) there and the output pass only
      // scales it (one exp per element instead of two).
      let st = statistics(x, y, cap == 0 ? g : nil, M.self, blocks: blocks, columnThreads: columnThreads, next: next)
      let capLabel = M.soft || readFirst ? early : T.capped(x[label], cap)
      let xLabel = Double(capLabel.value)
      let logSum = scalarLog(st.sumExp)  // once per row: −inf for Σexp = 0, NaN for NaN
      let lse = Double(st.ref) + logSum
      if let lseOut { lseOut[i] = T(lse) }

      // Σ t over the row: 1 for labels ((1 − ε)·w + ε·Σw/cols with class weights), (1 − ε)Σy + ε for
      // soft targets.
      let targetSum = M.soft ? (1 - eps) * st.sumY + eps : (1 - eps) * w + eps * weightSum / Double(cols)
      var loss = 0.0
      if st.sumExp.isNaN {
        // A NaN or +inf logit: the row's loss is NaN whatever its targets (also all-zero soft targets).
        loss = .nan
      } else if st.sumExp == 0 {
        // All −inf: every log ŷ_j is −inf, so any positive target weight makes the loss +inf.
        loss = targetSum != 0 ? .infinity : 0
      } else {
        // lse − x_label = (ref − x_label) + log Σexp: the difference first, exact near the maximum.
        // A zero class weight is a zero target: it adds 0 even where the label's logit is −inf (0·inf
        // would be NaN), as zero soft targets do.
        if !M.soft && eps < 1 && w != 0 { loss += (1 - eps) * w * ((Double(st.ref) - xLabel) + logSum) }
        // Σ y(lse − x) = (Σy)·log Σexp − Σ y(x − ref), over y ≠ 0.
        if M.soft && eps < 1 && st.sumY != 0 { loss += (1 - eps) * (st.sumY * logSum - st.sumYX) }
        // lse − mean(x) = log Σexp − Σ(x − ref)/cols; weighted: (Σw·log Σexp − Σ w(x − ref))/cols.
        if M.sumsX && weights == nil { loss += eps * (logSum - st.meanX(count: cols)) }
        if M.sumsX && weights != nil {
          let wx = weightedX + weightSum * ((m0 - Double(st.ref)) * sumXScale)
          loss += eps * (weightSum * logSum / Double(cols) - (wx / Double(cols)) * sumXUnscale)
        }
      }
      if reduction == .none { lossOut[i] = T(loss) }
      // The z-loss λ·lse² (never added to the loss), its gradient 2λ·lse·ŷ.
      let z = lambda == 0 ? 0 : lambda * lse * lse
      if reduction == .none { zOut?[i] = z }

      if wantsGradient {
        // ŷ·Σt = exp(x − ref)·(Σt / Σexp); an all −inf row has ŷ = 0.
        let zTerm = lambda == 0 ? 0 : zScale * 2 * lambda * lse
        let f = st.sumExp == 0 ? 0 : (scale * targetSum + zTerm) / st.sumExp
        forEachBlock(count: blocks == nil ? 1 : blockCount, threads: columnThreads) { k in
          let lo = k * blockLength, n = blocks == nil ? cols : min(blockLength, cols - lo)
          if let g, cap == 0 {
            // A block's stored exps are relative to its own reference: rescale them to the row's.
            let fk = blocks.map { f * $0[k].rescale(to: st) } ?? f
            T.gradientFromExp(g + lo, y.map { $0 + lo }, count: n, f: T(fk), a: T(a), c: T(c),
                              bias: biasOut.map { $0 + lo }, M.self)
          } else {
            T.gradientRow(x + lo, y.map { $0 + lo }, count: n, ref: st.ref, f: T(f), a: T(a), c: T(c),
                          grad: g.map { $0 + lo }, bias: biasOut.map { $0 + lo }, cap: cap, M.self)
          }
        }
        if !M.soft && a != 0 {
          // The one-hot part, −s(1 − ε)·w at the label (times the cap's derivative there), subtracted in
          // Double and rounded once more in the gradient (the bias gradient's running sum stays Double).
          let one = a * w * Double(cap == 0 ? 1 : capLabel.derivative)
          if let g { g[label] = T(Double(g[label]) - one) }
          biasOut?.add(-one, at: label)
        }
        if let weights, M.sumsX {
          // The weighted smoothing part, −s·ε·w_j/cols, per class.
          // (With a soft cap, times its derivative: read from the logits, which validation ensured are
          // not overwritten in place in that case.)
          let cw = scale * eps / Double(cols)
          for j in 0..<cols {
            let part = cw * weights[j] * Double(cap == 0 ? 1 : T.capped(x[j], cap).derivative)
            if let g { g[j] = T(Double(g[j]) - part) }
            biasOut?.add(-part, at: j)
          }
        }
      }
      return LossSums(loss: loss, z: z)
    }

    let total: LossSums
    if split {
      // Many rows: the fixed row chunks go to the workers and each row's column blocks are done on its
      // worker. Few rows (or a bias gradient, a sum over rows kept in row order): rows one after the
      // other, each spread over the workers by column blocks (which write disjoint parts of the bias).
      // Either way a row is computed over the same fixed blocks merged in the same order and the loss
      // is summed over the same fixed row chunks, so the choice changes no bit of any result.
      let rowThreads = biasOut != nil ? 1 : workerCount(requested: options.threads, rows: rows, cols: cols)
      let byRows = rowThreads > 1 && rows >= 4 * rowThreads
      let columnThreads = byRows ? 1 : workerCount(requested: options.threads, rows: rows, cols: cols, limit: blockCount)
      total = sumOverRowChunks(rows: rows, threads: byRows ? rowThreads : 1) { range in
        withBlockStatistics(T.self) { blocks in
          var s = LossSums.zero
          for i in range { s += row(i, blocks: blocks, columnThreads: columnThreads) }
          return s
        }
      }
    } else {
      // The bias gradient is a sum over rows into one vector: kept on one thread so its order is fixed.
      // Small class counts, hard labels: whole groups of `lanes` rows go through the rows-in-lanes
      // kernel, two at a time; chunks then hold multiples of two groups (a remainder only in the last),
      // and group boundaries are fixed within each fixed chunk, so results stay thread-independent.
      let grouped = !M.soft && cols <= T.smallClassCount && weights == nil && lambda == 0 && cap == 0
      let w = T._lanes
      let granule = grouped ? 2 * w : 1
      let threads = biasOut != nil ? 1 : workerCount(requested: options.threads, rows: rows, cols: cols, granule: granule)
      total = sumOverRowChunks(rows: rows, threads: threads, granule: granule) { range in
        var s = LossSums.zero
        var i = range.lowerBound
        if grouped {
          withUnsafeTemporaryAllocation(of: T._Vector.self, capacity: smallClassLimit) { scratch in
            @inline(__always) func pass(_ i: Int) -> RowGroup<T> {
              T.rowGroupPass(
                x0 + i * stride, stride: stride, cols: cols, labels: labels! + i, ignore: ignore,
                smoothing: M.sumsX, scale: T(scale), a: T(a), c: T(c), grad: gradOut.map { $0 + i * gradStride },
                gradStride: gradStride, bias: biasOut, scratch: scratch.baseAddress!, M.Exp.self)
            }
            @inline(__always) func loss(_ i: Int, _ g: RowGroup<T>, _ logSum: T._Vector) -> Double {
              T.rowGroupLoss(g, logSum: logSum, cols: cols, epsilon: eps, smoothing: M.sumsX,
                             lse: lseOut.map { $0 + i }, rowLoss: reduction == .none ? lossOut + i : nil)
            }
            // Two groups at a time: their logs in one call (the same bits as one call each).
            while i + 2 * w <= range.upperBound {
              let g0 = pass(i), g1 = pass(i + w)
              let (l0, l1) = T._log2(g0.sum, g1.sum)
              s.loss += loss(i, g0, l0)
              s.loss += loss(i + w, g1, l1)
              i += 2 * w
            }
            if i + w <= range.upperBound {
              let g = pass(i)
              s.loss += loss(i, g, T._log(g.sum))
              i += w
            }
          }
        }
        while i < range.upperBound {
          s += row(i, prefetchNext: i + 1 < range.upperBound)
          i += 1
        }
        return s
      }
    }
    if reduction != .none { lossTotal?.pointee = total.loss }
    switch reduction {
    case .none: break
    case .sum:
      lossOut[0] = T(total.loss)
      zOut?[0] = total.z
    case .mean:
      lossOut[0] = denominator == 0 ? 0 : T(total.loss / denominator)
      zOut?[0] = zDenominator == 0 ? 0 : total.z / zDenominator
    }
  }
}

/// The per-chunk sums of a cross-entropy call: the loss and the z-loss.
struct LossSums: AdditiveArithmetic {
  var loss = 0.0
  var z = 0.0
  static var zero: LossSums { LossSums() }
  static func + (a: LossSums, b: LossSums) -> LossSums { LossSums(loss: a.loss + b.loss, z: a.z + b.z) }
  static func - (a: LossSums, b: LossSums) -> LossSums { LossSums(loss: a.loss - b.loss, z: a.z - b.z) }
}
