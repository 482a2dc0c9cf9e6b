// The package-benchmark suite of Xent: the shapes, loss+grad and loss only, Float and Double,
// 1 and 2 threads, the bias gradient on three shapes, the linear cross-entropy (Float, loss only and loss
// with every gradient, two LM-head shapes, 2 threads), plus the naive scalar Swift yardstick on a few rows.
//
//   swift package --package-path Benchmarks benchmark                     (all; ~10 minutes)
//   swift package --package-path Benchmarks benchmark --filter '.*4096x32000.*'
//   swift package --package-path Benchmarks benchmark --filter '.*Linear.*'
//   swift package --package-path Benchmarks benchmark baseline update main   /   ... baseline check main
//
// Metrics: throughput (calls/s), wall clock and instructions (perf counters; where the machine has none,
// package-benchmark reports 0). Buffers are allocated and touched in each benchmark's setup and freed in its
// teardown, outside the measured closure, so no page fault or allocation is timed and at most one shape's
// buffers (≤ 2 GiB: 4096×32000 Double logits + gradient) are alive at once.
// Elements per call are in each benchmark's name; divide wall clock by them for ns/element. The linear
// cross-entropy's names give rows x dim x classes: each of its GEMMs is 2·rows·dim·classes flops (loss only:
// one GEMM; loss and every gradient: three).

import Benchmark
import Xent
import XentYardsticks

/// One shape's buffers, made in setup and dropped in teardown.
final class Workload<T: SoftmaxScalar & NaiveScalar>: @unchecked Sendable {
  let rows: Int, cols: Int
  var logits: [T] = []
  var labels: [Int64] = []
  var grad: [T] = []

  init(rows: Int, cols: Int) {
    self.rows = rows
    self.cols = cols
  }

  func allocate(gradient: Bool) {
    logits = benchmarkLogits(T.self, count: rows * cols)
    labels = benchmarkLabels(rows: rows, cols: cols)
    grad = gradient ? [T](repeating: 0, count: rows * cols) : []  // touched here, not in the measurement
  }

  func free() {
    logits = []
    labels = []
    grad = []
  }
}

enum Job: String, CaseIterable {
  case lossGrad = "loss+grad"
  case loss = "loss"
  /// The loss and the bias gradient (eq. 8), no gradient matrix: rows summed in Double on one thread.
  case bias = "loss+bias"
}

let shapes: [(rows: Int, cols: Int)] = [(4096, 32000), (512, 128_256), (8192, 1000), (65536, 10), (1, 128_256)]

func dtypeName<T>(_: T.Type) -> String { T.self == Float.self ? "f32" : "f64" }

/// Bigger calls (≥ 50 M logits, or ≥ 10 GFLOP of GEMMs) get fewer iterations: the suite must fit in minutes
/// on a 2-core machine.
func configuration(big: Bool) -> Benchmark.Configuration {
  .init(
    metrics: [.throughput, .wallClock, .instructions],
    tags: ["isa": isa],
    warmupIterations: big ? 1 : 3,
    scalingFactor: .one,
    maxDuration: .seconds(big ? 2 : 1),
    maxIterations: big ? 12 : 200
  )
}

func registerXent<T: SoftmaxScalar & NaiveScalar>(_: T.Type, rows: Int, cols: Int, threads: Int, job: Job) {
  let work = Workload<T>(rows: rows, cols: cols)
  let layout = MatrixLayout(rows: rows, cols: cols)
  let options = CrossEntropyOptions(threads: threads)
  let name = "Xent \(dtypeName(T.self)) \(job.rawValue) \(rows)x\(cols) threads=\(threads)"
  Benchmark(name, configuration: configuration(big: rows * cols >= 50_000_000)) { benchmark in
    // Take the arrays out of the box for the measurement (O(1) swaps, no copy-on-write copy).
    var x: [T] = [], labels: [Int64] = [], grad: [T] = []
    var loss = [T](repeating: 0, count: 1), bias = [T](repeating: 0, count: job == .bias ? cols : 0)
    swap(&x, &work.logits)
    swap(&labels, &work.labels)
    swap(&grad, &work.grad)
    defer {
      swap(&x, &work.logits)
      swap(&labels, &work.labels)
      swap(&grad, &work.grad)
    }
    for _ in benchmark.scaledIterations {
      switch job {
      case .loss:
        blackHole(try! crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: options))
      case .lossGrad:
        var g = grad.mutableSpan
        blackHole(try! crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: options,
                                    gradient: &g))
      case .bias:
        var l = loss.mutableSpan, b = bias.mutableSpan, none = MutableSpan<T>(), none2 = MutableSpan<T>()
        try! crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: options, loss: &l,
                          gradient: &none, logSumExp: &none2, biasGradient: &b)
      }
    }
    blackHole(grad.first)
    blackHole(bias.first)
  } setup: {
    work.allocate(gradient: job == .lossGrad)
  } teardown: {
    work.free()
  }
}

/// One linear cross-entropy shape's buffers (Float): hidden states, LM-head weight and bias, labels, and the
/// three gradients when asked for. Made in setup, dropped in teardown.
final class LinearWorkload: @unchecked Sendable {
  struct Buffers {
    var hidden: [Float] = [], weight: [Float] = [], bias: [Float] = []
    var labels: [Int64] = []
    var gradHidden: [Float] = [], gradWeight: [Float] = [], gradBias: [Float] = []
  }
  let rows: Int, dim: Int, classes: Int
  var buffers = Buffers()

  init(rows: Int, dim: Int, classes: Int) {
    self.rows = rows
    self.dim = dim
    self.classes = classes
  }

