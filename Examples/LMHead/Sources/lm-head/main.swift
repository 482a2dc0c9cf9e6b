// lm-head: trains a byte-bigram language model with Xent's fused linear cross-entropy.
//
//   lm-head [PATH] [STEPS]     PATH: a file or a directory (default "."): every *.swift and *.md under it,
//                              hidden folders (.build, .git, ...) skipped; STEPS default 300
//
// The model: an embedding E (256 × dim), hidden = E[previous byte], an LM head W (256 × dim) with bias b, and
// the loss of the next byte. Every step makes one `linearCrossEntropy` call, which returns the mean loss and
// all three gradients (∂/∂hidden, ∂/∂W, ∂/∂b) without the batch's logits existing whole; ∂/∂E is ∂/∂hidden
// scattered back to the rows it came from, and Adam updates E, W and b. A fixed evaluation batch is scored with
// the loss-only overload (one GEMM and one pass). The floor the loss falls towards is the bigram entropy of
// the corpus, H(next | previous), the best any bigram model can reach on it.

import Xent

#if canImport(FoundationEssentials)
import FoundationEssentials  // FileManager without the rest of Foundation
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Settings

let classes = 256  // bytes
let dim = 64
let batch = 1024
let evalRows = 16384
let learningRate: Float = 0.01
let llama3Vocabulary = 128_256

let arguments = CommandLine.arguments.dropFirst()
let root = arguments.first ?? "."
let steps = max(1, arguments.dropFirst().first.flatMap { Int($0) } ?? 300)

// MARK: The corpus

/// The bytes of every *.swift and *.md file under `path` (or of `path` itself), in sorted path order.
func corpus(at path: String) -> (bytes: [UInt8], files: Int) {
  let fm = FileManager.default
  var bytes: [UInt8] = [], files = 0
  func visit(_ path: String) {
    var isDirectory: Bool = false
    guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
    if isDirectory {
      for name in ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted() where !name.hasPrefix(".") {
        visit(path + "/" + name)
      }
    } else if path.hasSuffix(".swift") || path.hasSuffix(".md"), let data = fm.contents(atPath: path) {
      bytes += data
      files += 1
    }
  }
  var isDirectory: Bool = false
  if fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory, let data = fm.contents(atPath: path) {
    return ([UInt8](data), 1)  // one file, whatever its name
  }
  visit(path)
  return (bytes, files)
}

let (text, fileCount) = corpus(at: root)
guard text.count >= 2 else {
  print("lm-head: no *.swift or *.md bytes under \(root)")
  exit(1)
}

/// H(next | previous) of the corpus in nats: the loss of the best bigram model.
func bigramEntropy(_ bytes: [UInt8]) -> Double {
  var pairs = [Double](repeating: 0, count: 256 * 256), firsts = [Double](repeating: 0, count: 256)
  for i in 1..<bytes.count {
    pairs[Int(bytes[i - 1]) * 256 + Int(bytes[i])] += 1
    firsts[Int(bytes[i - 1])] += 1
  }
  var h = 0.0
  for a in 0..<256 where firsts[a] > 0 {
    for b in 0..<256 where pairs[a * 256 + b] > 0 {
      h -= pairs[a * 256 + b] * log(pairs[a * 256 + b] / firsts[a])
    }
  }
  return h / Double(bytes.count - 1)
}

// MARK: Helpers

/// xorshift64* (Vigna): a small deterministic generator, so every run trains the same model.
struct XorShift64Star: RandomNumberGenerator {
  var state: UInt64
  init(state: UInt64) { self.state = state == 0 ? 0x2545_F491_4F6C_DD1D : state }
  mutating func next() -> UInt64 {
    state ^= state >> 12
    state ^= state << 25
    state ^= state >> 27
    return state &* 0x2545_F491_4F6C_DD1D
  }
}

/// Adam (Kingma & Ba) over one parameter array.
struct Adam {
  var m: [Float], v: [Float]
  var t = 0
  init(count: Int) {
    m = [Float](repeating: 0, count: count)
    v = [Float](repeating: 0, count: count)
  }
  mutating func step(_ p: inout [Float], _ g: [Float], lr: Float, beta1: Float = 0.9, beta2: Float = 0.999) {
    t += 1
    let c1 = 1 - Float(pow(Double(beta1), Double(t))), c2 = 1 - Float(pow(Double(beta2), Double(t)))
    for i in p.indices {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i]
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
      p[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + 1e-8)
    }
  }
}

/// `bytes` in MiB with one decimal.
func mebibytes(_ bytes: Int) -> String {
  let tenths = Int((Double(bytes) / 1_048_576 * 10).rounded())
  return "\(tenths / 10).\(tenths % 10)"
}

/// Gathers `hidden[r] = E[previous byte of position r]` and the labels (the next bytes).
func gather(_ positions: [Int], _ embedding: [Float], _ hidden: inout [Float], _ labels: inout [Int64]) {
  for (r, i) in positions.enumerated() {
    let a = Int(text[i - 1])
    for k in 0..<dim { hidden[r * dim + k] = embedding[a * dim + k] }
    labels[r] = Int64(text[i])
  }
}

/// `x` with three decimals.
func fmt(_ x: Double) -> String {
  let r = (x * 1000).rounded() / 1000
  var s = String(r)
  if let dot = s.firstIndex(of: ".") {
    s += String(repeating: "0", count: max(0, 3 - s.distance(from: dot, to: s.endIndex) + 1))
  }
  return s
}

