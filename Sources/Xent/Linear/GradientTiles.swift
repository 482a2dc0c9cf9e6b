// Step 3 of the linear cross-entropy's row block: the gradient G = ∂l/∂o formed column by column of the
// block from the rows' coefficients, and ∂l/∂W for each column while it is in cache.

/// Step 3 of a row block: G = ∂l/∂o from each row's coefficients (in place, or into the gradient region),
/// one column of statistics tiles at a time, rows in order (so that the bias gradient's sums add the rows
/// in order), each column multiplied out while it is in cache (`LinearBackward.byColumns`).
struct GradientTiles<T: SoftmaxScalar>: ExponentialSpecialized {
  let logits, gradient: UnsafeMutablePointer<T>
  let coefficients: UnsafePointer<GradientCoefficients<T>>
  let rows, start, classes: Int
  let weights: UnsafePointer<Double>?
  let bias: BiasSum?
  let cap: T
  let backward: LinearBackward<T>
  let partials: UnsafeMutablePointer<T>

  init(
    logits: UnsafeMutablePointer<T>, gradient: UnsafeMutablePointer<T>,
    coefficients: UnsafeMutablePointer<GradientCoefficients<T>>, rows: Int, start: Int, classes: Int,
    weights: UnsafePointer<Double>?, bias: BiasSum?, cap: T, backward: LinearBackward<T>,
    partials: UnsafeMutablePointer<T>
  ) {
    (self.logits, self.gradient, self.coefficients) = (logits, gradient, UnsafePointer(coefficients))
    (self.rows, self.start, self.classes, self.weights, self.bias) = (rows, start, classes, weights, bias)
    (self.cap, self.backward, self.partials) = (cap, backward, partials)
  }

  func run<E: VectorExponential>(_: E.Type) {
    backward.byColumns(g: UnsafePointer(gradient), rows: rows, start: start, partials: partials) { c0, nc in
      let bias = self.bias.map { $0 + c0 }
      for i in 0..<rows {
        coefficients[i].apply(
          logits + i * classes + c0, gradient + i * classes + c0, columns: c0..<c0 + nc, weights: weights, bias: bias,
          cap: cap, PlainStatistics<E>.self)
      }
    }
  }
}
