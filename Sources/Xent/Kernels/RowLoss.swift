// The loss of one row from its statistics: the one formula behind the fused kernel, the sharded
// finalize and (lane-wise, in the shim's xentshim_group_loss_*) the rows-in-lanes kernel; a test holds
// the lane-wise form to this one bit for bit (RowLossTests).
//
// With lse = ref + log Σexp and the target t = (1 − ε)·(w·onehot or y) + ε·(uniform or w/cols):
//
//     hard label:  (1 − ε)·w·((ref − x_label) + log Σexp)        (the difference first: exact near max)
//     soft:        (1 − ε)·((Σy)·log Σexp − Σ y(x − ref))
//     smoothing:   ε·(log Σexp − mean(x − ref))                    uniform
//                  ε·((Σw)·log Σexp / cols − mean(w(x − ref)))    class-weighted
//
// Special values: Σexp NaN (a NaN or +inf logit) gives NaN whatever the targets; Σexp = 0 (every logit
// −inf) gives +inf when any target weight is positive, else 0. A zero weight (class weight, soft
// target) adds exactly 0, also where its logit is −inf.

/// The smoothing term's inputs.
package enum SmoothingTerm {
  case none
  /// `mean(x − ref)` over the row.
  case uniform(meanX: Double)
  /// Σ_j w_j, the class count, and `mean(w(x − ref))` over the row.
  case weighted(weightSum: Double, cols: Double, meanWX: Double)
}

/// The loss of one row (see the file's comment for the formulas).
@inline(__always)
package func rowLoss(
  sumExp: Double, ref: Double, logSum: Double, targetSum: Double, epsilon eps: Double,
  label: (logit: Double, weight: Double)?, soft: (sumY: Double, sumYX: Double)?, smoothing: SmoothingTerm
) -> Double {
  if sumExp.isNaN { return .nan }
  if sumExp == 0 { return targetSum != 0 ? .infinity : 0 }
  var loss = 0.0
  if let label, eps < 1 && label.weight != 0 { loss += (1 - eps) * label.weight * ((ref - label.logit) + logSum) }
  if let soft, eps < 1 && soft.sumY != 0 { loss += (1 - eps) * (soft.sumY * logSum - soft.sumYX) }
  switch smoothing {
  case .none: break
  case .uniform(let meanX): loss += eps * (logSum - meanX)
  case .weighted(let weightSum, let cols, let meanWX): loss += eps * (weightSum * logSum / cols - meanWX)
  }
  return loss
}
