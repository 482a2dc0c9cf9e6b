// The rules of validation, each written once: shapes, lengths, byte ranges and their overlap, options.
// The operands (Operands.swift) apply them; every driver builds its operands before a kernel writes
// anything.

/// The byte range an argument spans, for the overlap check.
struct ByteRange {
  var name: StaticString
  var lower: UInt
  var upper: UInt
  var isEmpty: Bool { lower == upper }
  func overlaps(_ o: ByteRange) -> Bool { !isEmpty && !o.isEmpty && lower < o.upper && o.lower < upper }
}

/// Up to six byte ranges stored inline (validation allocates nothing). More is a programming error.
struct ByteRanges {
  private var r0, r1, r2, r3, r4, r5: ByteRange?
  private(set) var count = 0

  init() {}

  mutating func append(_ r: ByteRange) {
    switch count {
    case 0: r0 = r
    case 1: r1 = r
    case 2: r2 = r
    case 3: r3 = r
    case 4: r4 = r
    case 5: r5 = r
    default: preconditionFailure("ByteRanges holds six ranges")
    }
    count += 1
  }

  subscript(i: Int) -> ByteRange {
    switch i {
    case 0: r0!
    case 1: r1!
    case 2: r2!
    case 3: r3!
    case 4: r4!
    default: r5!
    }
  }
}

enum Check {
  static func notNull<E>(_ b: Buffer<E>, _ name: String) throws(XentError) {
    if b.address == nil { throw .nullPointer(argument: name) }
  }

  /// Checks `layout` for element type `E` and returns its extent in elements.
  static func layout<E>(_ l: MatrixLayout, _ what: String, _: E.Type) throws(XentError) -> Int {
    // From C, a size_t above Int.max arrives negative: it is reported as the unsigned value it was.
    if l.rows < 0 { throw .invalidShape("\(what): rows \(l.rows) is negative (as size_t: \(UInt(bitPattern: l.rows)))") }
    if l.cols == 0 { throw .invalidShape("\(what): cols is 0; the class dimension must not be empty") }
    if l.cols < 0 { throw .invalidShape("\(what): cols \(l.cols) is negative (as size_t: \(UInt(bitPattern: l.cols)))") }
    if l.rowStride < 0 {
      throw .invalidShape("\(what): row stride \(l.rowStride) is negative (as size_t: \(UInt(bitPattern: l.rowStride)))")
    }
    if l.rowStride < l.cols {
      throw .invalidShape("\(what): row stride \(l.rowStride) is smaller than cols \(l.cols)")
    }
    guard let extent = l.extent, extent <= Int.max / MemoryLayout<E>.stride else {
      throw .invalidShape("\(what): \(l) overflows the address space")
    }
    return extent
  }

  /// A count of `E` elements (`rows`) must be non-negative and addressable.
  static func count<E>(_ n: Int, _ what: StaticString, _: E.Type) throws(XentError) {
    if n < 0 { throw .invalidShape("\(what) \(n) is negative (as size_t: \(UInt(bitPattern: n)))") }
    if n > Int.max / MemoryLayout<E>.stride { throw .invalidShape("\(what) \(n) overflows the address space") }
  }

  /// A buffer of `count` elements must hold `needed`.
  static func length<E>(_ b: Buffer<E>, _ needed: Int, _ name: String) throws(XentError) {
    if let c = b.count, c < needed {
      throw .invalidShape("\(name) has \(c) elements; its layout needs \(needed)")
    }
  }

  /// The byte range of `elements` elements at `b`; a size past the address space is an invalid shape
  /// (the labels of an f32 matrix need twice its bytes per row, so the matrix's check is not enough).
  static func range<E>(_ b: Buffer<E>, elements: Int, _ name: StaticString) throws(XentError) -> ByteRange {
    let lower = UInt(bitPattern: b.address)
    let (bytes, o1) = elements.multipliedReportingOverflow(by: MemoryLayout<E>.stride)
    let (upper, o2) = lower.addingReportingOverflow(UInt(bitPattern: bytes))
    if elements < 0 || o1 || o2 || bytes < 0 {
      throw .invalidShape("\(name): \(elements) elements overflow the address space")
    }
    return ByteRange(name: name, lower: lower, upper: upper)
  }

  /// No output may overlap an input or another output, except output `inPlace.output` starting
  /// exactly at input `inPlace.input` (the caller has checked that their layouts match).
  static func noOverlap(inputs: ByteRanges, outputs: ByteRanges, inPlace: (output: Int, input: Int)? = nil)
    throws(XentError)
  {
    for k in 0..<outputs.count {
      let o = outputs[k]
      for m in 0..<inputs.count where o.overlaps(inputs[m]) {
        if let p = inPlace, p.output == k, p.input == m, o.lower == inputs[m].lower { continue }
        throw .aliasing("\(o.name) overlaps \(inputs[m].name)")
      }
      for m in 0..<k where o.overlaps(outputs[m]) {
        throw .aliasing("\(o.name) overlaps \(outputs[m].name)")
      }
    }
  }

  static func threads(_ n: Int) throws(XentError) {
    if n < 0 { throw .invalidOption("thread count \(n) is negative") }
  }

  static func options(_ o: CrossEntropyOptions) throws(XentError) {
    let e = o.labelSmoothing
    if !(e >= 0 && e <= 1) { throw .invalidOption("label smoothing \(e) is outside [0, 1]") }
    if !o.gradScale.isFinite { throw .invalidOption("grad scale \(o.gradScale) is not finite") }
    try threads(o.threads)
    if !(o.zLoss >= 0 && o.zLoss.isFinite) { throw .invalidOption("z-loss weight \(o.zLoss) is not finite and >= 0") }
    if !(o.softCap >= 0 && o.softCap.isFinite) { throw .invalidOption("soft cap \(o.softCap) is not finite and >= 0") }
  }
}
