// swift-tools-version:6.0
//
// Xent: fused softmax cross-entropy for the CPU.
//
// Build modes (no unsafeFlags here, so the package stays usable as a version dependency):
//   swift build -c release                          portable x86-64 (SSE2, SLEEF's 128-bit dispatchers)
//   swift build -c release -Xcc -march=x86-64-v3    AVX2 + FMA (SLEEF's 256-bit entry points)
// `make lib` builds libxent.so with the static Swift runtime and the export list of include/xent.h.

import PackageDescription

let package = Package(
  name: "Xent",
  products: [
    // MARK: Swift API
    .library(name: "Xent", targets: ["Xent"]),
    // MARK: C ABI (include/xent.h) -> libxent.so
    .library(name: "xent", type: .dynamic, targets: ["XentC"]),
  ],
  dependencies: [.package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0")],
  targets: [
    // MARK: SLEEF shim (internal): static inline forwarders, SLEEF's header never leaks.
    .target(
      name: "_XentShims",
      linkerSettings: [.linkedLibrary("sleef"), .linkedLibrary("m")]
    ),

    // MARK: System BLAS shim (internal): row-major GEMM forwarders over CBLAS, and the BLAS's thread
    // count held at 1 while Xent's workers run its GEMMs.
    .target(
      name: "_XentBLAS",
      linkerSettings: [.linkedLibrary("blas")]
    ),

    // MARK: Kernels and the Swift API
    .target(
      name: "Xent",
      dependencies: ["_XentShims", "_XentBLAS", "_XentCHeader"]
    ),

    // MARK: The C header as a Clang module (include/xent.h, reached through a symlink), so the
    // @c @implementation layer is checked against the one written contract and the status codes
    // of XentError are the header's.
    .target(name: "_XentCHeader"),

    // MARK: The C ABI: thin validation-free forwarding layer (validation lives in Xent).
    .target(
      name: "XentC",
      dependencies: ["Xent", "_XentCHeader"]
    ),

    // MARK: Tests
    .testTarget(
      name: "XentTests",
      dependencies: ["Xent"]
    ),
  ]
)
