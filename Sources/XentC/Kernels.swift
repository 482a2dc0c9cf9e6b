// The kernel entry points of include/xent.h: convert, call the Xent driver, return the status.
// Each function and its twin side by side, each one call to the generic helpers at the bottom.

import Xent
import _XentCHeader

@c @implementation
public func xent_cross_entropy_f32(_ logits: In<Float>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ labels: In<Int64>, _ opts: In<xent_options>, _ loss: Out<Float>, _ grad: Out<Float>,
  _ lse: Out<Float>) -> xent_status {
  crossEntropy(logits, rows, cols, rowStride, .labels(Buffer(labels)), opts, loss, grad, rowStride, lse, nil)
}

@c @implementation
public func xent_cross_entropy_f64(_ logits: In<Double>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ labels: In<Int64>, _ opts: In<xent_options>, _ loss: Out<Double>, _ grad: Out<Double>,
  _ lse: Out<Double>) -> xent_status {
  crossEntropy(logits, rows, cols, rowStride, .labels(Buffer(labels)), opts, loss, grad, rowStride, lse, nil)
}

@c @implementation
public func xent_cross_entropy_ex_f32(_ logits: In<Float>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ labels: In<Int64>, _ opts: In<xent_options>, _ loss: Out<Float>, _ grad: Out<Float>, _ gradStride: Int,
  _ lse: Out<Float>, _ biasGrad: Out<Float>) -> xent_status {
  crossEntropy(logits, rows, cols, rowStride, .labels(Buffer(labels)), opts, loss, grad, gradStride, lse, biasGrad)
}

@c @implementation
public func xent_cross_entropy_ex_f64(_ logits: In<Double>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ labels: In<Int64>, _ opts: In<xent_options>, _ loss: Out<Double>, _ grad: Out<Double>, _ gradStride: Int,
  _ lse: Out<Double>, _ biasGrad: Out<Double>) -> xent_status {
  crossEntropy(logits, rows, cols, rowStride, .labels(Buffer(labels)), opts, loss, grad, gradStride, lse, biasGrad)
}

@c @implementation
public func xent_soft_cross_entropy_f32(_ logits: In<Float>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ targets: In<Float>, _ targetStride: Int, _ opts: In<xent_options>, _ loss: Out<Float>, _ grad: Out<Float>,
  _ lse: Out<Float>) -> xent_status {
  crossEntropy(logits, rows, cols, rowStride, .soft(Buffer(targets), stride: targetStride), opts, loss, grad,
               rowStride, lse, nil)
}

@c @implementation
public func xent_soft_cross_entropy_f64(_ logits: In<Double>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ targets: In<Double>, _ targetStride: Int, _ opts: In<xent_options>, _ loss: Out<Double>, _ grad: Out<Double>,
  _ lse: Out<Double>) -> xent_status {
  crossEntropy(logits, rows, cols, rowStride, .soft(Buffer(targets), stride: targetStride), opts, loss, grad,
               rowStride, lse, nil)
}

@c @implementation
public func xent_soft_cross_entropy_ex_f32(_ logits: In<Float>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ targets: In<Float>, _ targetStride: Int, _ opts: In<xent_options>, _ loss: Out<Float>, _ grad: Out<Float>,
  _ gradStride: Int, _ lse: Out<Float>, _ biasGrad: Out<Float>) -> xent_status {
  crossEntropy(logits, rows, cols, rowStride, .soft(Buffer(targets), stride: targetStride), opts, loss, grad,
               gradStride, lse, biasGrad)
}

@c @implementation
public func xent_soft_cross_entropy_ex_f64(_ logits: In<Double>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ targets: In<Double>, _ targetStride: Int, _ opts: In<xent_options>, _ loss: Out<Double>, _ grad: Out<Double>,
  _ gradStride: Int, _ lse: Out<Double>, _ biasGrad: Out<Double>) -> xent_status {
  crossEntropy(logits, rows, cols, rowStride, .soft(Buffer(targets), stride: targetStride), opts, loss, grad,
               gradStride, lse, biasGrad)
}

