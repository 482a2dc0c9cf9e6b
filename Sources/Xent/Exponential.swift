#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Which vector `exp` the kernels use.
public enum Exponential: String, Sendable, Hashable {
  /// SLEEF's `exp…_u10` (≤ 1.0 ulp), a library call per vector (per two vectors in the AVX-512 build).
  /// The default and the reference.
  case sleef
  /// An inline polynomial (Cody–Waite reduction, Taylor series, no library call): < 1 ulp against
  /// the correctly rounded exp over every float in [−104, 89] (`make test-exp`). 0.47 ns per element
  /// per thread in a tight loop, against SLEEF's 0.56–0.78 at 256 bits and 0.30 at 512 bits: inside the
  /// kernels 1.02–1.18× the speed of `.sleef` in the AVX2 build, 0.86–0.98× on the large shapes in the
  /// AVX-512 build (measured on the project's machine, README).
  case fast

  /// `XENT_EXP=fast` in the environment selects `.fast` for every call that does not say otherwise
  /// (read once per process); anything else, or nothing, is `.sleef`.
  public static let environmentDefault: Exponential = {
    guard let v = getenv("XENT_EXP") else { return .sleef }
    return Exponential(rawValue: String(cString: v)) ?? .sleef
  }()
}

/// The exp choice (and whether logits are soft-capped) as a type, so each kernel specialization has
/// them as constants: the uncapped kernels carry no trace of the cap (measured: a run-time test per
/// vector cost 10–17%).
protocol VectorExponential {
  static var fast: Bool { get }
  static var capped: Bool { get }
}
enum SleefExponential: VectorExponential {
  static var fast: Bool { false }
  static var capped: Bool { false }
}
enum FastExponential: VectorExponential {
  static var fast: Bool { true }
  static var capped: Bool { false }
}
/// `Base`'s exp on soft-capped logits.
enum CappedExponential<Base: VectorExponential>: VectorExponential {
  static var fast: Bool { Base.fast }
  static var capped: Bool { true }
}

extension SoftmaxScalar {
  @inline(__always)
  static func exponential<E: VectorExponential>(_ v: _Vector, _: E.Type) -> _Vector {
    E.fast ? _fastExp(v) : _exp(v)
  }
  /// `exponential` of two vectors (one 512-bit SLEEF call in the AVX-512 build; the same values).
  @inline(__always)
  static func exponential2<E: VectorExponential>(_ a: _Vector, _ b: _Vector, _: E.Type) -> (_Vector, _Vector) {
    E.fast ? (_fastExp(a), _fastExp(b)) : _exp2(a, b)
  }
}
