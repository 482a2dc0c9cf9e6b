// Version, status strings, ISA name and option defaults.

import Xent
import _XentCHeader

@c @implementation
public func xent_options_init_size(_ opts: UnsafeMutablePointer<xent_options>?, _ structSize: Int) {
  let size = Int(min(UInt(bitPattern: structSize), UInt(MemoryLayout<xent_options>.size)))
  guard let opts, size >= MemoryLayout<Int>.size else { return }
  var defaults = defaultCOptions()
  defaults.struct_size = size
  // Never past the caller's size: a 1.0.0 caller's struct ends at grad_scale.
  withUnsafeBytes(of: &defaults) { UnsafeMutableRawPointer(opts).copyMemory(from: $0.baseAddress!, byteCount: size) }
  // The struct's tail padding (after `accumulate`) is written as zeros, not as whatever the copy held.
  let end = MemoryLayout<xent_options>.offset(of: \.accumulate)! + MemoryLayout<Int32>.size
  if size > end { (UnsafeMutableRawPointer(opts) + end).initializeMemory(as: UInt8.self, repeating: 0, count: size - end) }
}

/// The exported function (the header's macro of the same name calls xent_options_init_size): the
/// 1.0.0 fields only, for callers compiled against the 1.0.0 header.
@c @implementation
public func xent_options_init(_ opts: UnsafeMutablePointer<xent_options>?) {
  xent_options_init_size(opts, optionsV1Size)
}

@c @implementation
public func xent_version_number() -> UInt32 { UInt32(XENT_VERSION_MAJOR * 10000 + XENT_VERSION_MINOR * 100 + XENT_VERSION_PATCH) }

@c @implementation
public func xent_version_string() -> UnsafePointer<CChar>? { versionCString }

/// XENT_VERSION_STRING of the header this library was built with, copied once to static storage.
nonisolated(unsafe) private let versionCString: UnsafePointer<CChar> = XENT_VERSION_STRING.withCString { s in
  var n = 0
  while s[n] != 0 { n += 1 }
  let copy = UnsafeMutablePointer<CChar>.allocate(capacity: n + 1)
  copy.initialize(from: s, count: n + 1)
  return UnsafePointer(copy)
}

@c @implementation
public func xent_status_string(_ status: xent_status) -> UnsafePointer<CChar>? {
  switch status {
  case XENT_OK: cString("ok")
  case XENT_ERR_NULL_POINTER: cString("a required pointer is NULL")
  case XENT_ERR_INVALID_SHAPE: cString("invalid shape: cols == 0, a stride < cols, or a size that overflows")
  case XENT_ERR_LABEL_OUT_OF_RANGE: cString("label outside [0, cols) and not the ignore index")
  case XENT_ERR_INVALID_OPTION: cString("invalid option")
  case XENT_ERR_ALIASING: cString("an output overlaps an input (other than the documented in-place case)")
  case XENT_ERR_UNSUPPORTED: cString("unsupported by this build")
  case XENT_ERR_OUT_OF_MEMORY: cString("out of memory (a call's one scratch block)")
  default: cString("unknown status")
  }
}

@c @implementation
public func xent_isa_name() -> UnsafePointer<CChar>? { isaCString }