@c @implementation
public func xent_logsumexp_f32(_ x: In<Float>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ out: Out<Float>) -> xent_status { rowFunction(.logSumExp, x, rows, cols, rowStride, out, rows) }

@c @implementation
public func xent_logsumexp_f64(_ x: In<Double>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ out: Out<Double>) -> xent_status { rowFunction(.logSumExp, x, rows, cols, rowStride, out, rows) }

@c @implementation
public func xent_softmax_f32(_ x: In<Float>, _ rows: Int, _ cols: Int, _ rowStride: Int, _ out: Out<Float>,
  _ outStride: Int) -> xent_status { rowFunction(.softmax, x, rows, cols, rowStride, out, outStride) }

@c @implementation
public func xent_softmax_f64(_ x: In<Double>, _ rows: Int, _ cols: Int, _ rowStride: Int, _ out: Out<Double>,
  _ outStride: Int) -> xent_status { rowFunction(.softmax, x, rows, cols, rowStride, out, outStride) }

@c @implementation
public func xent_log_softmax_f32(_ x: In<Float>, _ rows: Int, _ cols: Int, _ rowStride: Int, _ out: Out<Float>,
  _ outStride: Int) -> xent_status { rowFunction(.logSoftmax, x, rows, cols, rowStride, out, outStride) }

@c @implementation
public func xent_log_softmax_f64(_ x: In<Double>, _ rows: Int, _ cols: Int, _ rowStride: Int, _ out: Out<Double>,
  _ outStride: Int) -> xent_status { rowFunction(.logSoftmax, x, rows, cols, rowStride, out, outStride) }

// MARK: Generic helpers

@inline(__always)
private func crossEntropy<T: SoftmaxScalar>(
  _ logits: UnsafePointer<T>?, _ rows: Int, _ cols: Int, _ rowStride: Int, _ targets: Targets<T>,
  _ opts: UnsafePointer<xent_options>?, _ loss: UnsafeMutablePointer<T>?, _ grad: UnsafeMutablePointer<T>?,
  _ gradStride: Int, _ lse: UnsafeMutablePointer<T>?, _ bias: UnsafeMutablePointer<T>?
) -> xent_status {
  status { () throws(XentError) in
    let o = try decodeOptions(opts)
    try CrossEntropyCall(
      logits: Buffer(logits), layout: MatrixLayout(rows: rows, cols: cols, rowStride: rowStride),
      targets: targets, options: o.options, loss: Buffer(loss), grad: Buffer(grad),
      gradStride: gradStride, lse: Buffer(lse), bias: Buffer(bias), classWeights: o.buffers.classWeights,
      zLoss: o.buffers.zLoss
    ).run()
  }
}

@inline(__always)
private func rowFunction<T: SoftmaxScalar>(
  _ function: RowFunction, _ x: UnsafePointer<T>?, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ out: UnsafeMutablePointer<T>?, _ outStride: Int
) -> xent_status {
  status { () throws(XentError) in
    try RowFunctionCall(
      function, x: Buffer(x), layout: MatrixLayout(rows: rows, cols: cols, rowStride: rowStride),
      out: Buffer(out), outStride: outStride
    ).run()
  }
}

// MARK: bfloat16 (since 1.1.0)

@c @implementation
public func xent_cross_entropy_bf16(_ logits: In<UInt16>, _ rows: Int, _ cols: Int, _ rowStride: Int,
  _ labels: In<Int64>, _ opts: In<xent_options>, _ loss: Out<Float>, _ gradF32: Out<Float>, _ gradBF16: Out<UInt16>,
  _ gradStride: Int, _ lse: Out<Float>) -> xent_status {
  status { () throws(XentError) in
    let o = try decodeOptions(opts)
    try BFloat16CrossEntropyCall(
      logits: Buffer(logits), layout: MatrixLayout(rows: rows, cols: cols, rowStride: rowStride),
      labels: Buffer(labels), options: o.options, loss: Buffer(loss), gradient: Buffer(gradF32),
      gradientBFloat16: Buffer(gradBF16), gradStride: gradStride, lse: Buffer(lse),
      classWeights: o.buffers.classWeights, zLoss: o.buffers.zLoss
    ).run()
  }
}

