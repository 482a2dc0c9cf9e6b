// A batch computed as blocks of rows (the bfloat16 tiles, the linear cross-entropy's row blocks), each
// by the cross-entropy kernel with SUM reduction (NONE stays NONE) and the batch's denominators folded
// into its gradient scales. The blocks' loss sums come back unrounded (`lossTotal`) and are added in
// block order, then reduced and rounded once, so one block rounds exactly as one call on its rows does.

struct BlockedReduction<T: SoftmaxScalar> {
  /// The batch's options.
  let options: CrossEntropyOptions
  /// Each block's: SUM (or NONE), gradient scale over the batch's denominator, z-loss rescaled.
  private(set) var block: CrossEntropyOptions
  private let denominator: Double
  private let zDenominator: Double
  private var total = 0.0
  private var zTotal = 0.0

  /// `counts` from the batch's label scan; `weighted` when class weights are given.
  init(options: CrossEntropyOptions, counts: LabelCounts, weighted: Bool) {
    self.options = options
    let mean = options.reduction == .mean
    denominator = mean ? (weighted ? counts.weight : Double(counts.rows)) : 1
    // The z-loss is reduced over the counted rows, never weighted: its gradient keeps its own scale.
    zDenominator = mean ? Double(counts.rows) : 1
    block = options
    block.reduction = options.reduction == .none ? .none : .sum
    block.gradScale = denominator == 0 ? 0 : options.gradScale / denominator
  }

  /// The z-loss gradient's scale, as the unblocked kernel forms it.
  private var zGradScale: Double { zDenominator == 0 ? 0 : options.gradScale / zDenominator }

  /// Runs one block: `make(loss, zLoss)` builds its call (with `block` options) given where its reduced
  /// loss and z-loss go (use them for SUM; NONE writes the caller's rows); its sums are added.
  mutating func run(
    biasSum: BiasSum? = nil,
    _ make: (_ loss: UnsafeMutablePointer<T>, _ zLoss: UnsafeMutablePointer<Double>) -> CrossEntropyCall<T>
  ) {
    var sums = (loss: T(0), z: 0.0, total: 0.0)
    withUnsafeMutablePointer(to: &sums.loss) { loss in
      withUnsafeMutablePointer(to: &sums.z) { z in
        withUnsafeMutablePointer(to: &sums.total) { total in
          var call = make(loss, z)
          call.lossTotal = total
          call.zGradScale = zGradScale
          call.computeValidated(counted: LabelCounts(), biasSum: biasSum)
        }
      }
    }
    total += sums.total
    zTotal += sums.z
  }

  /// The batch's reduced loss and z-loss (nothing for NONE).
  func finish(loss: UnsafeMutablePointer<T>, zLoss: UnsafeMutablePointer<Double>?) {
    switch options.reduction {
    case .none: break
    case .sum:
      loss[0] = T(total)
      zLoss?[0] = zTotal
    case .mean:
      loss[0] = denominator == 0 ? 0 : T(total / denominator)
      zLoss?[0] = zDenominator == 0 ? 0 : zTotal / zDenominator
    }
  }
}
