// The inline exponential (`Exponential.fast`) is admitted only within SLEEF's own bound: ≤ 1 ulp
// from the true exp. A dense sample runs in every `swift test`; every float in [−104, 89] runs in
// release mode with XENT_EXHAUSTIVE_EXP=1 (`make test-exp`, part of `make test`), for both the inline
// function and SLEEF itself, on all cores.

import Dispatch
import Testing
import Xent

#if canImport(Glibc)
import Glibc
#endif

/// |got − exact| in ulps of the float nearest `exact` (subnormal ulp below the normal range).
func floatUlps(_ got: Float, _ exact: Double) -> Double {
  if got.isNaN && exact.isNaN { return 0 }
  if Double(got) == exact { return 0 }
  let r = Float(exact)
  if r.isInfinite { return got == r ? 0 : .infinity }
  let ulp = Double(max(r.magnitude.ulp, Float.leastNonzeroMagnitude))
  return abs(Double(got) - exact) / ulp
}

/// Worst error in ulps of `f` over the float bit patterns `lo...hi` taken every `step`.
func worstFloatError(_ lo: UInt32, _ hi: UInt32, step: UInt32, _ f: (SIMD8<Float>) -> SIMD8<Float>) -> (Double, Float) {
  var worst = 0.0, at: Float = 0
  var b = lo
  while b <= hi {
    var v = SIMD8<Float>()
    for k in 0..<8 { v[k] = Float(bitPattern: min(b &+ UInt32(k) &* step, hi)) }
    let r = f(v)
    for k in 0..<8 {
      let e = floatUlps(r[k], exp(Double(v[k])))
      if e > worst { worst = e; at = v[k] }
    }
    if hi - b < 8 &* step { break }
    b &+= 8 &* step
  }
  return (worst, at)
}

/// Float bit-pattern ranges covering [−104, 89]: [+0, 89] and [−0, −104].
let positiveRange: (UInt32, UInt32) = (0, Float(89).bitPattern)
let negativeRange: (UInt32, UInt32) = ((-Float(0)).bitPattern, Float(-104).bitPattern)

@Suite("Exponential")
struct ExpTests {
  @Test("Inline exp, dense sample: ≤ 1 ulp; special values")
  func floatSample() {
    for (lo, hi) in [positiveRange, negativeRange] {
      let (fast, at) = worstFloatError(lo, hi, step: 4099) { Float._fastExp($0) }
      #expect(fast <= 1, "inline exp: \(fast) ulp at \(at)")
      let (sleef, at2) = worstFloatError(lo, hi, step: 4099) { Float._exp($0) }
      #expect(sleef <= 1, "SLEEF exp: \(sleef) ulp at \(at2)")
    }
    let special = SIMD8<Float>(-.infinity, .infinity, .nan, 0, -200, 200, -104, 88.7)
    let r = Float._fastExp(special)
    #expect(r[0] == 0 && r[1] == .infinity && r[2].isNaN && r[3] == 1 && r[4] == 0 && r[5] == .infinity)
    #expect(r[6] == 0 && r[7].isFinite)
    let d = Double._fastExp(SIMD4(-.infinity, .infinity, .nan, 0))
    #expect(d[0] == 0 && d[1] == .infinity && d[2].isNaN && d[3] == 1)
  }

  @Test("Inline exp, Double: ≤ 1 ulp on a dense sample of [−745, 709]")
  func doubleSample() {
    var worst = 0.0
    let n = 400_000
    for i in stride(from: 0, to: n, by: 4) {
      var v = SIMD4<Double>()
      for k in 0..<4 { v[k] = -745 + 1454 * Double(i + k) / Double(n) + Double(k) * 1e-7 }
      let r = Double._fastExp(v)
      for k in 0..<4 {
        #if arch(x86_64)
        let exact = exp(Float80(v[k]))
        let ulp = Float80(max(Double(exact).magnitude.ulp, Double.leastNonzeroMagnitude))
        worst = max(worst, Double(abs(Float80(r[k]) - exact) / ulp))
        #endif
      }
    }
    #expect(worst <= 1, "\(worst) ulp")
  }

  @Test("Every float in [−104, 89] (XENT_EXHAUSTIVE_EXP=1, release)",
        .enabled(if: getenv("XENT_EXHAUSTIVE_EXP") != nil, "set XENT_EXHAUSTIVE_EXP=1 (make test-exp)"))
  func exhaustive() throws {
    // Slices of the two bit-pattern ranges, spread over all cores.
    let slices = 256
    let results = UnsafeMutableBufferPointer<(Double, Float, Double, Float)>.allocate(capacity: 2 * slices)
    defer { results.deallocate() }
    let shared = UncheckedBox(results)
    DispatchQueue.concurrentPerform(iterations: 2 * slices) { k in
      let (lo, hi) = k < slices ? positiveRange : negativeRange
      let s = UInt32(k % slices), width = (hi - lo) / UInt32(slices) + 1
      let a = lo + s * width, b = min(hi, a + width - 1)
      if a > hi { shared.value[k] = (0, 0, 0, 0); return }
      let fast = worstFloatError(a, b, step: 1) { Float._fastExp($0) }
      let sleef = worstFloatError(a, b, step: 1) { Float._exp($0) }
      shared.value[k] = (fast.0, fast.1, sleef.0, sleef.1)
    }
    let fast = results.max { $0.0 < $1.0 }!, sleef = results.max { $0.2 < $1.2 }!
    print("exhaustive exp over [−104, 89]: inline \(fast.0) ulp at \(fast.1), SLEEF \(sleef.2) ulp at \(sleef.3)")
    #expect(fast.0 <= 1, "inline exp: \(fast.0) ulp at \(fast.1)")
    #expect(sleef.2 <= 1, "SLEEF exp: \(sleef.2) ulp at \(sleef.3)")
  }
}

struct UncheckedBox<T>: @unchecked Sendable {
  let value: T
  init(_ v: T) { value = v }
}
