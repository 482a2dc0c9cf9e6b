// The public Swift API of the per-row functions (eq. 1): log-sum-exp, softmax, log-softmax.
//
// Each reads a row once for its statistics (maximum and Σ exp(x − max), see RowStatistics.swift)
// and, for softmax and log-softmax, once more to write it.
//
// Error bounds (asserted by Tests/XentTests/SoftmaxTests.swift against a Float80 reference; every
// bound is stated in docs/numerics.md):
//   logSumExp absolute ≤ 2e-7·max(1, |lse|) (Float), 1e-15·max(1, |lse|) (Double);
//   softmax p absolute ≤ 4·(1 + |log p|)·ulp(p) + 4·leastNormal, both types: the exp is within 1 ulp,
//   1/Σ and the product round once each, and rounding x − max alone costs |log p|/2 ulp (the exp's
//   condition number is |x − max| ≈ |log p|);
//   logSoftmax absolute ≤ 2e-7·(1 + |value|) (Float), 1e-15·(1 + |value|) (Double).
// Special values: −inf entries give softmax 0 and logSoftmax −inf; an all −inf row gives lse −inf,
// softmax all 0 and logSoftmax all −inf; a NaN or +inf entry makes that row NaN.

/// Writes `log Σ_j exp(x_ij)` of every row to `out` (`rows` values).
public func logSumExp<T: SoftmaxScalar>(
  _ x: Span<T>, layout: MatrixLayout, into out: inout MutableSpan<T>, threads: Int = 0
) throws(XentError) {
  try rowFunction(.logSumExp, x, layout, &out, outputStride: nil, threads: threads)
}

/// `log Σ_j exp(x_ij)` of every row.
public func logSumExp<T: SoftmaxScalar>(_ x: Span<T>, layout: MatrixLayout, threads: Int = 0)
  throws(XentError) -> [T]
{
  _ = try Check.layout(layout, "x", T.self)
  var result = [T](repeating: 0, count: layout.rows)
  var out = result.mutableSpan
  try logSumExp(x, layout: layout, into: &out, threads: threads)
  _ = consume out
  return result
}

/// Writes `softmax(x_i)_j = exp(x_ij − lse_i)` to `out` (`rows × outputStride`, default stride `cols`).
public func softmax<T: SoftmaxScalar>(
  _ x: Span<T>, layout: MatrixLayout, into out: inout MutableSpan<T>, outputStride: Int? = nil,
  threads: Int = 0
) throws(XentError) {
  try rowFunction(.softmax, x, layout, &out, outputStride: outputStride, threads: threads)
}

/// The softmax of every row, as a contiguous `rows × cols` array.
public func softmax<T: SoftmaxScalar>(_ x: Span<T>, layout: MatrixLayout, threads: Int = 0)
  throws(XentError) -> [T]
{
  try rowFunctionArray(.softmax, x, layout, threads: threads)
}

/// Replaces every row of `x` by its softmax.
public func softmaxInPlace<T: SoftmaxScalar>(_ x: inout MutableSpan<T>, layout: MatrixLayout, threads: Int = 0)
  throws(XentError)
{
  try rowFunctionInPlace(.softmax, &x, layout, threads: threads)
}

/// Writes `logSoftmax(x_i)_j = x_ij − lse_i` to `out` (`rows × outputStride`, default stride `cols`),
/// evaluated as `(x_ij − max_i) − log Σ exp(x_i − max_i)`.
public func logSoftmax<T: SoftmaxScalar>(
  _ x: Span<T>, layout: MatrixLayout, into out: inout MutableSpan<T>, outputStride: Int? = nil,
  threads: Int = 0
) throws(XentError) {
  try rowFunction(.logSoftmax, x, layout, &out, outputStride: outputStride, threads: threads)
}

/// The log-softmax of every row, as a contiguous `rows × cols` array.
public func logSoftmax<T: SoftmaxScalar>(_ x: Span<T>, layout: MatrixLayout, threads: Int = 0)
  throws(XentError) -> [T]
{
  try rowFunctionArray(.logSoftmax, x, layout, threads: threads)
}

/// Replaces every row of `x` by its log-softmax.
public func logSoftmaxInPlace<T: SoftmaxScalar>(
  _ x: inout MutableSpan<T>, layout: MatrixLayout, threads: Int = 0
) throws(XentError) {
  try rowFunctionInPlace(.logSoftmax, &x, layout, threads: threads)
}

// MARK: Plumbing

private func rowFunction<T: SoftmaxScalar>(
  _ f: RowFunction, _ x: Span<T>, _ layout: MatrixLayout, _ out: inout MutableSpan<T>,
  outputStride: Int?, threads: Int
) throws(XentError) {
  try x.withUnsafeBufferPointer { (xb) throws(XentError) in
    try out.withUnsafeMutableBufferPointer { (ob) throws(XentError) in
      try RowFunctionCall(
        f, x: Buffer(required: xb), layout: layout, out: Buffer(required: ob),
        outStride: outputStride ?? layout.cols, threads: threads
      ).run()
    }
  }
}

private func rowFunctionArray<T: SoftmaxScalar>(
  _ f: RowFunction, _ x: Span<T>, _ layout: MatrixLayout, threads: Int
) throws(XentError) -> [T] {
  _ = try Check.layout(layout, "x", T.self)
  // rows·cols ≤ (rows − 1)·rowStride + cols, which the check bounded.
  var result = [T](repeating: 0, count: layout.rows * layout.cols)
  var out = result.mutableSpan
  try rowFunction(f, x, layout, &out, outputStride: layout.cols, threads: threads)
  _ = consume out
  return result
}

private func rowFunctionInPlace<T: SoftmaxScalar>(
  _ f: RowFunction, _ x: inout MutableSpan<T>, _ layout: MatrixLayout, threads: Int
) throws(XentError) {
  try x.withUnsafeMutableBufferPointer { (xb) throws(XentError) in
    try RowFunctionCall(
      f, x: Buffer(required: xb), layout: layout, out: Buffer(required: xb), outStride: layout.rowStride,
      threads: threads
    ).run()
  }
}
