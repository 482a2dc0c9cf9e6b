// swift-tools-version:6.0
// Xent's benchmarks: a separate package, so the library and its tests never build benchmark
// dependencies. `make bench` runs it in release mode for this host's ISA.

import PackageDescription

let package = Package(
  name: "XentBenchmarks",
  dependencies: [
    .package(name: "Xent", path: ".."),
  ],
  targets: [
    // MARK: A timed run of the fused kernel against a naive scalar Swift version.
    .executableTarget(
      name: "xent-demo",
      dependencies: [.product(name: "Xent", package: "Xent")]
    ),
  ]
)
