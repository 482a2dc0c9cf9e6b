// The sharded linear cross-entropy entry points of include/xent.h (since 1.3.0).

import Xent
import _XentCHeader

@c @implementation
public func xent_linear_partial_stats_f32(_ hidden: In<Float>, _ rows: Int, _ dim: Int, _ hiddenStride: Int,
  _ weight: In<Float>, _ cols: Int, _ weightStride: Int, _ colOffset: Int, _ totalCols: Int, _ bias: In<Float>,
  _ labels: In<Int64>, _ opts: In<xent_options>, _ stats: Out<xent_stats>) -> xent_status {
  linearPartial(hidden, rows, dim, hiddenStride, weight, cols, weightStride, colOffset, totalCols, bias, labels, opts,
                stats)
}

@c @implementation
public func xent_linear_partial_stats_f64(_ hidden: In<Double>, _ rows: Int, _ dim: Int, _ hiddenStride: Int,
  _ weight: In<Double>, _ cols: Int, _ weightStride: Int, _ colOffset: Int, _ totalCols: Int, _ bias: In<Double>,
  _ labels: In<Int64>, _ opts: In<xent_options>, _ stats: Out<xent_stats>) -> xent_status {
  linearPartial(hidden, rows, dim, hiddenStride, weight, cols, weightStride, colOffset, totalCols, bias, labels, opts,
                stats)
}

@c @implementation
public func xent_linear_grad_from_stats_f32(_ hidden: In<Float>, _ rows: Int, _ dim: Int, _ hiddenStride: Int,
  _ weight: In<Float>, _ cols: Int, _ weightStride: Int, _ colOffset: Int, _ totalCols: Int, _ bias: In<Float>,
  _ labels: In<Int64>, _ stats: In<xent_stats>, _ opts: In<xent_options>, _ gradHidden: Out<Float>,
  _ gradHiddenStride: Int, _ gradWeight: Out<Float>, _ gradWeightStride: Int, _ gradBias: Out<Float>) -> xent_status {
  linearGradient(hidden, rows, dim, hiddenStride, weight, cols, weightStride, colOffset, totalCols, bias, labels, stats,
                 opts, gradHidden, gradHiddenStride, gradWeight, gradWeightStride, gradBias)
}

@c @implementation
public func xent_linear_grad_from_stats_f64(_ hidden: In<Double>, _ rows: Int, _ dim: Int, _ hiddenStride: Int,
  _ weight: In<Double>, _ cols: Int, _ weightStride: Int, _ colOffset: Int, _ totalCols: Int, _ bias: In<Double>,
  _ labels: In<Int64>, _ stats: In<xent_stats>, _ opts: In<xent_options>, _ gradHidden: Out<Double>,
  _ gradHiddenStride: Int, _ gradWeight: Out<Double>, _ gradWeightStride: Int, _ gradBias: Out<Double>) -> xent_status {
  linearGradient(hidden, rows, dim, hiddenStride, weight, cols, weightStride, colOffset, totalCols, bias, labels, stats,
                 opts, gradHidden, gradHiddenStride, gradWeight, gradWeightStride, gradBias)
}

// MARK: Generic helpers

/// The shard's call from the C arguments (options decoded first: a bad struct_size is reported as such).
@inline(__always)
private func shardCall<T: SoftmaxScalar>(
  _ hidden: UnsafePointer<T>?, _ rows: Int, _ dim: Int, _ hiddenStride: Int, _ weight: UnsafePointer<T>?,
  _ cols: Int, _ weightStride: Int, _ colOffset: Int, _ totalCols: Int, _ bias: UnsafePointer<T>?,
  _ labels: UnsafePointer<Int64>?, _ opts: UnsafePointer<xent_options>?
) throws(XentError) -> LinearShardCall<T> {
  let o = try decodeOptions(opts)
  return LinearShardCall(
    hidden: Buffer(hidden), rows: rows, dim: dim, hiddenStride: hiddenStride, weight: Buffer(weight), cols: cols,
    weightStride: weightStride, shard: Shard(offset: colOffset, totalColumns: totalCols), bias: Buffer(bias),
    labels: Buffer(labels), options: o.options, buffers: o.buffers)
}

@inline(__always)
private func linearPartial<T: SoftmaxScalar>(
  _ hidden: UnsafePointer<T>?, _ rows: Int, _ dim: Int, _ hiddenStride: Int, _ weight: UnsafePointer<T>?,
  _ cols: Int, _ weightStride: Int, _ colOffset: Int, _ totalCols: Int, _ bias: UnsafePointer<T>?,
  _ labels: UnsafePointer<Int64>?, _ opts: UnsafePointer<xent_options>?, _ stats: UnsafeMutablePointer<xent_stats>?
) -> xent_status {
  status { () throws(XentError) in
    try shardCall(hidden, rows, dim, hiddenStride, weight, cols, weightStride, colOffset, totalCols, bias, labels, opts)
      .statistics(into: statistics(stats))
  }
}

@inline(__always)
private func linearGradient<T: SoftmaxScalar>(
  _ hidden: UnsafePointer<T>?, _ rows: Int, _ dim: Int, _ hiddenStride: Int, _ weight: UnsafePointer<T>?,
  _ cols: Int, _ weightStride: Int, _ colOffset: Int, _ totalCols: Int, _ bias: UnsafePointer<T>?,
  _ labels: UnsafePointer<Int64>?, _ stats: UnsafePointer<xent_stats>?, _ opts: UnsafePointer<xent_options>?,
  _ gradHidden: UnsafeMutablePointer<T>?, _ gradHiddenStride: Int, _ gradWeight: UnsafeMutablePointer<T>?,
  _ gradWeightStride: Int, _ gradBias: UnsafeMutablePointer<T>?
) -> xent_status {
  status { () throws(XentError) in
    try shardCall(hidden, rows, dim, hiddenStride, weight, cols, weightStride, colOffset, totalCols, bias, labels, opts)
      .gradients(statistics: statistics(stats), gradHidden: Buffer(gradHidden), gradHiddenStride: gradHiddenStride,
                 gradWeight: Buffer(gradWeight), gradWeightStride: gradWeightStride, gradBias: Buffer(gradBias))
  }
}
