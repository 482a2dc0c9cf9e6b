// The output pass over a row: everything written per element (gradient, softmax, log-softmax),
// from the row's statistics. Same vector code for the tail, with a partial store.

extension SoftmaxScalar {
  /// Writes `g = f·exp(x − ref) − (a·y + c)` (soft) or `g = f·exp(x − ref) − c` (hard) to `grad`
  /// (if non-nil) and adds it to the running sum `bias` (if non-nil). `grad` may be `x` (in place: each
  /// vector is read before it is overwritten).
  ///
  /// Evaluation order: exp(x − ref) is one SLEEF call (≤ 1 ulp); the product with f (= scale·Σt / Σexp,
  /// formed in Double and rounded once) and the subtraction round once each.
  @inline(__always)
  static func gradientRow<M: StatisticsMode>(
    _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>?, count n: Int, ref: Self,
    f: Self, a: Self, c: Self,
    grad: UnsafeMutablePointer<Self>?, bias: BiasSum?, cap: Self = 0, _: M.Type
  ) {
    let w = _lanes
    let r = _Vector(repeating: ref), fv = _Vector(repeating: f)
    let av = _Vector(repeating: a), cv = _Vector(repeating: c)
    @inline(__always) func value(_ x: _Vector, _ t: _Vector) -> _Vector {
      // With a soft cap, the chain rule: ∂/∂x = ∂/∂x' · (1 − tanh²(x/c)).
      var derivative = x
      let v = M.Exp.capped ? _softCap(x, cap, derivative: &derivative) : x
      let p = exponential(v - r, M.Exp.self) * fv
      let g = M.soft ? p - (av * t + cv) : p - cv
      return M.Exp.capped ? g * derivative : g
    }
    // The same for two vectors, their exps in one call where the ISA has a double-width exp.
    @inline(__always) func values(_ x0: _Vector, _ x1: _Vector, _ t0: _Vector, _ t1: _Vector) -> (_Vector, _Vector) {
      var d0 = x0, d1 = x1
      let v0 = M.Exp.capped ? _softCap(x0, cap, derivative: &d0) : x0
      let v1 = M.Exp.capped ? _softCap(x1, cap, derivative: &d1) : x1
      let (e0, e1) = exponential2(v0 - r, v1 - r, M.Exp.self)
      let p0 = e0 * fv, p1 = e1 * fv
      let g0 = M.soft ? p0 - (av * t0 + cv) : p0 - cv, g1 = M.soft ? p1 - (av * t1 + cv) : p1 - cv
      return M.Exp.capped ? (g0 * d0, g1 * d1) : (g0, g1)
    }
    var i = 0
    while i + 2 * w <= n {
      let (g0, g1) = values(load(x, i), load(x, i + w), M.soft ? load(y!, i) : cv, M.soft ? load(y!, i + w) : cv)
      if let grad {
        store(g0, grad, i)
        store(g1, grad, i + w)
      }
      if let bias {
        bias.add(g0, at: i, Self.self)
        bias.add(g1, at: i + w, Self.self)
      }
      i += 2 * w
    }
    while i + w <= n {
      let g = value(load(x, i), M.soft ? load(y!, i) : cv)
      if let grad { store(g, grad, i) }
      if let bias { bias.add(g, at: i, Self.self) }
      i += w
    }
    if i < n {
      let k = n - i
      let g = value(loadPartial(x, i, count: k, padding: 0), M.soft ? loadPartial(y!, i, count: k, padding: 0) : cv)
      if let grad { storePartial(g, grad, i, count: k) }
      if let bias { bias.add(g, at: i, count: k, Self.self) }
    }
  }

  /// Turns the stored `e = exp(x − ref)` of a row into the gradient, in place:
  /// `g = f·e − (a·y + c)` (soft) or `g = f·e − c` (hard), and adds it to the running sum `bias` (if
  /// non-nil).
  @inline(__always)
  static func gradientFromExp<M: StatisticsMode>(
    _ g: UnsafeMutablePointer<Self>, _ y: UnsafePointer<Self>?, count n: Int, f: Self, a: Self, c: Self,
    bias: BiasSum?, _: M.Type
  ) {
    let w = _lanes
    let fv = _Vector(repeating: f), av = _Vector(repeating: a), cv = _Vector(repeating: c)
    @inline(__always) func value(_ e: _Vector, _ t: _Vector) -> _Vector {
      M.soft ? e * fv - (av * t + cv) : e * fv - cv
    }
    let e0 = UnsafePointer(g)
    var i = 0
    if let bias {
      while i + w <= n {
        let v = value(load(e0, i), M.soft ? load(y!, i) : cv)
        store(v, g, i)
        bias.add(v, at: i, Self.self)
        i += w
      }
    } else {
      // No bias: 4 independent vectors per step (the common case; one loop-carried branch less).
      while i + 4 * w <= n {
        let v0 = value(load(e0, i), M.soft ? load(y!, i) : cv)
        let v1 = value(load(e0, i + w), M.soft ? load(y!, i + w) : cv)
        let v2 = value(load(e0, i + 2 * w), M.soft ? load(y!, i + 2 * w) : cv)
        let v3 = value(load(e0, i + 3 * w), M.soft ? load(y!, i + 3 * w) : cv)
        store(v0, g, i)
        store(v1, g, i + w)
        store(v2, g, i + 2 * w)
        store(v3, g, i + 3 * w)
        i += 4 * w
      }
      while i + w <= n {
        store(value(load(e0, i), M.soft ? load(y!, i) : cv), g, i)
        i += w
      }
    }
    if i < n {
      let k = n - i
      let v = value(loadPartial(e0, i, count: k, padding: 0), M.soft ? loadPartial(y!, i, count: k, padding: 0) : cv)
      storePartial(v, g, i, count: k)
      if let bias { bias.add(v, at: i, count: k, Self.self) }
    }
  }

  /// Multiplies `n` elements in place by `f` (softmax from stored exps).
  @inline(__always)
  static func scaleRow(_ p: UnsafeMutablePointer<Self>, count n: Int, by f: Self) {
    let w = _lanes
    let fv = _Vector(repeating: f)
    var i = 0
    while i + w <= n {
      store(load(UnsafePointer(p), i) * fv, p, i)
      i += w
    }
    if i < n { storePartial(loadPartial(UnsafePointer(p), i, count: n - i, padding: 0) * fv, p, i, count: n - i) }
  }

  /// Writes the log-softmax `(x − ref) − logSum` of a row; `out` may be `x` (in place).
  /// (x − ref) is exact when x is near the maximum (Sterbenz), then one rounding.
  @inline(__always)
  static func logSoftmaxRow(
    _ x: UnsafePointer<Self>, count n: Int, ref: Self, logSum: Self, out: UnsafeMutablePointer<Self>
  ) {
    let w = _lanes
    let r = _Vector(repeating: ref), lv = _Vector(repeating: logSum)
    var i = 0
    while i + w <= n {
      store((load(x, i) - r) - lv, out, i)
      i += w
    }
    if i < n {
      storePartial((loadPartial(x, i, count: n - i, padding: 0) - r) - lv, out, i, count: n - i)
    }
  }

  /// Sets `n` elements to zero.
  @inline(__always)
  static func zeroRow(_ p: UnsafeMutablePointer<Self>, count n: Int) {
    p.update(repeating: 0, count: n)
  }
}
