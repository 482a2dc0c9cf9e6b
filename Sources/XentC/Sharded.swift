// The sharded-vocabulary entry points of include/xent.h (since 1.1.0). `xent_stats` and Xent's
// `ShardStatistics` are the same six Doubles in the same order (checked by `statisticsLayoutMatches`).

import Xent
import _XentCHeader

/// `xent_stats` and `ShardStatistics` must have the same layout for the pointer casts below.
let statisticsLayoutMatches: Bool =
  MemoryLayout<xent_stats>.size == MemoryLayout<ShardStatistics>.size
  && MemoryLayout<xent_stats>.stride == MemoryLayout<ShardStatistics>.stride
  && MemoryLayout<xent_stats>.offset(of: \.label_seen) == MemoryLayout<ShardStatistics>.offset(of: \.labelSeen)

@inline(__always)
func statistics(_ p: UnsafePointer<xent_stats>?) -> Buffer<ShardStatistics> {
  precondition(statisticsLayoutMatches)
  return Buffer(UnsafeRawPointer(p).map { $0.assumingMemoryBound(to: ShardStatistics.self) })
}

@inline(__always)
func statistics(_ p: UnsafeMutablePointer<xent_stats>?) -> Buffer<ShardStatistics> {
  statistics(UnsafePointer(p))
}

@c @implementation
public func xent_partial_stats_f32(_ logits: In<Float>, _ rows: Int, _ cols: Int, _ rowStride: Int, _ colOffset: Int,
  _ totalCols: Int, _ labels: In<Int64>, _ opts: In<xent_options>, _ stats: Out<xent_stats>) -> xent_status {
  partial(logits, rows, cols, rowStride, colOffset, totalCols, labels, opts, stats)
}

@c @implementation
public func xent_partial_stats_f64(_ logits: In<Double>, _ rows: Int, _ cols: Int, _ rowStride: Int, _ colOffset: Int,
  _ totalCols: Int, _ labels: In<Int64>, _ opts: In<xent_options>, _ stats: Out<xent_stats>) -> xent_status {
  partial(logits, rows, cols, rowStride, colOffset, totalCols, labels, opts, stats)
}

@c @implementation
public func xent_merge_stats(_ a: In<xent_stats>, _ b: In<xent_stats>, _ out: Out<xent_stats>,
  _ rows: Int) -> xent_status {
  status { () throws(XentError) in try mergeStatistics(statistics(a), statistics(b), into: statistics(out), rows: rows) }
}

@c @implementation
public func xent_finalize_stats_f32(_ stats: In<xent_stats>, _ rows: Int, _ totalCols: Int, _ labels: In<Int64>,
  _ opts: In<xent_options>, _ loss: Out<Float>, _ lse: Out<Float>) -> xent_status {
  finalize(stats, rows, totalCols, labels, opts, loss, lse)
}

@c @implementation
public func xent_finalize_stats_f64(_ stats: In<xent_stats>, _ rows: Int, _ totalCols: Int, _ labels: In<Int64>,
  _ opts: In<xent_options>, _ loss: Out<Double>, _ lse: Out<Double>) -> xent_status {
  finalize(stats, rows, totalCols, labels, opts, loss, lse)
}

@c @implementation
public func xent_grad_from_stats_f32(_ logits: In<Float>, _ rows: Int, _ cols: Int, _ rowStride: Int, _ colOffset: Int,
  _ totalCols: Int, _ labels: In<Int64>, _ stats: In<xent_stats>, _ opts: In<xent_options>, _ grad: Out<Float>,
  _ gradStride: Int) -> xent_status {
  gradient(logits, rows, cols, rowStride, colOffset, totalCols, labels, stats, opts, grad, gradStride)
}

@c @implementation
public func xent_grad_from_stats_f64(_ logits: In<Double>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ colOffset: Int, _ totalCols: Int, _ labels: In<Int64>, _ stats: In<xent_stats>, _ opts: In<xent_options>,
  _ grad: Out<Double>, _ gradStride: Int) -> xent_status {
  gradient(logits, rows, cols, rowStride, colOffset, totalCols, labels, stats, opts, grad, gradStride)
}

// MARK: Generic helpers

@inline(__always)
private func partial<T: SoftmaxScalar>(
  _ logits: UnsafePointer<T>?, _ rows: Int, _ cols: Int, _ rowStride: Int, _ colOffset: Int, _ totalCols: Int,
  _ labels: UnsafePointer<Int64>?, _ opts: UnsafePointer<xent_options>?, _ stats: UnsafeMutablePointer<xent_stats>?
) -> xent_status {
  status { () throws(XentError) in
    let o = try decodeOptions(opts)
    try partialStatistics(
      logits: Buffer(logits), layout: MatrixLayout(rows: rows, cols: cols, rowStride: rowStride),
      shard: Shard(offset: colOffset, totalColumns: totalCols), labels: Buffer(labels),
      options: o.options, buffers: o.buffers, statistics: statistics(stats))
  }
}

@inline(__always)
private func finalize<T: SoftmaxScalar>(
  _ stats: UnsafePointer<xent_stats>?, _ rows: Int, _ totalCols: Int, _ labels: UnsafePointer<Int64>?,
  _ opts: UnsafePointer<xent_options>?, _ loss: UnsafeMutablePointer<T>?, _ lse: UnsafeMutablePointer<T>?
) -> xent_status {
  status { () throws(XentError) in
    let o = try decodeOptions(opts)
    try finalizeStatistics(
      statistics(stats), rows: rows, totalColumns: totalCols, labels: Buffer(labels),
      options: o.options, buffers: o.buffers, loss: Buffer(loss), lse: Buffer(lse))
  }
}

@inline(__always)
private func gradient<T: SoftmaxScalar>(
  _ logits: UnsafePointer<T>?, _ rows: Int, _ cols: Int, _ rowStride: Int, _ colOffset: Int, _ totalCols: Int,
  _ labels: UnsafePointer<Int64>?, _ stats: UnsafePointer<xent_stats>?, _ opts: UnsafePointer<xent_options>?,
  _ grad: UnsafeMutablePointer<T>?, _ gradStride: Int
) -> xent_status {
  status { () throws(XentError) in
    let o = try decodeOptions(opts)
    try gradientFromStatistics(
      logits: Buffer(logits), layout: MatrixLayout(rows: rows, cols: cols, rowStride: rowStride),
      shard: Shard(offset: colOffset, totalColumns: totalCols), labels: Buffer(labels), statistics: statistics(stats),
      options: o.options, buffers: o.buffers, gradient: Buffer(grad), gradientStride: gradStride)
  }
}
