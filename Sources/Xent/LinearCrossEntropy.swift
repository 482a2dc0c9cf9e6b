internal import _XentShims

/// The cross-entropy of a linear layer's logits, `o = hidden·weightᵀ + bias`, with its gradients, without
/// the `rows × classes` logits ever existing whole (row blocks of them live in one workspace of at most
/// `options.workspaceBytes`, default 256 MiB):
///
///     G = ∂l/∂o                       exactly as `crossEntropy` forms it (every option)
///     gradHidden = G·weight           (rows × dim)
///     gradWeight = Gᵀ·hidden          (classes × dim; added to with `options.accumulate`)
///     gradBias   = Σ_rows G           (eq. 8, summed in Double; added to with `options.accumulate`)
///
/// `hidden` is `rows × dim` (`hiddenStride`, default `dim`), `weight` `classes × dim` (`weightStride`,
/// default `dim`), `bias` `classes` values (empty: none), `labels` `rows` class indices or
/// `options.ignoreIndex`. Outputs as `MutableSpan`s, empty = not wanted (a gradient not wanted costs
/// nothing): `loss` (`rows` values for `.none`, else one), `gradHidden` (`rows × gradHiddenStride`),
/// `gradWeight` (`classes × gradWeightStride`), `gradBias`, `logSumExp` (`rows`). The GEMMs run on the
/// system BLAS, on at most `options.threads` threads in all; results are bit-identical for any thread
/// count. Bounds and special values: docs/numerics.md ("Linear cross-entropy"). The workspace is kept for
/// the next call (see `releaseLinearWorkspace()`).
public func linearCrossEntropy<T: SoftmaxScalar>(
  hidden: Span<T>, rows: Int, dim: Int, hiddenStride: Int? = nil, weight: Span<T>, classes: Int,
  weightStride: Int? = nil, bias: Span<T> = Span(), labels: Span<Int64>, options: CrossEntropyOptions = .init(),
  loss: inout MutableSpan<T>, gradHidden: inout MutableSpan<T>, gradHiddenStride: Int? = nil,
  gradWeight: inout MutableSpan<T>, gradWeightStride: Int? = nil, gradBias: inout MutableSpan<T>,
  logSumExp: inout MutableSpan<T>
) throws(XentError) {
  try hidden.withUnsafeBufferPointer { (h) throws(XentError) in
    try weight.withUnsafeBufferPointer { (w) throws(XentError) in
      try bias.withUnsafeBufferPointer { (b) throws(XentError) in
        try labels.withUnsafeBufferPointer { (l) throws(XentError) in
          try loss.withUnsafeMutableBufferPointer { (lo) throws(XentError) in
            try gradHidden.withUnsafeMutableBufferPointer { (gh) throws(XentError) in
              try gradWeight.withUnsafeMutableBufferPointer { (gw) throws(XentError) in
                try gradBias.withUnsafeMutableBufferPointer { (gb) throws(XentError) in
                  try logSumExp.withUnsafeMutableBufferPointer { (e) throws(XentError) in
                    try LinearCrossEntropyCall(
                      hidden: Buffer(required: h), rows: rows, dim: dim, hiddenStride: hiddenStride ?? dim,
                      weight: Buffer(required: w), classes: classes, weightStride: weightStride ?? dim,
                      bias: b.isEmpty ? .none : Buffer(required: b), labels: Buffer(required: l), options: options,
                      loss: Buffer(required: lo), gradHidden: Buffer(optional: gh),
                      gradHiddenStride: gradHiddenStride ?? dim, gradWeight: Buffer(optional: gw),
                      gradWeightStride: gradWeightStride ?? dim, gradBias: Buffer(optional: gb),
                      lse: Buffer(optional: e)
                    ).run()
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

/// The reduced linear cross-entropy loss (`.sum` or `.mean`), no gradient: one GEMM and one pass.
public func linearCrossEntropy<T: SoftmaxScalar>(
  hidden: Span<T>, rows: Int, dim: Int, weight: Span<T>, classes: Int, bias: Span<T> = Span(),
  labels: Span<Int64>, options: CrossEntropyOptions = .init()
) throws(XentError) -> T {
  try reducedLoss(options) { (loss) throws(XentError) in
    var none1 = MutableSpan<T>(), none2 = MutableSpan<T>(), none3 = MutableSpan<T>(), none4 = MutableSpan<T>()
    try linearCrossEntropy(
      hidden: hidden, rows: rows, dim: dim, weight: weight, classes: classes, bias: bias, labels: labels,
      options: options, loss: &loss, gradHidden: &none1, gradWeight: &none2, gradBias: &none3, logSumExp: &none4)
  }
}

/// Frees the workspace block that the linear cross-entropy keeps between calls (one for the process: the
/// largest a call has needed since the last release, or with concurrent calls the last one returned;
/// reused by every call it is large enough for, so that later calls touch no fresh page) and returns its
/// size in bytes, 0 when none was kept. The next call allocates again. Safe from any thread at any time: a
/// call in progress keeps its block until it returns.
@discardableResult
public func releaseLinearWorkspace() -> Int { Int(xentshim_workspace_release()) }
