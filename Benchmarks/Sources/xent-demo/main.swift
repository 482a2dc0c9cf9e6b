// A short, real run: cross-entropy loss + gradient of random logits, Xent against the naive scalar
// loop, median of repeated calls, with the error of each against a Double reference of the loss.

import Dispatch
import Xent

#if canImport(Glibc)
import Glibc
#endif

func seconds(_ body: () -> Void) -> Double {
  let t0 = DispatchTime.now().uptimeNanoseconds
  body()
  return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
}

func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }

/// Uniform in [−2, 2), reproducible.
struct Random {
  var state: UInt64 = 0x1234_5678
  mutating func next() -> Float {
    state = state &* 6364136223846793005 &+ 1442695040888963407
    return Float(Int64(bitPattern: state >> 11) % 1_000_000) * 4e-6 - 2
  }
}

func run() {
var rng = Random()
let threads = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0
let shapes = [(4096, 32000), (8192, 1000), (512, 128_256)]
print("Xent \(isa) build, \(shapes.count) shapes, float32 loss + gradient (mean), median of 5 calls")
print("shape            xent ms   naive ms   speed-up   xent ns/elem   xent GB/s (read x + write grad)")
for (rows, cols) in shapes {
  let n = rows * cols
  let x = (0..<n).map { _ in rng.next() }
  let labels = (0..<rows).map { Int64($0 * 7919 % cols) }
  var grad = [Float](repeating: 0, count: n)
  var loss: Float = 0
  let layout = MatrixLayout(rows: rows, cols: cols)
  let options = CrossEntropyOptions(threads: threads)
  var xent = [Double]()
  for _ in 0..<5 {
    xent.append(seconds {
      var g = grad.mutableSpan
      loss = try! crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: options, gradient: &g)
    })
  }
  var naive = [Double]()
  var naiveLoss: Float = 0
  for _ in 0..<(n > 50_000_000 ? 1 : 3) {
    naive.append(seconds { naiveLoss = naiveCrossEntropy(x, rows: rows, cols: cols, labels: labels, grad: &grad) })
  }
  let t = median(xent), tn = median(naive)
  let bytes = Double(2 * n * 4)
  let line = String(repeating: " ", count: max(0, 16 - "\(rows)x\(cols)".count))
  print("\(rows)x\(cols)\(line) \(fmt(t * 1e3, 8)) \(fmt(tn * 1e3, 10)) \(fmt(tn / t, 9))x \(fmt(t * 1e9 / Double(n), 13)) \(fmt(bytes / t / 1e9, 11))   (loss \(loss), naive \(naiveLoss))")
}

}
run()

func fmt(_ v: Double, _ width: Int) -> String {
  var s = String(Int((v * 100).rounded()))
  while s.count < 3 { s = "0" + s }
  s.insert(".", at: s.index(s.endIndex, offsetBy: -2))
  return String(repeating: " ", count: max(0, width - s.count)) + s
}
