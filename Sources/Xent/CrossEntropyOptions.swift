/// How per-row losses are combined.
public enum Reduction: Int32, Sendable, Hashable {
  /// One loss per row; the gradient is `gradScale · (ŷ − t)`.
  case none = 0
  /// Σ of the row losses; the gradient is `gradScale · (ŷ − t)`.
  case sum = 1
  /// Σ of the row losses / number of rows not ignored (0 rows: loss 0, gradient 0, never NaN);
  /// the gradient is `gradScale · (ŷ − t) / count`. Soft targets divide by `rows`.
  case mean = 2
}

/// Options of the cross-entropy functions; the defaults are PyTorch's.
public struct CrossEntropyOptions: Sendable, Hashable {
  /// Default `.mean`.
  public var reduction: Reduction = .mean
  /// Rows whose label equals this get loss 0 and a zero gradient row, and do not count in `.mean`.
  /// Default −100. (Hard labels only.)
  public var ignoreIndex: Int64 = -100
  /// ε ∈ [0, 1]: the target becomes `(1 − ε)·t + ε/cols` (PyTorch's meaning). Default 0.
  public var labelSmoothing: Double = 0
  /// The upstream gradient (∂L/∂loss) every gradient is multiplied by; finite. Default 1.
  public var gradScale: Double = 1
  /// The vector exp: SLEEF (default, or `XENT_EXP=fast` in the environment) or the inline one.
  public var exponential: Exponential = .environmentDefault
  /// Worker threads: 0 = automatic (one thread for small inputs). Results are bit-identical for any
  /// thread count.
  public var threads: Int = 0

  public init(
    reduction: Reduction = .mean, ignoreIndex: Int64 = -100, labelSmoothing: Double = 0,
    gradScale: Double = 1, threads: Int = 0, exponential: Exponential = .environmentDefault
  ) {
    self.exponential = exponential
    self.reduction = reduction
    self.ignoreIndex = ignoreIndex
    self.labelSmoothing = labelSmoothing
    self.gradScale = gradScale
    self.threads = threads
  }
}
