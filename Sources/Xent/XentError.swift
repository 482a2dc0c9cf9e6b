internal import _XentCHeader

/// Why a Xent call was refused. Every check runs before the first write: when a call throws, none of
/// its outputs has been touched.
///
/// `status` is the matching `XENT_ERR_*` code of the C ABI (`include/xent.h`).
public enum XentError: Error, Hashable, Sendable, CustomStringConvertible {
  /// A required pointer was NULL (C ABI only). `XENT_ERR_NULL_POINTER`.
  case nullPointer(argument: String)
  /// `cols == 0`, a negative count, a stride smaller than `cols`, a size that overflows, or a buffer
  /// shorter than its layout needs. `XENT_ERR_INVALID_SHAPE`.
  case invalidShape(String)
  /// The label of `row` is outside `[0, cols)` and is not the ignore index. `XENT_ERR_LABEL_OUT_OF_RANGE`.
  case labelOutOfRange(row: Int, label: Int64, cols: Int)
  /// An option is out of its range (reduction, smoothing outside [0, 1], non-finite scale, …).
  /// `XENT_ERR_INVALID_OPTION`.
  case invalidOption(String)
  /// An output overlaps an input or another output, other than the documented in-place case.
  /// `XENT_ERR_ALIASING`.
  case aliasing(String)
  /// A valid request this build does not support (e.g. class weights with soft targets, or the z-loss
  /// in the sharded functions). `XENT_ERR_UNSUPPORTED`.
  case unsupported(String)
  /// A buffer the call needs could not be allocated: a call allocates at most one block (the bias
  /// gradient's scratch over more than 4096 classes, or the bfloat16 call's float32 tile when no float32
  /// gradient is given), before anything is written. `XENT_ERR_OUT_OF_MEMORY`.
  case outOfMemory(String)

  /// The C ABI status code: the header's `XENT_ERR_*` value.
  public var status: Int32 {
    switch self {
    case .nullPointer: XENT_ERR_NULL_POINTER
    case .invalidShape: XENT_ERR_INVALID_SHAPE
    case .labelOutOfRange: XENT_ERR_LABEL_OUT_OF_RANGE
    case .invalidOption: XENT_ERR_INVALID_OPTION
    case .aliasing: XENT_ERR_ALIASING
    case .unsupported: XENT_ERR_UNSUPPORTED
    case .outOfMemory: XENT_ERR_OUT_OF_MEMORY
    }
  }

  public var description: String {
    switch self {
    case .nullPointer(let a): "\(a) is NULL"
    case .invalidShape(let s): s
    case .labelOutOfRange(let row, let label, let cols): "label \(label) at row \(row) is outside [0, \(cols))"
    case .invalidOption(let s): s
    case .aliasing(let s): s
    case .unsupported(let s): s
    case .outOfMemory(let s): s
    }
  }
}
