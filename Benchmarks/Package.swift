// swift-tools-version:6.1
//
// Xent's benchmarks: a separate package, so the library and its tests never build benchmark
// dependencies. Build it in release mode for this host's ISA (`-Xcc -march=x86-64-v3` on AVX2+FMA
// machines, as `make lib` does); `make bench` runs `Benchmarks/run.sh`, which does that.
//
//   swift package --package-path Benchmarks benchmark      the package-benchmark suite (throughput,
//                                                           wall clock, instructions)
//   swift run -c release --package-path Benchmarks xent-swift-bench --help
//                                                           the timer the peer comparison uses

import PackageDescription

let package = Package(
  name: "XentBenchmarks",
  dependencies: [
    .package(name: "Xent", path: ".."),
    // ordo-one/benchmark (formerly package-benchmark). The MallocInterposer trait replaces the
    // jemalloc backend of older versions; the runtime interposer trait stays off (not needed here).
    .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
  ],
  targets: [
    // MARK: Yardsticks (not the product): the textbook scalar cross-entropy, shared by both executables.
    .target(
      name: "XentYardsticks",
      path: "Sources/XentYardsticks"
    ),

    // MARK: The package-benchmark suite (the plugin's convention: Benchmarks/<suite>/<suite>.swift).
    .executableTarget(
      name: "XentBenchmarks",
      dependencies: [
        .product(name: "Xent", package: "Xent"),
        .product(name: "Benchmark", package: "benchmark"),
        "XentYardsticks",
      ],
      path: "Benchmarks/XentBenchmarks",
      plugins: [
        .plugin(name: "BenchmarkPlugin", package: "benchmark"),
      ]
    ),

    // MARK: The timer used by compare.py: median of N calls of the Swift API, JSON lines.
    .executableTarget(
      name: "xent-swift-bench",
      dependencies: [
        .product(name: "Xent", package: "Xent"),
        "XentYardsticks",
      ],
      path: "Sources/xent-swift-bench"
    ),
  ]
)
