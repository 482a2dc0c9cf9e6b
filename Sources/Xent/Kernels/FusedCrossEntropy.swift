// The fused cross-entropy kernel: per row one statistics pass (maximum, Σexp and what the targets
// need; exp(x − max) stored into the gradient when one is asked for), the row loss (Kernels/RowLoss.swift),
// then one output pass that finishes the gradient and the bias gradient's running sum. No checks (the
// driver validated everything), no allocation.

extension CrossEntropyCall {
  /// The kernel proper: no checks, no allocation.
  func fused<M: StatisticsMode>(counted: LabelCounts, biasSum biasOut: BiasSum?, _: M.Type) {
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
    // The linear driver may take each row's gradient as coefficients instead, to form it tile by tile.
    let coefficientsOut = precomputed?.coefficients
    let wantsGradient = gradOut != nil || biasOut != nil || coefficientsOut != nil
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
    let zScale = zGradScale ?? (zDenominator == 0 ? 0 : options.gradScale / zDenominator)

    // Long rows are split into fixed column blocks (see `sumOverRows`): their statistics are computed
    // block by block, on `columnThreads` workers, and merged in block order.
    let pre = precomputed
    let split = cols >= columnSplitThreshold && pre == nil
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
      // Long rows' column blocks serve only rows whose statistics are not precomputed.
      let blocks = pre == nil ? blocks : nil
      let x = x0 + i * stride
      let y = y0.map { $0 + i * yStride }
      let g = gradOut.map { $0 + i * gradStride }
      // The next row of this worker's chunk, fetched into L2 during this row's statistics pass, when
      // that pass stores exps (its max pass would otherwise wait on memory) and rows are longer than L1.
      // Not for L1-sized rows or a loss-only call (one streaming read): there it costs more than it saves
      // (docs/performance.md).
      let next = prefetchNext && g != nil && cap == 0 && cols * MemoryLayout<T>.size >= rowPrefetchBytes
        ? RowPrefetch(x: x + stride, out: g.map { $0 + gradStride }, count: cols) : nil
      var label = 0
      if let labels {
        let l = labels[i]
        if l == ignore {
          if let lseOut {
            let st = pre?.row(i, cols: cols, sumsX: false, soft: false)
              ?? statistics(x, nil, nil, PlainStatistics<M.Exp>.self, blocks: blocks, columnThreads: columnThreads)
            lseOut[i] = T(st.logSumExp)
          }
          if let g { T.zeroRow(g, count: cols) }
          coefficientsOut?[i] = .ignored
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
      let overwrites = pre == nil && cap == 0 && g.map { UnsafeRawPointer($0) == UnsafeRawPointer(x) } == true
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
      // With precomputed tile statistics nothing is stored: the output pass recomputes exp(x − ref).
      let st = pre?.row(i, cols: cols, sumsX: M.sumsX, soft: M.soft)
        ?? statistics(x, y, cap == 0 ? g : nil, M.self, blocks: blocks, columnThreads: columnThreads, next: next)
      let capLabel = M.soft || readFirst ? early : T.capped(pre?.labelLogits.map { $0[i] } ?? x[label], cap)
      let xLabel = Double(capLabel.value)
      let logSum = scalarLog(st.sumExp)  // once per row: −inf for Σexp = 0, NaN for NaN
      let lse = Double(st.ref) + logSum
      if let lseOut { lseOut[i] = T(lse) }

      // Σ t over the row: 1 for labels ((1 − ε)·w + ε·Σw/cols with class weights), (1 − ε)Σy + ε for
      // soft targets.
      let targetSum = M.soft ? (1 - eps) * st.sumY + eps : (1 - eps) * w + eps * weightSum / Double(cols)
      let smoothing: SmoothingTerm
      if !M.sumsX {
        smoothing = .none
      } else if weights == nil {
        smoothing = .uniform(meanX: st.meanX(count: cols))
      } else {
        let wx = weightedX + weightSum * ((m0 - Double(st.ref)) * sumXScale)
        smoothing = .weighted(weightSum: weightSum, cols: Double(cols), meanWX: (wx / Double(cols)) * sumXUnscale)
      }
      let loss = rowLoss(
        sumExp: st.sumExp, ref: Double(st.ref), logSum: logSum, targetSum: targetSum, epsilon: eps,
        label: M.soft ? nil : (logit: xLabel, weight: w), soft: M.soft ? (st.sumY, st.sumYX) : nil,
        smoothing: smoothing)
      if reduction == .none { lossOut[i] = T(loss) }
      // The z-loss λ·lse² (never added to the loss), its gradient 2λ·lse·ŷ.
      let z = lambda == 0 ? 0 : lambda * lse * lse
      if reduction == .none { zOut?[i] = z }

      if wantsGradient {
        // ŷ·Σt = exp(x − ref)·(Σt / Σexp); an all −inf row has ŷ = 0.
        let zTerm = lambda == 0 ? 0 : zScale * 2 * lambda * lse
        let f = st.sumExp == 0 ? 0 : (scale * targetSum + zTerm) / st.sumExp
        if let coefficientsOut {
          coefficientsOut[i] = GradientCoefficients(
            ref: st.ref, f: T(f), c: T(c), label: label, oneHot: !M.soft && a != 0 ? a * w : nil,
            classWeighted: weights != nil && M.sumsX ? scale * eps / Double(cols) : nil)
          return LossSums(loss: loss, z: z)
        }
        forEachBlock(count: blocks == nil ? 1 : blockCount, threads: columnThreads) { k in
          let lo = k * blockLength, n = blocks == nil ? cols : min(blockLength, cols - lo)
          if let g, cap == 0, pre == nil {
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

    // The bias gradient is a sum over rows into one vector: its rows stay on one thread, in order.
    // Small class counts, hard labels: whole groups of `lanes` rows go through the rows-in-lanes
    // kernel, two at a time; chunks then hold multiples of two groups (a remainder only in the last),
    // and group boundaries are fixed within each fixed chunk, so results stay thread-independent.
    let grouped = !split && pre == nil && !M.soft && cols <= T.smallClassCount && weights == nil && lambda == 0 && cap == 0
    let lanes = T._lanes
    let total = sumOverRows(
      rows: rows, cols: cols, requested: options.threads, serialRows: biasOut != nil, granule: grouped ? 2 * lanes : 1,
      T.self
    ) { range, blocks, columnThreads in
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
            // No z-loss on this path (λ = 0): its per-row output is 0.
            if reduction == .none, let zOut { (zOut + i).update(repeating: 0, count: lanes) }
            return T.rowGroupLoss(g, logSum: logSum, cols: cols, epsilon: eps, smoothing: M.sumsX,
                                  lse: lseOut.map { $0 + i }, rowLoss: reduction == .none ? lossOut + i : nil)
          }
          // Two groups at a time: their logs in one call (the same bits as one call each).
          while i + 2 * lanes <= range.upperBound {
            let g0 = pass(i), g1 = pass(i + lanes)
            let (l0, l1) = T._log2(g0.sum, g1.sum)
            s.loss += loss(i, g0, l0)
            s.loss += loss(i + lanes, g1, l1)
            i += 2 * lanes
          }
          if i + lanes <= range.upperBound {
            let g = pass(i)
            s.loss += loss(i, g, T._log(g.sum))
            i += lanes
          }
        }
      }
      while i < range.upperBound {
        s += row(i, blocks: blocks, columnThreads: columnThreads, prefetchNext: blocks == nil && i + 1 < range.upperBound)
        i += 1
      }
      return s
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