/// `s` right-aligned in `width` characters.
func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

// MARK: Training

/// Trains the model; returns the evaluation loss before and after.
func train() throws(XentError) -> (first: Double, last: Double) {
  var rng = XorShift64Star(state: 0x5EED)
  let scale = 1 / Float(dim).squareRoot()
  var embedding = (0..<(classes * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
  var weight = (0..<(classes * dim)).map { _ in Float.random(in: -scale...scale, using: &rng) }
  var bias = [Float](repeating: 0, count: classes)
  var adamE = Adam(count: embedding.count), adamW = Adam(count: weight.count), adamB = Adam(count: bias.count)

  var hidden = [Float](repeating: 0, count: batch * dim), labels = [Int64](repeating: 0, count: batch)
  var gradHidden = [Float](repeating: 0, count: batch * dim)
  var gradWeight = [Float](repeating: 0, count: classes * dim), gradBias = [Float](repeating: 0, count: classes)
  var gradEmbedding = [Float](repeating: 0, count: classes * dim)
  var loss: [Float] = [0]
  let options = CrossEntropyOptions()  // mean over the batch; automatic threads (the same bits for any count)

  let evalPositions = (0..<evalRows).map { _ in Int.random(in: 1..<text.count, using: &rng) }
  var evalHidden = [Float](repeating: 0, count: evalRows * dim)
  var evalLabels = [Int64](repeating: 0, count: evalRows)

  /// The evaluation batch's mean loss: the loss-only overload (one GEMM and one pass, no gradient).
  func evaluate() throws(XentError) -> Double {
    gather(evalPositions, embedding, &evalHidden, &evalLabels)
    return Double(try linearCrossEntropy(
      hidden: evalHidden.span, rows: evalRows, dim: dim, weight: weight.span, classes: classes, bias: bias.span,
      labels: evalLabels.span, options: options))
  }

  func report(_ step: Int, train: Double?) throws(XentError) -> Double {
    let e = try evaluate()
    print(pad(String(step), 6), pad(train.map(fmt) ?? "-", 12), pad(fmt(e), 11), pad(fmt(exp(e)), 17))
    return e
  }

  let first = try report(0, train: nil)
  var last = first
  var trainSum = 0.0, trainCount = 0
  for step in 1...steps {
    let positions = (0..<batch).map { _ in Int.random(in: 1..<text.count, using: &rng) }
    gather(positions, embedding, &hidden, &labels)

    // The fused call: the mean loss, ∂/∂hidden, ∂/∂W and ∂/∂b, over row blocks of the logits.
    do {
      var l = loss.mutableSpan, gh = gradHidden.mutableSpan, gw = gradWeight.mutableSpan
      var gb = gradBias.mutableSpan, noLogSumExp = MutableSpan<Float>()
      try linearCrossEntropy(
        hidden: hidden.span, rows: batch, dim: dim, weight: weight.span, classes: classes, bias: bias.span,
        labels: labels.span, options: options, loss: &l, gradHidden: &gh, gradWeight: &gw, gradBias: &gb,
        logSumExp: &noLogSumExp)
    }
    trainSum += Double(loss[0])
    trainCount += 1

    // ∂/∂E: each row's ∂/∂hidden goes back to the embedding row it was gathered from.
    for k in gradEmbedding.indices { gradEmbedding[k] = 0 }
    for (r, i) in positions.enumerated() {
      let a = Int(text[i - 1])
      for k in 0..<dim { gradEmbedding[a * dim + k] += gradHidden[r * dim + k] }
    }
    adamE.step(&embedding, gradEmbedding, lr: learningRate)
    adamW.step(&weight, gradWeight, lr: learningRate)
    adamB.step(&bias, gradBias, lr: learningRate)

    if step % 25 == 0 || step == steps {
      last = try report(step, train: trainSum / Double(trainCount))
      trainSum = 0
      trainCount = 0
    }
  }
  return (first, last)
}

// MARK: Main

let floor = bigramEntropy(text)
let f32 = MemoryLayout<Float>.size
print("lm-head: \(text.count) bytes from \(fileCount) file\(fileCount == 1 ? "" : "s") under \(root); dim \(dim), batch \(batch), \(steps) steps")
print("logits of one batch: \(batch) × \(classes) float32 = \(mebibytes(batch * classes * f32)) MiB")
print("""
  the same batch at a \(llama3Vocabulary)-class vocabulary: \(batch) × \(llama3Vocabulary) float32 = \
  \(mebibytes(batch * llama3Vocabulary * f32)) MiB (as much again for their gradient); the fused call never holds them whole
  """)
print("bigram floor H(next | previous) = \(fmt(floor)) nats, perplexity \(fmt(exp(floor)))")
print("  step   train loss   eval loss   eval perplexity")

let clock = ContinuousClock()
let started = clock.now
let result: (first: Double, last: Double)
do {
  result = try train()
} catch {
  print("lm-head: \(error)")
  exit(1)
}
let elapsed = (clock.now - started).components
let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
print("\(steps) steps in \(fmt(seconds)) s (train loss: the mean over the steps since the previous line)")

// A check, so `make test` can run this: the loss must fall, to within 0.5 nats of the bigram floor.
if !(result.last < result.first) || result.last > floor + 0.5 {
  print("lm-head: FAILED: eval loss \(fmt(result.first)) -> \(fmt(result.last)), bigram floor \(fmt(floor))")
  exit(1)
}
