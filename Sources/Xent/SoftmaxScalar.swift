internal import _XentShims

/// A floating-point type that Xent's kernels support: `Float` (8 lanes, `SIMD8<Float>`) and `Double`
/// (4 lanes, `SIMD4<Double>`).
///
/// The underscored requirements are the kernels' vector primitives. They are implementation details,
/// public only because protocol requirements must be; do not conform other types.
public protocol SoftmaxScalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable {
  /// The kernel's vector type (one AVX2 register in the AVX2 build).
  associatedtype _Vector: SIMD where _Vector.Scalar == Self
  /// Lane-wise `exp(x)`, SLEEF's 1.0-ulp function for this build's ISA.
  static func _exp(_ x: _Vector) -> _Vector
  /// `_exp` of two vectors: one 512-bit SLEEF call in the AVX-512 build (the same bits), two calls otherwise.
  static func _exp2(_ a: _Vector, _ b: _Vector) -> (_Vector, _Vector)
  /// Lane-wise `log(x)`, SLEEF's 1.0-ulp function for this build's ISA.
  static func _log(_ x: _Vector) -> _Vector
  /// `_log` of two vectors: one 512-bit SLEEF call in the AVX-512 build (the same bits), two calls otherwise.
  static func _log2(_ a: _Vector, _ b: _Vector) -> (_Vector, _Vector)
  /// Lane-wise `exp(x)`, the inline polynomial (no library call; < 1 ulp, see the shim).
  static func _fastExp(_ x: _Vector) -> _Vector
  /// Lane-wise soft cap `c·tanh(x/c)` (−inf kept), its derivative `1 − tanh²(x/c)` in `derivative`.
  static func _softCap(_ x: _Vector, _ c: Self, derivative: inout _Vector) -> _Vector
  /// Running maximum, lane-wise: `v` where `v > m`, else `m` (a NaN lane of `v` is ignored; `m` is
  /// never NaN: it starts at −inf and only takes values of `v`).
  static func _max(_ a: _Vector, _ b: _Vector) -> _Vector
  /// Lane-wise `t·d`, exactly 0 where `t == 0` (also where d = ±inf or NaN).
  static func _weighted(_ t: _Vector, _ d: _Vector) -> _Vector
  /// One integer lane per vector lane (class indices in the rows-in-lanes kernel).
  associatedtype _Labels: SIMD where _Labels.Scalar: FixedWidthInteger & SignedInteger
  /// `p[0], p[s], …, p[(lanes − 1)·s]`.
  static func _gather(_ p: UnsafePointer<Self>, stride s: Int) -> _Vector
  /// Stores lane k to `p[k·s]`.
  static func _scatter(_ v: _Vector, _ p: UnsafeMutablePointer<Self>, stride s: Int)
  /// The `lanes` rows at `x` (row stride `s`) of `n ≤ smallClassLimit` columns as `n` column vectors:
  /// `columns[j] = _gather(x + j, stride: s)`.
  static func _loadColumns(_ x: UnsafePointer<Self>, stride s: Int, count n: Int, into columns: UnsafeMutablePointer<_Vector>)
  /// The inverse: `_scatter(columns[j], g + j, stride: s)` for `j < n`.
  static func _storeColumns(_ columns: UnsafePointer<_Vector>, _ g: UnsafeMutablePointer<Self>, stride s: Int, count n: Int)
  /// `m`, with −inf lanes replaced by 0.
  static func _reference(_ m: _Vector) -> _Vector
  /// `n / d`, 0 where `d == 0`.
  static func _divideOrZero(_ n: _Vector, _ d: _Vector) -> _Vector
  /// `a` where `labels == j`, else 0.
  static func _onehot(_ labels: _Labels, _ j: Int, _ a: Self) -> _Vector
  /// The classes of `lanes` rows from their labels (validated): the label, or −1 where it is `ignore`;
  /// `live` gets 1 in counted lanes, 0 in ignored ones.
  static func _classes(_ labels: UnsafePointer<Int64>, ignore: Int64, live: inout _Vector) -> _Labels
  /// `column` where `classes == j`, else `acc`.
  static func _pick(_ classes: _Labels, _ j: Int, _ column: _Vector, _ acc: _Vector) -> _Vector
  /// The rows-in-lanes kernel's row losses (see the shim): each written to `rowLoss[k]` if non-nil, their
  /// sum (in lane order) returned.
  static func _groupLoss(
    ref: _Vector, label: _Vector, logSum: _Vector, sum: _Vector, live: _Vector, sumX: _Vector,
    epsilon: Double, smoothing: Bool, cols: Int, rowLoss: UnsafeMutablePointer<Self>?
  ) -> Double
  /// The lanes added into 4 Double lanes (Float: lane k + lane k + 4, widened, one rounding in
  /// Double; Double: the vector itself).
  static func _widenedSum(_ v: _Vector) -> SIMD4<Double>
  /// `p[k] += Double(v[k])` for every lane (the bias gradient's running sum; `p` need not be aligned),
  /// and, when `errors` is non-nil, `errors[k] +=` the rounding error of that addition (TwoSum; used by
  /// Double, whose additions are not exact).
  static func _accumulate(_ v: _Vector, into p: UnsafeMutablePointer<Double>, errors: UnsafeMutablePointer<Double>?)
  /// Number of lanes of `_Vector`.
  static var _lanes: Int { get }
}

