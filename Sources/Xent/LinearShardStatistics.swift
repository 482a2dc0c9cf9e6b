// The Swift API of the linear cross-entropy over a vocabulary shard (C: xent_linear_partial_stats_*,
// xent_linear_grad_from_stats_*). The driver is Linear/LinearShardCall.swift.

/// The statistics of a vocabulary shard of a linear layer's logits, `o = hidden·weightᵀ + bias`, where
/// `weight` (`columns × dim`, `weightStride`, default `dim`) and `bias` (`columns` values, empty: none) are
/// classes `[columnOffset, columnOffset + columns)` of `totalColumns`: `statistics[i]` describes row `i`
/// over them, as ``partialStatistics(logits:layout:columnOffset:totalColumns:labels:options:into:)`` does for
/// given logits; the shard's logits are formed in row blocks in one workspace and never stored whole.
/// `hidden` is the whole batch (`rows × dim`, `hiddenStride`, default `dim`), `labels` global class
/// indices. Merge the shards' statistics (``mergeStatistics(_:_:into:)``), then
/// ``crossEntropy(statistics:totalColumns:labels:options:loss:logSumExp:)`` gives the loss and
/// ``linearCrossEntropyGradients(hidden:rows:dim:hiddenStride:weight:columns:weightStride:columnOffset:totalColumns:bias:labels:statistics:options:gradHidden:gradHiddenStride:gradWeight:gradWeightStride:gradBias:)``
/// each shard's gradients. Options: `ignoreIndex`, `softCap`, `threads`, `workspaceBytes` (give both calls the same
/// bound: they then form the same row blocks of logits).
public func linearPartialStatistics<T: SoftmaxScalar>(
  hidden: Span<T>, rows: Int, dim: Int, hiddenStride: Int? = nil, weight: Span<T>, columns: Int,
  weightStride: Int? = nil, columnOffset: Int, totalColumns: Int, bias: Span<T> = Span(), labels: Span<Int64>,
  options: CrossEntropyOptions = .init(), into statistics: inout MutableSpan<ShardStatistics>
) throws(XentError) {
  try withShardCall(
    hidden: hidden, rows: rows, dim: dim, hiddenStride: hiddenStride, weight: weight, columns: columns,
    weightStride: weightStride, columnOffset: columnOffset, totalColumns: totalColumns, bias: bias, labels: labels,
    options: options
  ) { (call) throws(XentError) in
    try statistics.withUnsafeMutableBufferPointer { (s) throws(XentError) in
      try call.statistics(into: Buffer(required: s))
    }
  }
}

/// A vocabulary shard's gradients from statistics merged over all `totalColumns` classes (arguments as
/// ``linearPartialStatistics(hidden:rows:dim:hiddenStride:weight:columns:weightStride:columnOffset:totalColumns:bias:labels:options:into:)``):
/// with `G` the shard's columns of ∂l/∂o,
///
///     gradHidden = G·weight     (rows × gradHiddenStride: this shard's contribution; sum it over shards)
///     gradWeight = Gᵀ·hidden    (columns × gradWeightStride; added to with `options.accumulate`)
///     gradBias   = Σ_rows G     (columns; in Double; added to with `options.accumulate`)
///
/// each empty when not wanted (not all three). Options as the sharded gradient's (reduction, ignore index,
/// smoothing with the global class count, grad scale, soft cap) plus `threads`, `workspaceBytes`, `accumulate`.
public func linearCrossEntropyGradients<T: SoftmaxScalar>(
  hidden: Span<T>, rows: Int, dim: Int, hiddenStride: Int? = nil, weight: Span<T>, columns: Int,
  weightStride: Int? = nil, columnOffset: Int, totalColumns: Int, bias: Span<T> = Span(), labels: Span<Int64>,
  statistics: Span<ShardStatistics>, options: CrossEntropyOptions = .init(), gradHidden: inout MutableSpan<T>,
  gradHiddenStride: Int? = nil, gradWeight: inout MutableSpan<T>, gradWeightStride: Int? = nil,
  gradBias: inout MutableSpan<T>
) throws(XentError) {
  try withShardCall(
    hidden: hidden, rows: rows, dim: dim, hiddenStride: hiddenStride, weight: weight, columns: columns,
    weightStride: weightStride, columnOffset: columnOffset, totalColumns: totalColumns, bias: bias, labels: labels,
    options: options
  ) { (call) throws(XentError) in
    try statistics.withUnsafeBufferPointer { (s) throws(XentError) in
      try gradHidden.withUnsafeMutableBufferPointer { (gh) throws(XentError) in
        try gradWeight.withUnsafeMutableBufferPointer { (gw) throws(XentError) in
          try gradBias.withUnsafeMutableBufferPointer { (gb) throws(XentError) in
            try call.gradients(
              statistics: Buffer(required: s), gradHidden: Buffer(optional: gh), gradHiddenStride: gradHiddenStride ?? dim,
              gradWeight: Buffer(optional: gw), gradWeightStride: gradWeightStride ?? dim, gradBias: Buffer(optional: gb))
          }
        }
      }
    }
  }
}

/// The shard's call on the spans' memory.
private func withShardCall<T: SoftmaxScalar>(
  hidden: Span<T>, rows: Int, dim: Int, hiddenStride: Int?, weight: Span<T>, columns: Int, weightStride: Int?,
  columnOffset: Int, totalColumns: Int, bias: Span<T>, labels: Span<Int64>, options: CrossEntropyOptions,
  _ body: (LinearShardCall<T>) throws(XentError) -> Void
) throws(XentError) {
  try hidden.withUnsafeBufferPointer { (h) throws(XentError) in
    try weight.withUnsafeBufferPointer { (w) throws(XentError) in
      try bias.withUnsafeBufferPointer { (b) throws(XentError) in
        try labels.withUnsafeBufferPointer { (l) throws(XentError) in
          try body(LinearShardCall(
            hidden: Buffer(required: h), rows: rows, dim: dim, hiddenStride: hiddenStride ?? dim,
            weight: Buffer(required: w), cols: columns, weightStride: weightStride ?? dim,
            shard: Shard(offset: columnOffset, totalColumns: totalColumns),
            bias: b.isEmpty ? .none : Buffer(required: b), labels: Buffer(required: l), options: options))
        }
      }
    }
  }
}
