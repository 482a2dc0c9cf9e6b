// Vector loads and stores over raw element pointers, with the padded tail that lets the same vector
// code handle any row length: the tail is read lane by lane into a vector pre-filled with a padding
// value and written back lane by lane, so no byte outside the row is ever read or written.

extension SoftmaxScalar {
  @inline(__always)
  static func load(_ p: UnsafePointer<Self>, _ i: Int) -> _Vector {
    UnsafeRawPointer(p + i).loadUnaligned(as: _Vector.self)
  }

  @inline(__always)
  static func store(_ v: _Vector, _ p: UnsafeMutablePointer<Self>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: _Vector.self)
  }

  /// Loads `count < lanes` elements from `p + i`; the other lanes hold `padding`.
  @inline(__always)
  static func loadPartial(_ p: UnsafePointer<Self>, _ i: Int, count: Int, padding: Self) -> _Vector {
    var v = _Vector(repeating: padding)
    for k in 0..<count { v[k] = p[i + k] }
    return v
  }

  /// Stores the first `count < lanes` lanes of `v` to `p + i`.
  @inline(__always)
  static func storePartial(_ v: _Vector, _ p: UnsafeMutablePointer<Self>, _ i: Int, count: Int) {
    for k in 0..<count { p[i + k] = v[k] }
  }

  /// The soft-capped logits `c·tanh(x/c)` (−inf kept), or `v` itself when `cap` is 0.
  @inline(__always)
  static func capped<E: VectorExponential>(_ v: _Vector, _ cap: Self, _: E.Type) -> _Vector {
    if !E.capped { return v }
    var d = v
    return _softCap(v, cap, derivative: &d)
  }

  /// A scalar logit soft-capped (through the vector function, so every path rounds alike), with its
  /// derivative.
  @inline(__always)
  static func capped(_ x: Self, _ cap: Self) -> (value: Self, derivative: Self) {
    if cap == 0 { return (x, 1) }
    var d = _Vector(repeating: 1)
    let v = _softCap(_Vector(repeating: x), cap, derivative: &d)
    return (v[0], d[0])
  }

  /// Running maximum that ignores NaN lanes of `v` (one `vmaxps`/`vmaxpd`); `m` is never NaN.
  @inline(__always)
  static func maxIgnoringNaN(_ m: _Vector, _ v: _Vector) -> _Vector {
    _max(m, v)
  }

  /// Horizontal maximum of the lanes (NaN lanes ignored). Once per block, never per element.
  @inline(__always)
  static func horizontalMax(_ v: _Vector) -> Self {
    var m = -Self.infinity
    for k in v.indices where v[k] > m { m = v[k] }
    return m
  }

  /// Horizontal sum of the lanes, in Double.
  @inline(__always)
  static func horizontalSumDouble(_ v: _Vector) -> Double {
    var s = 0.0
    for k in v.indices { s += Double(v[k]) }
    return s
  }
}
