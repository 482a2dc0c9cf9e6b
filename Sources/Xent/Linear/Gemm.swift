// The three GEMMs of the linear cross-entropy, through the system BLAS (_XentBLAS: cblas_sgemm /
// cblas_dgemm, row-major), on Xent's workers: C is cut into fixed pieces (rows or columns, a function of
// the shape alone) and each worker runs the BLAS, single-threaded, on whole pieces. Every element of C is
// computed by one BLAS call whose operands do not depend on the thread count, so neither do the results.

internal import _XentBLAS

/// How a GEMM's output is cut: into pieces of this many rows, or of this many columns.
enum GemmSplit {
  case rows(Int)
  case columns(Int)
}

enum Gemm<T: SoftmaxScalar> {
  /// C (m × n, leading dimension ldc) = op(A)·op(B) + beta·C, op(X) = Xᵀ where transposed; A is m × k
  /// (k × m stored when transposed), B is k × n (n × k stored when transposed); all row-major.
  static func product(
    m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int, transposeA: Bool, b: UnsafePointer<T>, ldb: Int,
    transposeB: Bool, beta: T, c: UnsafeMutablePointer<T>, ldc: Int, split: GemmSplit, threads: Int
  ) {
    switch split {
    case .rows(let piece):
      let count = (m + piece - 1) / piece
      forEachBlock(count: count, threads: threads) { p in
        let lo = p * piece, rows = min(piece, m - lo)
        // Rows lo..<lo+rows of op(A): A's rows, or A's columns when transposed.
        call(m: rows, n: n, k: k, a: transposeA ? a + lo : a + lo * lda, lda: lda, transposeA: transposeA,
             b: b, ldb: ldb, transposeB: transposeB, beta: beta, c: c + lo * ldc, ldc: ldc)
      }
    case .columns(let piece):
      let count = (n + piece - 1) / piece
      forEachBlock(count: count, threads: threads) { p in
        let lo = p * piece, cols = min(piece, n - lo)
        // Columns lo..<lo+cols of op(B): B's columns, or B's rows when transposed.
        call(m: m, n: cols, k: k, a: a, lda: lda, transposeA: transposeA,
             b: transposeB ? b + lo * ldb : b + lo, ldb: ldb, transposeB: transposeB, beta: beta, c: c + lo, ldc: ldc)
      }
    }
  }

  /// One BLAS call on the calling thread: C = op(A)·op(B) + beta·C (arguments as in `product`).
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
