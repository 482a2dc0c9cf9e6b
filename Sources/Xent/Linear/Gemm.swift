// The three GEMMs of the linear cross-entropy, through the system BLAS (_XentBLAS: cblas_sgemm /
// cblas_dgemm, row-major), on Xent's workers: the callers cut them into fixed pieces (tiles and columns of
// a row block, functions of the shape alone) and each worker runs the BLAS, single-threaded, on whole
// pieces. Every element is computed by BLAS calls whose operands do not depend on the thread count, so
// neither do the results.

internal import _XentBLAS

enum Gemm<T: SoftmaxScalar> {
  /// One BLAS call on the calling thread: C (m × n, leading dimension ldc) = op(A)·op(B) + beta·C,
  /// op(X) = Xᵀ where transposed; A is m × k (k × m stored when transposed), B is k × n (n × k stored
  /// when transposed); all row-major.
  @inline(__always)
  static func call(
    m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int, transposeA: Bool, b: UnsafePointer<T>, ldb: Int,
    transposeB: Bool, beta: T, c: UnsafeMutablePointer<T>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    if T.self == Float.self {
      xentblas_sgemm(
        transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1,
        UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), Int32(lda),
        UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), Int32(ldb), Float(beta),
        UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), Int32(ldc))
    } else {
      xentblas_dgemm(
        transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1,
        UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), Int32(lda),
        UnsafeRawPointer(b).assumingMemoryBound(to: Double.self), Int32(ldb), Double(beta),
        UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), Int32(ldc))
    }
  }
}
