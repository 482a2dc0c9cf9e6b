// Shared helpers of the C ABI layer: options decoding, error reporting, static strings.
// Each exported function (see the other files) converts its arguments, calls the Xent driver
// (which validates everything before writing) and turns an XentError into a status code.

import Xent
import _XentCHeader

/// The v1 (1.0.0) size of `xent_options`, XENT_OPTIONS_V1_SIZE: a smaller `struct_size` is refused.
let optionsV1Size = MemoryLayout<xent_options>.offset(of: \.z_loss)!

/// Default options, as `xent_options_init` fills them.
func defaultCOptions() -> xent_options {
  xent_options(
    struct_size: MemoryLayout<xent_options>.size, reduction: Int32(XENT_REDUCTION_MEAN), num_threads: 0,
    ignore_index: -100, label_smoothing: 0, grad_scale: 1, z_loss: 0, soft_cap: 0, class_weights: nil,
    z_loss_out: nil, workspace_bytes: 0, accumulate: 0)
}

/// The options of a C call: the Swift options plus the caller's class-weight input and z-loss output.
struct DecodedOptions {
  var options: CrossEntropyOptions
  var buffers: OptionBuffers
}

/// Reads `opts` up to min(struct_size, sizeof) (a 1.0.0 caller's struct ends at grad_scale: the later
/// fields keep their defaults) and converts it. NULL = defaults.
func decodeOptions(_ opts: UnsafePointer<xent_options>?) throws(XentError) -> DecodedOptions {
  var o = defaultCOptions()
  if let opts {
    // size_t arrives as Int: read it unsigned, so a size up to SIZE_MAX (a future, larger struct)
    // is accepted.
    let size = UInt(bitPattern: opts.pointee.struct_size)
    if size < UInt(optionsV1Size) {
      throw .invalidOption("xent_options.struct_size is \(size); at least \(optionsV1Size) expected (call xent_options_init)")
    }
    let known = Int(min(size, UInt(MemoryLayout<xent_options>.size)))
    withUnsafeMutableBytes(of: &o) { dst in
      dst.copyMemory(from: UnsafeRawBufferPointer(start: opts, count: known))
    }
    o.struct_size = MemoryLayout<xent_options>.size
  }
  guard let reduction = Reduction(rawValue: o.reduction) else {
    throw .invalidOption("reduction \(o.reduction) is not XENT_REDUCTION_NONE, _SUM or _MEAN")
  }
  let options = CrossEntropyOptions(
    reduction: reduction, ignoreIndex: o.ignore_index, labelSmoothing: Double(o.label_smoothing),
    gradScale: Double(o.grad_scale), threads: Int(o.num_threads), zLoss: Double(o.z_loss),
    softCap: Double(o.soft_cap), workspaceBytes: Int(clamping: UInt(bitPattern: o.workspace_bytes)),
    accumulate: o.accumulate != 0)
  return DecodedOptions(
    options: options, buffers: OptionBuffers(classWeights: Buffer(o.class_weights), zLoss: Buffer(o.z_loss_out)))
}

/// Runs `body`; records the outcome in the thread's last-error message and returns the status.
@inline(__always)
func status(_ body: () throws(XentError) -> Void) -> xent_status {
  do {
    try body()
    xentabi_clear_last_error()
    return xent_status(XENT_OK)
  } catch {
    error.description.withCString { xentabi_set_last_error($0) }
    return error.status
  }
}

/// A NUL-terminated string with static storage, as C callers expect from `const char *` results.
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
  UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}


/// The pointer types of the exported functions, as the header declares them (`const T *` and `T *`, NULL
/// allowed; the drivers report a NULL that is required).
public typealias In<T> = UnsafePointer<T>?
public typealias Out<T> = UnsafeMutablePointer<T>?
