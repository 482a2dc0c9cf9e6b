// Version, status strings, ISA name and option defaults.

import Xent
import _XentCHeader

@c @implementation
public func xent_options_init(_ opts: UnsafeMutablePointer<xent_options>?) {
  opts?.pointee = defaultCOptions()
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
  case 0: cString("ok")
  case 1: cString("a required pointer is NULL")
  case 2: cString("invalid shape: cols == 0, a stride < cols, or a size that overflows")
  case 3: cString("label outside [0, cols) and not the ignore index")
  case 4: cString("invalid option")
  case 5: cString("an output overlaps an input (other than the documented in-place case)")
  case 6: cString("unsupported by this build")
  default: cString("unknown status")
  }
}

@c @implementation
public func xent_isa_name() -> UnsafePointer<CChar>? { isaCString }
