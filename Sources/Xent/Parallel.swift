import Dispatch
internal import _XentShims

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Online processors, read once.
let processorCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

/// Below this many elements an automatic call stays on one thread: a second Dispatch worker pays only
/// from about 0.5 ms of one-thread work on (before that, it is not running before the caller is done).
/// The AVX-512 build does an element in about half the time, hence twice the threshold
/// (docs/performance.md has the measurements).
let parallelThreshold = XENTSHIM_ISA_AVX512 != 0 ? 1 << 20 : 1 << 19

/// The number of workers for a call: `requested` if positive, else all processors for large inputs
/// and one for small ones; never more than `limit` (the number of independent pieces).
func workerCount(requested: Int, rows: Int, cols: Int, limit: Int) -> Int {
  let elements = rows.multipliedReportingOverflow(by: cols)
  let automatic = elements.overflow || elements.partialValue >= parallelThreshold ? processorCount : 1
  let t = requested > 0 ? requested : automatic
  return max(1, min(t, limit))
}

/// Workers for row-parallel work: at most one per fixed row chunk.
func workerCount(requested: Int, rows: Int, cols: Int, granule: Int = 1) -> Int {
  workerCount(requested: requested, rows: rows, cols: cols, limit: rowChunkCount(rows, granule: granule))
}

/// Rows are split into this many fixed chunks, a function of `rows` (and of the call's kernel, through
/// `granule`) alone, so per-chunk partial sums, added in chunk order, do not depend on the thread count:
/// at most 64, each of at least `granule` rows (one chunk for fewer).
@inline(__always) func rowChunkCount(_ rows: Int, granule: Int = 1) -> Int {
  rows == 0 ? 0 : max(1, min(rows / granule, 64))
}

/// Chunk `k`'s rows: boundaries at multiples of `granule` (the last chunk ends at `rows`), so that a kernel
/// taking `granule` rows at a time leaves a remainder only in the last chunk.
@inline(__always) func rowChunk(_ k: Int, of chunks: Int, rows: Int, granule: Int = 1) -> Range<Int> {
  // k·rows cannot overflow: k < 64 and rows ≤ Int.max / element size.
  @inline(__always) func boundary(_ k: Int) -> Int { k == chunks ? rows : k * rows / chunks / granule * granule }
  return boundary(k)..<boundary(k + 1)
}

struct UncheckedSendable<Value>: @unchecked Sendable {
  let value: Value
}

/// Runs `body` over the fixed row chunks of `0..<rows` on `threads` workers and returns the sum of
/// its results added in chunk order (bit-identical for any thread count). No heap allocation: the
/// ≤ 64 partial sums live in a temporary (stack) buffer.
func sumOverRowChunks<A: AdditiveArithmetic>(
  rows: Int, threads: Int, granule: Int = 1, _ body: (Range<Int>) -> A
) -> A {
  let chunks = rowChunkCount(rows, granule: granule)
  if chunks == 0 { return .zero }
  if threads <= 1 {
    var total = A.zero
    for k in 0..<chunks { total += body(rowChunk(k, of: chunks, rows: rows, granule: granule)) }
    return total
  }
  return withUnsafeTemporaryAllocation(of: A.self, capacity: chunks) { partial in
    withChunkCounter { next in
      withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(value: (body, partial, next))
        // Each worker takes the next chunk as it comes free (an atomic counter): a worker that wakes
        // late, or a core taken by another process, leaves no fixed share of the work waiting.
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
          let (body, partial, next) = shared.value
          while case let k = xentshim_next_index(next), k < chunks {
            partial.initializeElement(at: k, to: body(rowChunk(k, of: chunks, rows: rows, granule: granule)))
          }
        }
      }
    }
    var total = A.zero
    for k in 0..<chunks { total += partial[k] }
    return total
  }
}

/// Runs `body(k)` for every `k` in `0..<count` on `threads` workers (each takes the next k as it
/// comes free). `body` must write disjoint memory for different k.
func forEachBlock(count: Int, threads: Int, _ body: (Int) -> Void) {
  forEachBlockOnWorkers(count: count, threads: threads) { k, _ in body(k) }
}

/// `forEachBlock` that also tells `body` which worker runs it (in `0..<min(threads, count)`), for
/// per-worker scratch memory.
func forEachBlockOnWorkers(count: Int, threads: Int, _ body: (_ k: Int, _ worker: Int) -> Void) {
  if threads <= 1 || count <= 1 {
    for k in 0..<count { body(k, 0) }
    return
  }
  let workers = min(threads, count)
  withChunkCounter { next in
    withoutActuallyEscaping(body) { body in
      let shared = UncheckedSendable(value: (body, next))
      DispatchQueue.concurrentPerform(iterations: workers) { worker in
        let (body, next) = shared.value
        while case let k = xentshim_next_index(next), k < count { body(k, worker) }
      }
    }
  }
}

