// The raw form of every argument, as both public APIs hand it to validation: an address and, when the
// caller knows it (Swift spans), a length.

/// A buffer argument: its address and, when the caller knows it (Swift spans), its length in
/// elements. `nil` addresses are reported by name (required arguments) or mean "not requested"
/// (optional outputs).
package struct Buffer<Element> {
  package var address: UnsafeRawPointer?
  package var count: Int?

  package init(_ p: UnsafePointer<Element>?, count: Int? = nil) {
    address = UnsafeRawPointer(p)
    self.count = count
  }
  package init(_ p: UnsafeMutablePointer<Element>?, count: Int? = nil) {
    address = UnsafeRawPointer(p)
    self.count = count
  }

  /// Not requested (an optional argument left out).
  package static var none: Buffer { Buffer(nil as UnsafePointer<Element>?) }

  /// The address as a typed pointer (validated arguments only).
  var pointer: UnsafePointer<Element> { address!.assumingMemoryBound(to: Element.self) }
  /// The address as a typed mutable pointer (validated outputs only).
  var mutablePointer: UnsafeMutablePointer<Element> { UnsafeMutablePointer(mutating: pointer) }
  /// The typed mutable pointer of an optional output, nil when not requested.
  var optionalOutput: UnsafeMutablePointer<Element>? { address.map { _ in mutablePointer } }
}

// MARK: Buffers from Swift buffer pointers (spans)

extension Buffer {
  /// A required argument from Swift: never NULL (an empty buffer gets a dangling, never-dereferenced
  /// address, since its layout must then need no element).
  package init(required b: UnsafeBufferPointer<Element>) {
    address = UnsafeRawPointer(b.baseAddress) ?? UnsafeRawPointer(bitPattern: MemoryLayout<Element>.alignment)
    count = b.count
  }
  package init(required b: UnsafeMutableBufferPointer<Element>) {
    self.init(required: UnsafeBufferPointer(b))
  }
  /// An optional output from Swift: an empty buffer means "not requested".
  package init(optional b: UnsafeMutableBufferPointer<Element>) {
    address = b.isEmpty ? nil : UnsafeRawPointer(b.baseAddress)
    count = b.count
  }
}

/// The caller's class-weight input and z-loss output that C passes beside `xent_options` (from Swift,
/// the class weights are `CrossEntropyOptions.classWeights`).
package struct OptionBuffers {
  package var classWeights: Buffer<Double>
  package var zLoss: Buffer<Double>

  package init(classWeights: Buffer<Double> = .none, zLoss: Buffer<Double> = .none) {
    self.classWeights = classWeights
    self.zLoss = zLoss
  }
}
