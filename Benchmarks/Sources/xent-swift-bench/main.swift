// xent-swift-bench: times Xent's Swift API (and the naive scalar yardstick) on one shape, for
// Benchmarks/compare.py. Buffers are allocated and touched once; each (threads, job) is called `warmup`
// times, then `reps` times, and the median is printed as one JSON line.
//
//   xent-swift-bench ROWS COLS [--dtype f32|f64] [--threads 1,2] [--jobs lossgrad,loss] [--reps N]
//                    [--warmup N] [--naive-rows K] [--naive-reps N]
//
// The naive scalar version runs on the first K rows only (it is ~10-50x slower), single-threaded,
// loss+grad; its time is reported as measured and per element, so it compares per element.

import Xent
import XentYardsticks

#if canImport(Glibc)
import Glibc
#endif

func now() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func median(_ v: [Double]) -> Double {
  let s = v.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
}

struct Arguments {
  var rows = 0, cols = 0
  var dtype = "f32"
  var threads = [1, 2]
  var jobs = ["lossgrad", "loss"]
  var reps = 7, warmup = 2
  var naiveRows = 0, naiveReps = 1

  init(_ argv: [String]) {
    var positional = [Int]()
    var i = 1
    func value() -> String {
      i += 1
      guard i < argv.count else { fail("missing value after \(argv[i - 1])") }
      return argv[i]
    }
    while i < argv.count {
      switch argv[i] {
      case "--dtype": dtype = value()
      case "--threads": threads = value().split(separator: ",").compactMap { Int($0) }
      case "--jobs": jobs = value().split(separator: ",").map(String.init)
      case "--reps": reps = max(1, Int(value()) ?? 7)
      case "--warmup": warmup = max(0, Int(value()) ?? 2)
      case "--naive-rows": naiveRows = max(0, Int(value()) ?? 0)
      case "--naive-reps": naiveReps = max(1, Int(value()) ?? 1)
      case "-h", "--help":
        print("usage: xent-swift-bench ROWS COLS [--dtype f32|f64] [--threads 1,2] [--jobs lossgrad,loss] "
          + "[--reps N] [--warmup N] [--naive-rows K] [--naive-reps N]")
        exit(0)
      default:
        guard let n = Int(argv[i]), n > 0 else { fail("unexpected argument \(argv[i])") }
        positional.append(n)
      }
      i += 1
    }
    guard positional.count == 2 else { fail("give ROWS and COLS") }
    rows = positional[0]
    cols = positional[1]
    guard dtype == "f32" || dtype == "f64" else { fail("--dtype must be f32 or f64") }
  }
}

func fail(_ message: String) -> Never {
  let line = "xent-swift-bench: \(message)\n"
  _ = line.withCString { write(2, $0, strlen($0)) }
  exit(2)
}

func run<T: SoftmaxScalar & NaiveScalar>(_: T.Type, _ a: Arguments) {
  let n = a.rows * a.cols
  let x = benchmarkLogits(T.self, count: n)
  let labels = benchmarkLabels(rows: a.rows, cols: a.cols)
  var grad = [T](repeating: 0, count: n)  // allocated and touched once
  let layout = MatrixLayout(rows: a.rows, cols: a.cols)
  let exp = getenv("XENT_EXP").map { String(cString: $0) } ?? ""
  for threads in a.threads {
    for job in a.jobs {
      let options = CrossEntropyOptions(threads: threads)
      var loss: T = 0
      var times = [Double]()
      for r in 0..<(a.warmup + a.reps) {
        let t0 = now()
        do {
          if job == "loss" {
            loss = try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: options)
          } else {
            var g = grad.mutableSpan
            loss = try crossEntropy(logits: x.span, layout: layout, labels: labels.span, options: options,
                                    gradient: &g)
          }
        } catch {
          fail("\(error)")
        }
        let t1 = now()
        if r >= a.warmup { times.append(t1 - t0) }
      }
      // A checksum of the gradient keeps the work observable (and shows the runs agree).
      var check = 0.0
      if job != "loss" { for i in stride(from: 0, to: n, by: max(1, n / 4096)) { check += Double(grad[i]) } }
      print("{\"impl\": \"xent-swift\", \"rows\": \(a.rows), \"cols\": \(a.cols), \"dtype\": \"\(a.dtype)\", "
        + "\"threads\": \(threads), \"job\": \"\(job)\", \"reps\": \(a.reps), \"ms\": \(median(times) * 1e3), "
        + "\"min_ms\": \(times.min()! * 1e3), \"loss\": \(Double(loss)), \"grad_checksum\": \(check), "
        + "\"isa\": \"\(isa)\", \"xent_exp\": \"\(exp)\"}")
      fflush(nil)
    }
  }
  if a.naiveRows > 0 {
    let k = min(a.naiveRows, a.rows)
    var loss: T = 0
    var times = [Double]()
    for _ in 0..<a.naiveReps {
      let t0 = now()
      loss = T.naive(x, rows: k, cols: a.cols, labels: labels, grad: &grad)
      times.append(now() - t0)
    }
    let t = median(times)
    print("{\"impl\": \"naive-swift\", \"rows\": \(a.rows), \"cols\": \(a.cols), \"dtype\": \"\(a.dtype)\", "
      + "\"threads\": 1, \"job\": \"lossgrad\", \"reps\": \(a.naiveReps), \"measured_rows\": \(k), "
      + "\"measured_ms\": \(t * 1e3), \"ns_per_element\": \(t * 1e9 / Double(k * a.cols)), "
      + "\"ms\": \(t * 1e3 * Double(a.rows) / Double(k)), \"loss_of_measured_rows\": \(Double(loss))}")
    fflush(nil)
  }
}

let arguments = Arguments(CommandLine.arguments)
if arguments.dtype == "f32" { run(Float.self, arguments) } else { run(Double.self, arguments) }