extension Float: SoftmaxScalar {
  public typealias _Vector = SIMD8<Float>
  @inline(__always) public static func _exp(_ x: SIMD8<Float>) -> SIMD8<Float> { xentshim_exp_f32x8(x) }
  @inline(__always) public static func _exp2(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
    pairedCall(a, b, xentshim_exp2_f32x8)
  }
  @inline(__always) public static func _log(_ x: SIMD8<Float>) -> SIMD8<Float> { xentshim_log_f32x8(x) }
  @inline(__always) public static func _log2(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
    pairedCall(a, b, xentshim_log2_f32x8)
  }
  @inline(__always) public static func _fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> { xentshim_fast_exp_f32x8(x) }
  @inline(__always) public static func _softCap(_ x: SIMD8<Float>, _ c: Float, derivative: inout SIMD8<Float>)
    -> SIMD8<Float>
  {
    withUnsafeMutableBytes(of: &derivative) { xentshim_soft_cap_f32x8(x, c, $0.baseAddress) }
  }
  @inline(__always) public static func _max(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { xentshim_max_f32x8(a, b) }
  @inline(__always) public static func _weighted(_ t: SIMD8<Float>, _ d: SIMD8<Float>) -> SIMD8<Float> {
    xentshim_weighted_f32x8(t, d)
  }
  public typealias _Labels = SIMD8<Int32>
  @inline(__always) public static func _widenedSum(_ v: SIMD8<Float>) -> SIMD4<Double> { xentshim_widened_sum_f32x8(v) }
  @inline(__always) public static func _accumulate(
    _ v: SIMD8<Float>, into p: UnsafeMutablePointer<Double>, errors: UnsafeMutablePointer<Double>?
  ) {
    xentshim_accumulate_f32x8(p, v)  // exact in Double: no error terms
  }
  @inline(__always) public static func _gather(_ p: UnsafePointer<Float>, stride s: Int) -> SIMD8<Float> {
    xentshim_gather_f32x8(p, s)
  }
  @inline(__always) public static func _scatter(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, stride s: Int) {
    xentshim_scatter_f32x8(p, s, v)
  }
  @inline(__always) public static func _loadColumns(
    _ x: UnsafePointer<Float>, stride s: Int, count n: Int, into columns: UnsafeMutablePointer<SIMD8<Float>>
  ) {
    if n >= 8 && n <= 16 { return xentshim_load_columns_f32x8(x, s, n, UnsafeMutableRawPointer(columns)) }  // two 8×8 transposes
    if n > 16 {
      return forEachColumnBlock(n) { xentshim_load_columns_f32x8(x + $0, s, 16, UnsafeMutableRawPointer(columns + $0)) }
    }
    for j in 0..<n { columns[j] = xentshim_gather_f32x8(x + j, s) }
  }
  @inline(__always) public static func _storeColumns(
    _ columns: UnsafePointer<SIMD8<Float>>, _ g: UnsafeMutablePointer<Float>, stride s: Int, count n: Int
  ) {
    if n >= 8 && n <= 16 { return xentshim_store_columns_f32x8(g, s, n, UnsafeRawPointer(columns)) }
    if n > 16 {
      return forEachColumnBlock(n) { xentshim_store_columns_f32x8(g + $0, s, 16, UnsafeRawPointer(columns + $0)) }
    }
    for j in 0..<n { xentshim_scatter_f32x8(g + j, s, columns[j]) }
  }
  @inline(__always) public static func _reference(_ m: SIMD8<Float>) -> SIMD8<Float> { xentshim_reference_f32x8(m) }
  @inline(__always) public static func _divideOrZero(_ n: SIMD8<Float>, _ d: SIMD8<Float>) -> SIMD8<Float> {
    xentshim_divide_or_zero_f32x8(n, d)
  }
  @inline(__always) public static func _onehot(_ labels: SIMD8<Int32>, _ j: Int, _ a: Float) -> SIMD8<Float> {
    xentshim_onehot_f32x8(labels, Int32(truncatingIfNeeded: j), a)
  }
  @inline(__always) public static func _classes(_ labels: UnsafePointer<Int64>, ignore: Int64, live: inout SIMD8<Float>)
    -> SIMD8<Int32>
  {
    withUnsafeMutableBytes(of: &live) { xentshim_classes_f32x8(labels, ignore, $0.baseAddress) }
  }
  @inline(__always) public static func _pick(_ classes: SIMD8<Int32>, _ j: Int, _ column: SIMD8<Float>, _ acc: SIMD8<Float>)
    -> SIMD8<Float>
  {
    xentshim_pick_f32x8(classes, Int32(truncatingIfNeeded: j), column, acc)
  }
  @inline(__always) public static func _groupLoss(
    ref: SIMD8<Float>, label: SIMD8<Float>, logSum: SIMD8<Float>, sum: SIMD8<Float>, live: SIMD8<Float>,
    sumX: SIMD8<Float>, epsilon: Double, smoothing: Bool, cols: Int, rowLoss: UnsafeMutablePointer<Float>?
  ) -> Double {
    xentshim_group_loss_f32x8(ref, label, logSum, sum, live, sumX, epsilon, smoothing ? 1 : 0, Double(cols), rowLoss)
  }
  @inline(__always) public static var _lanes: Int { 8 }
}

extension Double: SoftmaxScalar {
  public typealias _Vector = SIMD4<Double>
  @inline(__always) public static func _exp(_ x: SIMD4<Double>) -> SIMD4<Double> { xentshim_exp_f64x4(x) }
  @inline(__always) public static func _exp2(_ a: SIMD4<Double>, _ b: SIMD4<Double>) -> (SIMD4<Double>, SIMD4<Double>) {
    pairedCall(a, b, xentshim_exp2_f64x4)
  }
  @inline(__always) public static func _log(_ x: SIMD4<Double>) -> SIMD4<Double> { xentshim_log_f64x4(x) }
  @inline(__always) public static func _log2(_ a: SIMD4<Double>, _ b: SIMD4<Double>) -> (SIMD4<Double>, SIMD4<Double>) {
    pairedCall(a, b, xentshim_log2_f64x4)
  }
  @inline(__always) public static func _fastExp(_ x: SIMD4<Double>) -> SIMD4<Double> { xentshim_fast_exp_f64x4(x) }
  @inline(__always) public static func _softCap(_ x: SIMD4<Double>, _ c: Double, derivative: inout SIMD4<Double>)
    -> SIMD4<Double>
  {
    withUnsafeMutableBytes(of: &derivative) { xentshim_soft_cap_f64x4(x, c, $0.baseAddress) }
  }
  @inline(__always) public static func _max(_ a: SIMD4<Double>, _ b: SIMD4<Double>) -> SIMD4<Double> { xentshim_max_f64x4(a, b) }
  @inline(__always) public static func _weighted(_ t: SIMD4<Double>, _ d: SIMD4<Double>) -> SIMD4<Double> {
    xentshim_weighted_f64x4(t, d)
  }
  public typealias _Labels = SIMD4<Int64>
  @inline(__always) public static func _widenedSum(_ v: SIMD4<Double>) -> SIMD4<Double> { v }
  @inline(__always) public static func _accumulate(
    _ v: SIMD4<Double>, into p: UnsafeMutablePointer<Double>, errors: UnsafeMutablePointer<Double>?
  ) {
    let (s, err) = twoSum(load(p, 0), v)
    if let errors { store(load(errors, 0) + err, errors, 0) }
    store(s, p, 0)
  }
  @inline(__always) public static func _gather(_ p: UnsafePointer<Double>, stride s: Int) -> SIMD4<Double> {
    xentshim_gather_f64x4(p, s)
  }
  @inline(__always) public static func _scatter(_ v: SIMD4<Double>, _ p: UnsafeMutablePointer<Double>, stride s: Int) {
    xentshim_scatter_f64x4(p, s, v)
  }
  @inline(__always) public static func _loadColumns(
    _ x: UnsafePointer<Double>, stride s: Int, count n: Int, into columns: UnsafeMutablePointer<SIMD4<Double>>
  ) {
    for j in 0..<n { columns[j] = xentshim_gather_f64x4(x + j, s) }
  }
  @inline(__always) public static func _storeColumns(
    _ columns: UnsafePointer<SIMD4<Double>>, _ g: UnsafeMutablePointer<Double>, stride s: Int, count n: Int
  ) {
    for j in 0..<n { xentshim_scatter_f64x4(g + j, s, columns[j]) }
  }
  @inline(__always) public static func _reference(_ m: SIMD4<Double>) -> SIMD4<Double> { xentshim_reference_f64x4(m) }
  @inline(__always) public static func _divideOrZero(_ n: SIMD4<Double>, _ d: SIMD4<Double>) -> SIMD4<Double> {
    xentshim_divide_or_zero_f64x4(n, d)
  }
  @inline(__always) public static func _onehot(_ labels: SIMD4<Int64>, _ j: Int, _ a: Double) -> SIMD4<Double> {
    xentshim_onehot_f64x4(labels, Int64(j), a)
  }
  @inline(__always) public static func _classes(_ labels: UnsafePointer<Int64>, ignore: Int64, live: inout SIMD4<Double>)
    -> SIMD4<Int64>
  {
    withUnsafeMutableBytes(of: &live) { xentshim_classes_f64x4(labels, ignore, $0.baseAddress) }
  }
  @inline(__always) public static func _pick(_ classes: SIMD4<Int64>, _ j: Int, _ column: SIMD4<Double>, _ acc: SIMD4<Double>)
    -> SIMD4<Double>
  {
    xentshim_pick_f64x4(classes, Int64(j), column, acc)
  }
  @inline(__always) public static func _groupLoss(
    ref: SIMD4<Double>, label: SIMD4<Double>, logSum: SIMD4<Double>, sum: SIMD4<Double>, live: SIMD4<Double>,
    sumX: SIMD4<Double>, epsilon: Double, smoothing: Bool, cols: Int, rowLoss: UnsafeMutablePointer<Double>?
  ) -> Double {
    xentshim_group_loss_f64x4(ref, label, logSum, sum, live, sumX, epsilon, smoothing ? 1 : 0, Double(cols), rowLoss)
  }
  @inline(__always) public static var _lanes: Int { 4 }
}

/// Runs a shim function that takes two vectors and writes two results through untyped pointers (the
/// paired exp and log: Swift's vectors are only 16-byte aligned, so the shim stores with memcpy).
@inline(__always) func pairedCall<V: SIMD>(
  _ a: V, _ b: V, _ f: (V, V, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void
) -> (V, V) {
  var ra = V(), rb = V()
  withUnsafeMutableBytes(of: &ra) { pa in
    withUnsafeMutableBytes(of: &rb) { pb in f(a, b, pa.baseAddress, pb.baseAddress) }
  }
  return (ra, rb)
}

/// Calls `body` with the first column of each 16-column block covering `n > 16` columns, the last block
/// ending at column `n` (it repeats some columns of the one before: the same values, loaded or stored
/// twice).
@inline(__always) func forEachColumnBlock(_ n: Int, _ body: (Int) -> Void) {
  var b = 0
  while b < n {
    body(Swift.min(b, n - 16))
    b += 16
  }
}

/// Scalar exp/log in Double: the C library's, through the shim (once per row or per block, never per
/// element).
@inline(__always) func scalarExp(_ x: Double) -> Double { xentshim_exp_f64(x) }
@inline(__always) func scalarLog(_ x: Double) -> Double { xentshim_log_f64(x) }

/// The vector path compiled into this build: `"avx512"` (built with `-Xcc -march=x86-64-v4`), `"avx2"`
/// (built with `-Xcc -march=x86-64-v3`), `"sse2"` (portable x86-64), or `"neon"` (aarch64).
public var isa: String { String(cString: xentshim_isa_name()) }

/// Whether the CPU running this process can run the AVX2+FMA build (x86-64 only).
public var cpuSupportsAVX2: Bool { xentshim_cpu_has_avx2_fma() != 0 }

/// Whether the CPU running this process can run the AVX-512 (x86-64-v4) build (x86-64 only).
public var cpuSupportsAVX512: Bool { xentshim_cpu_has_avx512() != 0 }

/// `isa` as a static C string (for the C ABI).
package var isaCString: UnsafePointer<CChar> { xentshim_isa_name() }
