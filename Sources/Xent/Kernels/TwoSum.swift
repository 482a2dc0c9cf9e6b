// TwoSum (Knuth): the rounded sum s = a + b and its rounding error e, with a + b = s + e exactly, for any
// magnitudes and without branches (six additions). The kernels' compensated sums keep e.

/// `(a + b, the rounding error of that addition)`, lane-wise.
@inline(__always)
func twoSum<V: SIMD>(_ a: V, _ b: V) -> (sum: V, error: V) where V.Scalar: FloatingPoint {
  let s = a + b
  let tail = s - a
  return (s, (a - (s - tail)) + (b - tail))
}

/// `(a + b, the rounding error of that addition)`.
@inline(__always)
func twoSum<F: FloatingPoint>(_ a: F, _ b: F) -> (sum: F, error: F) {
  let s = a + b
  let tail = s - a
  return (s, (a - (s - tail)) + (b - tail))
}