/// Runs `body` with a zeroed counter on the stack, for `xentshim_next_index` (atomic fetch-and-add).
@inline(__always)
func withChunkCounter<R>(_ body: (UnsafeMutablePointer<Int>) -> R) -> R {
  withUnsafeTemporaryAllocation(of: Int.self, capacity: 1) { counter in
    counter.initialize(repeating: 0)
    return body(counter.baseAddress!)
  }
}

// MARK: Column blocks of long rows

/// Rows with at least this many columns are split into fixed column blocks whose statistics merge
/// associatively (the inference case: one row of 100k+ classes uses every core). The split depends
/// on `cols` alone, never on the thread count, so results are bit-identical for any thread count.
let columnSplitThreshold = 1 << 16

/// At most this many blocks per row (their statistics live on the stack).
let maximumColumnBlocks = 64

/// Runs `body` with stack storage for `maximumColumnBlocks` block statistics. (An `InlineArray` on the
/// stack: `withUnsafeTemporaryAllocation` puts 64 of them, 3 KiB, on the heap — the alloc test sees it.)
@inline(__always)
func withBlockStatistics<T: SoftmaxScalar, R>(
  _: T.Type, _ body: (UnsafeMutablePointer<RowStatistics<T>>) -> R
) -> R {
  var storage = InlineArray<64, RowStatistics<T>>(repeating: RowStatistics())
  var span = storage.mutableSpan
  return span.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

/// Block length: 16384 elements, or more so that a row has at most 64 blocks; a multiple of 64.
@inline(__always) func columnBlockLength(_ cols: Int) -> Int {
  let spread = (cols + maximumColumnBlocks - 1) / maximumColumnBlocks
  return max(1 << 14, (spread + 63) / 64 * 64)
}

// MARK: The row scheduler

/// Runs `body(range, blocks, columnThreads)` over the fixed row chunks of `0..<rows` and returns the
/// sum of its results in chunk order. The one schedule of every per-row driver:
///
/// - rows shorter than `columnSplitThreshold`: the chunks on up to `requested` workers (`granule` rows
///   at a time, see `rowChunk`); `blocks` is nil and `columnThreads` 1;
/// - longer rows are computed over fixed column blocks (`columnBlockLength`), merged in block order:
///   with many rows the chunks go to the workers and each row's blocks stay on its worker; with few
///   rows (or `serialRows`) the rows run one after the other, each row's blocks spread over the
///   workers. `blocks` is stack storage for one row's block statistics.
///
/// Either way a row is computed over the same blocks merged in the same order and sums are added over
/// the same chunks: results are bit-identical for any thread count. `serialRows` keeps the chunks on
/// one thread (a sum over rows into one vector, the bias gradient).
@inline(__always)
func sumOverRows<A: AdditiveArithmetic, T: SoftmaxScalar>(
  rows: Int, cols: Int, requested: Int, serialRows: Bool = false, granule: Int = 1, _: T.Type,
  _ body: (Range<Int>, UnsafeMutablePointer<RowStatistics<T>>?, Int) -> A
) -> A {
  if cols >= columnSplitThreshold {
    let blockCount = (cols + columnBlockLength(cols) - 1) / columnBlockLength(cols)
    let rowThreads = serialRows ? 1 : workerCount(requested: requested, rows: rows, cols: cols)
    let byRows = rowThreads > 1 && rows >= 4 * rowThreads
    let columnThreads = byRows ? 1 : workerCount(requested: requested, rows: rows, cols: cols, limit: blockCount)
    return sumOverRowChunks(rows: rows, threads: byRows ? rowThreads : 1) { range in
      withBlockStatistics(T.self) { blocks in body(range, blocks, columnThreads) }
    }
  }
  let threads = serialRows ? 1 : workerCount(requested: requested, rows: rows, cols: cols, granule: granule)
  return sumOverRowChunks(rows: rows, threads: threads, granule: granule) { range in body(range, nil, 1) }
}

/// `sumOverRows` for drivers that sum nothing: `row(i, blocks, columnThreads)` for every row.
@inline(__always)
func forEachRow<T: SoftmaxScalar>(
  rows: Int, cols: Int, requested: Int, _: T.Type,
  _ row: (Int, UnsafeMutablePointer<RowStatistics<T>>?, Int) -> Void
) {
  _ = sumOverRows(rows: rows, cols: cols, requested: requested, T.self) { range, blocks, columnThreads in
    for i in range { row(i, blocks, columnThreads) }
    return 0
  }
}
