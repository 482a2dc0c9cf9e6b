// The second pass over a row: everything that is written per element (gradient, softmax,
// log-softmax), from the row's statistics. Same vector code for the tail, with a partial store.

extension SoftmaxScalar {
  /// Writes `g = f·exp(x − ref) − (a·y + c)` (soft) or `g = f·exp(x − ref) − c` (hard) to `grad`
  /// (if non-nil) and adds it to `bias` (if non-nil). `grad` may be `x` (in place: each vector is read
  /// before it is overwritten).
  ///
  /// Evaluation order: exp(x − ref) is one SLEEF call (≤ 1 ulp); the product with f (= scale·Σt / Σexp,
  /// formed in Double and rounded once) and the subtraction round once each.
  @inline(__always)
  static func gradientRow<M: StatisticsMode>(
    _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>?, count n: Int, ref: Self,
    f: Self, a: Self, c: Self,
    grad: UnsafeMutablePointer<Self>?, bias: UnsafeMutablePointer<Self>?, _: M.Type
  ) {
    let w = _lanes
    let r = _Vector(repeating: ref), fv = _Vector(repeating: f)
    let av = _Vector(repeating: a), cv = _Vector(repeating: c)
    @inline(__always) func value(_ v: _Vector, _ t: _Vector) -> _Vector {
      let p = _exp(v - r) * fv
      return M.soft ? p - (av * t + cv) : p - cv
    }
    var i = 0
    while i + w <= n {
      let g = value(load(x, i), M.soft ? load(y!, i) : cv)
      if let grad { store(g, grad, i) }
      if let bias { store(load(UnsafePointer(bias), i) + g, bias, i) }
      i += w
    }
    if i < n {
      let k = n - i
      let g = value(loadPartial(x, i, count: k, padding: 0), M.soft ? loadPartial(y!, i, count: k, padding: 0) : cv)
      if let grad { storePartial(g, grad, i, count: k) }
      if let bias { storePartial(loadPartial(UnsafePointer(bias), i, count: k, padding: 0) + g, bias, i, count: k) }
    }
  }

  /// Writes `exp(x − ref)·f` (softmax with f = 1/Σexp) or `(x − ref) − logSum` (log-softmax).
  /// `out` may be `x` (in place).
  @inline(__always)
  static func softmaxRow(
    _ x: UnsafePointer<Self>, count n: Int, ref: Self, scale f: Self, log logSum: Self?,
    out: UnsafeMutablePointer<Self>
  ) {
    let w = _lanes
    let r = _Vector(repeating: ref), fv = _Vector(repeating: f)
    let lv = _Vector(repeating: logSum ?? 0)
    @inline(__always) func value(_ v: _Vector) -> _Vector {
      // log-softmax: (x − ref) is exact when x is near the maximum (Sterbenz), then one rounding.
      logSum != nil ? (v - r) - lv : _exp(v - r) * fv
    }
    var i = 0
    while i + w <= n {
      store(value(load(x, i)), out, i)
      i += w
    }
    if i < n {
      storePartial(value(loadPartial(x, i, count: n - i, padding: 0)), out, i, count: n - i)
    }
  }

  /// Sets `n` elements to zero.
  @inline(__always)
  static func zeroRow(_ p: UnsafeMutablePointer<Self>, count n: Int) {
    p.update(repeating: 0, count: n)
  }
}
