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
  /// λ ≥ 0: the z-loss (PaLM) `λ·lse²` of every counted row is added to the objective, so the gradient
  /// gains `2λ·lse·ŷ`; its value is reported separately (`zLoss:` outputs), never added to the loss.
  /// Default 0 (off).
  public var zLoss: Double = 0
  /// c ≥ 0: logits are soft-capped to `c·tanh(x/c)` (Gemma 2) before everything else, with the chain
  /// rule `1 − tanh²(x/c)` in the gradient. Default 0 (off).
  public var softCap: Double = 0
  /// `cols` non-negative weights with PyTorch's semantics: row i's loss and gradient are scaled by
  /// `w[label_i]`, `.mean` divides by Σ w[label_i] over counted rows, and label smoothing spreads
  /// `ε·w_j/cols` (so its target is `(1 − ε)·w_label·onehot + ε·w/cols`). Hard labels only. Default nil.
  public var classWeights: [Double]? = nil
  /// The vector exp: SLEEF (default, or `XENT_EXP=fast` in the environment) or the inline one.
  public var exponential: Exponential = .environmentDefault
  /// Worker threads: 0 = automatic (one thread for small inputs). Results are bit-identical for any
  /// thread count.
  public var threads: Int = 0
  /// The linear cross-entropy's workspace bound in bytes (the one block a call allocates: row blocks of
  /// the logits, the bias gradient's running sum); 0 = the default, 256 MiB. Other functions ignore it.
  public var workspaceBytes: Int = 0
  /// The linear cross-entropy adds its weight and bias gradients to the outputs (`+=`: gradient
  /// accumulation over micro-batches) instead of overwriting them. Other functions ignore it.
  public var accumulate: Bool = false

  public init(
    reduction: Reduction = .mean, ignoreIndex: Int64 = -100, labelSmoothing: Double = 0,
    gradScale: Double = 1, threads: Int = 0, exponential: Exponential = .environmentDefault,
    zLoss: Double = 0, softCap: Double = 0, classWeights: [Double]? = nil, workspaceBytes: Int = 0,
    accumulate: Bool = false
  ) {
    self.workspaceBytes = workspaceBytes
    self.accumulate = accumulate
    self.exponential = exponential
    self.zLoss = zLoss
    self.softCap = softCap
    self.classWeights = classWeights
    self.reduction = reduction
    self.ignoreIndex = ignoreIndex
    self.labelSmoothing = labelSmoothing
    self.gradScale = gradScale
    self.threads = threads
  }
}
