// The row loss has one formula (Kernels/RowLoss.swift); the rows-in-lanes kernel evaluates it lane by
// lane in the shim (xentshim_group_loss_*). This holds the lane-wise form to the scalar one bit for bit,
// over random statistics and the special cases (Σexp = 0, Σexp NaN, ignored lanes), with and without
// smoothing.

import Testing
import Xent
#if canImport(Glibc)
import Glibc
#endif

@Suite("Row loss: one formula")
struct RowLossTests {
  func check<T: SoftmaxScalar>(_: T.Type, seed: UInt64) {
    var rng = TestRandom(seed: seed)
    let lanes = T._lanes
    for trial in 0..<2000 {
      var ref = T._Vector(), label = T._Vector(), logSum = T._Vector(), sum = T._Vector()
      var live = T._Vector(), sumX = T._Vector()
      for k in 0..<lanes {
        ref[k] = T(rng.normal() * 30)
        label[k] = ref[k] - T(rng.uniform() * 40)
        sum[k] = T(1 + rng.uniform() * 1000)
        logSum[k] = T(log(Double(sum[k])))
        sumX[k] = T(-rng.uniform() * 200)
        live[k] = rng.uniform() < 0.9 ? 1 : 0
        switch rng.next() % 16 {
        case 0: sum[k] = 0; logSum[k] = -.infinity  // every logit −inf
        case 1: sum[k] = .nan; logSum[k] = .nan  // a NaN logit
        default: break
        }
      }
      let eps = [0, 0.1, 0.5, 1][trial % 4]
      let smoothing = eps > 0
      let cols = 1 + Int(rng.next() % 32)
      var rowLosses = [T](repeating: 0, count: lanes)
      let total = rowLosses.withUnsafeMutableBufferPointer {
        T._groupLoss(ref: ref, label: label, logSum: logSum, sum: sum, live: live, sumX: sumX, epsilon: eps,
                     smoothing: smoothing, cols: cols, rowLoss: $0.baseAddress)
      }
      var expected = 0.0
      for k in 0..<lanes {
        // The lane-wise kernel keeps Σ(x − ref)·2^-5; its mean is (sumX / cols)·2^5.
        let meanX = (Double(sumX[k]) / Double(cols)) * 0x1p5
        let scalar = live[k] == 0 ? 0 : rowLoss(
          sumExp: Double(sum[k]), ref: Double(ref[k]), logSum: Double(logSum[k]), targetSum: 1, epsilon: eps,
          label: (Double(label[k]), 1), soft: nil, smoothing: smoothing ? .uniform(meanX: meanX) : .none)
        expected += scalar
        let lane = rowLosses[k]
        #expect(lane.isNaN ? T(scalar).isNaN : lane == T(scalar),
                "lane \(k) of trial \(trial): \(lane) against \(scalar)")
      }
      #expect(total.isNaN ? expected.isNaN : total == expected, "trial \(trial): sum \(total) against \(expected)")
    }
  }

  @Test func float() { check(Float.self, seed: 1) }
  @Test func double() { check(Double.self, seed: 2) }
}
