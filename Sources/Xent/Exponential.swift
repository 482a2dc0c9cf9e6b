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
  /// the correctly rounded exp over every float in [−104, 89] (`make test-exp`). Faster than `.sleef`
  /// where SLEEF's vector call is the bottleneck (AVX2 builds), not in AVX-512 builds, whose 512-bit
  /// SLEEF call serves two vectors (docs/performance.md).
  case fast

  /// `XENT_EXP=fast` in the environment selects `.fast` for every call that does not say otherwise
  /// (read once per process); anything else, or nothing, is `.sleef`.
  public static let environmentDefault: Exponential = {
    guard let v = getenv("XENT_EXP") else { return .sleef }
    return Exponential(rawValue: String(cString: v)) ?? .sleef
  }()
}

/// The exp choice (and whether logits are soft-capped) as a type, so each kernel specialization has
/// them as constants: the uncapped kernels carry no trace of the cap (a run-time test per vector is
/// measurably slower).
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

/// A computation to specialize for the call's exp and soft cap: `run` is called once, with the
/// `VectorExponential` type that names both (the one place the four combinations are spelled out).
protocol ExponentialSpecialized {
  func run<E: VectorExponential>(_: E.Type)
}

extension Exponential {
  /// Runs `body` specialized for this exp, on soft-capped logits when `capped`.
  @inline(__always)
  func specialize<B: ExponentialSpecialized>(capped: Bool, _ body: B) {
    switch (self, capped) {
    case (.sleef, false): body.run(SleefExponential.self)
    case (.fast, false): body.run(FastExponential.self)
    case (.sleef, true): body.run(CappedExponential<SleefExponential>.self)
    case (.fast, true): body.run(CappedExponential<FastExponential>.self)
    }
  }
}
