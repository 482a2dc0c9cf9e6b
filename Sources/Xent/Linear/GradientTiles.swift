// Step 3 of the linear cross-entropy's row block: the gradient G = ∂l/∂o formed column by column of the
// block from the rows' coefficients, and ∂l/∂W for each column while it is in cache.

/// Step 3 of a row block: G = ∂l/∂o from each row's coefficients (in place, or into the gradient region),
/// one column of statistics tiles at a time (`linearTileLength` classes), rows in order, so that the bias
/// gradient's sums add the rows in order; then, while that column of G is in cache, its classes' rows of
/// ∂l/∂W (+)= Gᵀ·H and its part of ∂l/∂H = G·W. The columns form `plan.hiddenGroups` fixed groups, one
/// task each, whose parts of ∂l/∂H are summed apart (the first in grad_hidden) and added in group order:
/// a fixed grid, so the results do not depend on the thread count.
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
    let plan = backward.plan, width = plan.tileLength, groups = plan.hiddenGroups
    let columns = (classes + width - 1) / width
    forEachBlock(count: groups, threads: plan.threads) { group in
      let part = group == 0 ? nil : partials + (group - 1) * rows * backward.dim
      for t in group * columns / groups..<(group + 1) * columns / groups {
        let c0 = t * width, nc = min(width, classes - c0)
        let bias = self.bias.map { $0 + c0 }
        for i in 0..<rows {
          coefficients[i].apply(
            logits + i * classes + c0, gradient + i * classes + c0, columns: c0..<c0 + nc, weights: weights,
            bias: bias, cap: cap, PlainStatistics<E>.self)
        }
        let g = UnsafePointer(gradient), cs = c0..<c0 + nc
        backward.weightGradient(g: g, rows: rows, start: start, columns: cs)
        backward.hiddenGradient(
          g: g, rows: rows, start: start, columns: cs, part: part, first: t == group * columns / groups)
      }
    }
    backward.addHiddenParts(partials, count: groups - 1, rows: rows, start: start, threads: plan.threads)
  }
}
