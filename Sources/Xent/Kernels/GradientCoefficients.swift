// One row's gradient as coefficients, so that it can be formed over any range of the row's columns: the
// linear drivers form G = ∂l/∂o tile by tile, each tile while it is in cache, from coefficients the fused
// kernel (or the merged statistics of a sharded row) computed once per row.

/// Row gradient g_j = f·exp(x_j − ref) − c − cw·w_j − oneHot·[j = label], every term times the soft
/// cap's derivative at x_j when the logits are capped (w: class weights; cw only with class weights and
/// label smoothing). The one-hot and class-weighted terms are subtracted in Double and rounded once more,
/// as the fused kernel does. An ignored row's gradient is zero.
struct GradientCoefficients<T: SoftmaxScalar> {
  var ref: T = 0
  var f: T = 0
  var c: T = 0
  /// The label's column (relative to the columns the coefficients are applied to by `apply`'s caller).
  var label = 0
  /// a·w at the label, or nil when the kernel subtracts nothing there.
  var oneHot: Double? = nil
  /// cw = s·ε/cols, or nil without class-weighted smoothing.
  var classWeighted: Double? = nil
  var ignored = false

  static var ignored: Self { GradientCoefficients(ignored: true) }

  /// Columns `columns` of the row: logits at `x` (column `columns.lowerBound` first), the gradient to `g`
  /// (may be `x`: each element is read before it is written), added to `bias` (the sums of these
  /// columns) when given; `weights` are the class weights of every class.
  @inline(__always)
  func apply<M: StatisticsMode>(
    _ x: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>, columns: Range<Int>, weights: UnsafePointer<Double>?,
    bias: BiasSum?, cap: T, _: M.Type
  ) {
    let n = columns.count
    if ignored {
      T.zeroRow(g, count: n)
      return
    }
    let j = label - columns.lowerBound
    let here = j >= 0 && j < n
    // The cap's derivative at the label, read before the row is overwritten (in place).
    let capLabel = cap != 0 && here ? T.capped(x[j], cap).derivative : 1
    T.gradientRow(x, nil, count: n, ref: ref, f: f, a: 0, c: c, grad: g, bias: bias, cap: cap, M.self)
    if let oneHot, here {
      let one = oneHot * Double(capLabel)
      g[j] = T(Double(g[j]) - one)
      bias?.add(-one, at: j)
    }
    if let cw = classWeighted, let weights {
      // With a soft cap the logits are not overwritten on this path (the driver keeps G apart).
      for k in 0..<n {
        let part = cw * weights[columns.lowerBound + k] * Double(cap == 0 ? 1 : T.capped(x[k], cap).derivative)
        g[k] = T(Double(g[k]) - part)
        bias?.add(-part, at: k)
      }
    }
  }
}