  func allocate(gradients: Bool) {
    // hidden in [−1, 1), weight in [−4, 4)/√dim: logits of standard deviation ≈ 1.3.
    let scale = 1 / Float(dim).squareRoot()
    buffers = Buffers(
      hidden: benchmarkLogits(Float.self, count: rows * dim).map { $0 / 4 },
      weight: benchmarkLogits(Float.self, count: classes * dim).reversed().map { $0 * scale },
      bias: [Float](repeating: 0, count: classes), labels: benchmarkLabels(rows: rows, cols: classes),
      // Touched here, not in the measurement.
      gradHidden: gradients ? [Float](repeating: 0, count: rows * dim) : [],
      gradWeight: gradients ? [Float](repeating: 0, count: classes * dim) : [],
      gradBias: gradients ? [Float](repeating: 0, count: classes) : [])
  }

  func free() { buffers = Buffers() }
}

/// The fused linear cross-entropy, `o = hidden·weightᵀ + bias` (mean loss): the loss only (one GEMM and one
/// pass) or the loss with ∂/∂hidden, ∂/∂weight and ∂/∂bias (three GEMMs). The workspace is allocated (and
/// first touched) inside every call, as a caller of the API sees it.
func registerLinear(rows: Int, dim: Int, classes: Int, threads: Int, gradients: Bool) {
  let work = LinearWorkload(rows: rows, dim: dim, classes: classes)
  let options = CrossEntropyOptions(threads: threads)
  let job = gradients ? "Linear loss+grads" : "Linear loss"
  let name = "Xent f32 \(job) \(rows)x\(dim)x\(classes) threads=\(threads)"
  let flops = 2 * rows * dim * classes * (gradients ? 3 : 1)
  Benchmark(name, configuration: configuration(big: flops >= 10_000_000_000)) { benchmark in
    // Take the buffers out of the box for the measurement (an O(1) swap, no copy-on-write copy).
    var buffers = LinearWorkload.Buffers()
    swap(&buffers, &work.buffers)
    defer { swap(&buffers, &work.buffers) }
    let (h, w, b, labels) = (buffers.hidden, buffers.weight, buffers.bias, buffers.labels)
    var (gh, gw, gb) = (buffers.gradHidden, buffers.gradWeight, buffers.gradBias)
    buffers.gradHidden = []  // the gradients live in gh, gw, gb during the measurement (no copy)
    buffers.gradWeight = []
    buffers.gradBias = []
    defer { (buffers.gradHidden, buffers.gradWeight, buffers.gradBias) = (gh, gw, gb) }
    var loss: [Float] = [0]
    for _ in benchmark.scaledIterations {
      if gradients {
        var l = loss.mutableSpan, ghs = gh.mutableSpan, gws = gw.mutableSpan, gbs = gb.mutableSpan
        var none = MutableSpan<Float>()
        try! linearCrossEntropy(
          hidden: h.span, rows: rows, dim: dim, weight: w.span, classes: classes, bias: b.span,
          labels: labels.span, options: options, loss: &l, gradHidden: &ghs, gradWeight: &gws, gradBias: &gbs,
          logSumExp: &none)
        blackHole(loss[0])
      } else {
        blackHole(try! linearCrossEntropy(
          hidden: h.span, rows: rows, dim: dim, weight: w.span, classes: classes, bias: b.span,
          labels: labels.span, options: options))
      }
    }
    blackHole(gh.first)
    blackHole(gw.first)
    blackHole(gb.first)
  } setup: {
    work.allocate(gradients: gradients)
  } teardown: {
    work.free()
  }
}

/// The naive scalar loop on the first `rows` rows only (it runs at tens of ns per element).
func registerNaive<T: SoftmaxScalar & NaiveScalar>(_: T.Type, rows: Int, cols: Int) {
  let work = Workload<T>(rows: rows, cols: cols)
  let name = "naive scalar Swift \(dtypeName(T.self)) loss+grad \(rows)x\(cols) threads=1"
  Benchmark(name, configuration: configuration(big: rows * cols >= 50_000_000)) { benchmark in
    for _ in benchmark.scaledIterations {
      blackHole(T.naive(work.logits, rows: rows, cols: cols, labels: work.labels, grad: &work.grad))
    }
  } setup: {
    work.allocate(gradient: true)
  } teardown: {
    work.free()
  }
}

let benchmarks: @Sendable () -> Void = {
  for (rows, cols) in shapes {
    for job in [Job.lossGrad, .loss] {
      for threads in [1, 2] {
        registerXent(Float.self, rows: rows, cols: cols, threads: threads, job: job)
        registerXent(Double.self, rows: rows, cols: cols, threads: threads, job: job)
      }
    }
  }
  // The bias gradient (one thread whatever the option): stack scratch (1000, 10 classes) and heap (32000).
  for (rows, cols) in [(8192, 1000), (65536, 10), (4096, 32000)] {
    registerXent(Float.self, rows: rows, cols: cols, threads: 1, job: .bias)
    registerXent(Double.self, rows: rows, cols: cols, threads: 1, job: .bias)
  }
  // The linear cross-entropy (Float, 2 threads): a small LM head and a 1024-wide one, 32000 classes.
  for (rows, dim) in [(512, 256), (1024, 1024)] {
    for gradients in [false, true] {
      registerLinear(rows: rows, dim: dim, classes: 32000, threads: 2, gradients: gradients)
    }
  }
  // Yardstick: ~1-4 M elements per call, same class counts as above.
  registerNaive(Float.self, rows: 64, cols: 32000)
  registerNaive(Float.self, rows: 8192, cols: 1000)
  registerNaive(Float.self, rows: 65536, cols: 10)
  registerNaive(Double.self, rows: 64, cols: 32000)
}
