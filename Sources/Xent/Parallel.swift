import Dispatch

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Online processors, read once.
let processorCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

/// Below this many elements an automatic call stays on one thread (a `concurrentPerform` costs
/// ~1 µs; the kernel ~1 ns per element).
let parallelThreshold = 1 << 16

/// The number of workers for a call: `requested` if positive, else all processors for large inputs
/// and one for small ones; never more than the number of row chunks.
func workerCount(requested: Int, rows: Int, cols: Int) -> Int {
  let elements = rows.multipliedReportingOverflow(by: cols)
  let automatic = elements.overflow || elements.partialValue >= parallelThreshold ? processorCount : 1
  let t = requested > 0 ? requested : automatic
  return max(1, min(t, rowChunkCount(rows)))
}

/// Rows are split into this many fixed chunks, a function of `rows` alone, so per-chunk partial
/// sums, added in chunk order, do not depend on the thread count.
@inline(__always) func rowChunkCount(_ rows: Int) -> Int { min(rows, 64) }

@inline(__always) func rowChunk(_ k: Int, of chunks: Int, rows: Int) -> Range<Int> {
  // k·rows cannot overflow: k < 64 and rows ≤ Int.max / element size.
  (k * rows / chunks)..<((k + 1) * rows / chunks)
}

struct UncheckedSendable<Value>: @unchecked Sendable {
  let value: Value
}

/// Runs `body` over the fixed row chunks of `0..<rows` on `threads` workers and returns the sum of
/// its results added in chunk order (bit-identical for any thread count). No heap allocation: the
/// ≤ 64 partial sums live in a temporary (stack) buffer.
func sumOverRowChunks(rows: Int, threads: Int, _ body: (Range<Int>) -> Double) -> Double {
  let chunks = rowChunkCount(rows)
  if chunks == 0 { return 0 }
  if threads <= 1 {
    var total = 0.0
    for k in 0..<chunks { total += body(rowChunk(k, of: chunks, rows: rows)) }
    return total
  }
  return withUnsafeTemporaryAllocation(of: Double.self, capacity: chunks) { partial in
    withoutActuallyEscaping(body) { body in
      let shared = UncheckedSendable(value: (body, partial))
      DispatchQueue.concurrentPerform(iterations: threads) { w in
        let (body, partial) = shared.value
        for k in (w * chunks / threads)..<((w + 1) * chunks / threads) {
          partial[k] = body(rowChunk(k, of: chunks, rows: rows))
        }
      }
    }
    var total = 0.0
    for k in 0..<chunks { total += partial[k] }
    return total
  }
}
