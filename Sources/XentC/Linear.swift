// The linear cross-entropy entry points of include/xent.h (since 1.2.0).

import Xent
import _XentCHeader

@c @implementation
public func xent_linear_cross_entropy_f32(_ hidden: In<Float>, _ rows: Int, _ dim: Int, _ hiddenStride: Int,
  _ weight: In<Float>, _ classes: Int, _ weightStride: Int, _ bias: In<Float>, _ labels: In<Int64>,
  _ opts: In<xent_options>, _ loss: Out<Float>, _ gradHidden: Out<Float>, _ gradHiddenStride: Int,
  _ gradWeight: Out<Float>, _ gradWeightStride: Int, _ gradBias: Out<Float>, _ lse: Out<Float>) -> xent_status {
  linear(hidden, rows, dim, hiddenStride, weight, classes, weightStride, bias, labels, opts, loss, gradHidden,
         gradHiddenStride, gradWeight, gradWeightStride, gradBias, lse)
}

@c @implementation
public func xent_linear_cross_entropy_f64(_ hidden: In<Double>, _ rows: Int, _ dim: Int, _ hiddenStride: Int,
  _ weight: In<Double>, _ classes: Int, _ weightStride: Int, _ bias: In<Double>, _ labels: In<Int64>,
  _ opts: In<xent_options>, _ loss: Out<Double>, _ gradHidden: Out<Double>, _ gradHiddenStride: Int,
  _ gradWeight: Out<Double>, _ gradWeightStride: Int, _ gradBias: Out<Double>, _ lse: Out<Double>) -> xent_status {
  linear(hidden, rows, dim, hiddenStride, weight, classes, weightStride, bias, labels, opts, loss, gradHidden,
         gradHiddenStride, gradWeight, gradWeightStride, gradBias, lse)
}

@inline(__always)
private func linear<T: SoftmaxScalar>(
  _ hidden: UnsafePointer<T>?, _ rows: Int, _ dim: Int, _ hiddenStride: Int, _ weight: UnsafePointer<T>?,
  _ classes: Int, _ weightStride: Int, _ bias: UnsafePointer<T>?, _ labels: UnsafePointer<Int64>?,
  _ opts: UnsafePointer<xent_options>?, _ loss: UnsafeMutablePointer<T>?, _ gradHidden: UnsafeMutablePointer<T>?,
  _ gradHiddenStride: Int, _ gradWeight: UnsafeMutablePointer<T>?, _ gradWeightStride: Int,
  _ gradBias: UnsafeMutablePointer<T>?, _ lse: UnsafeMutablePointer<T>?
) -> xent_status {
  status { () throws(XentError) in
    let o = try decodeOptions(opts)
    try LinearCrossEntropyCall(
      hidden: Buffer(hidden), rows: rows, dim: dim, hiddenStride: hiddenStride, weight: Buffer(weight),
      classes: classes, weightStride: weightStride, bias: Buffer(bias), labels: Buffer(labels), options: o.options,
      buffers: o.buffers, loss: Buffer(loss), gradHidden: Buffer(gradHidden), gradHiddenStride: gradHiddenStride,
      gradWeight: Buffer(gradWeight), gradWeightStride: gradWeightStride, gradBias: Buffer(gradBias), lse: Buffer(lse)
    ).run()
  }
}

@c @implementation
public func xent_release_workspace() -> Int { releaseLinearWorkspace() }
