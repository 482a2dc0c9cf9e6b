// swift-tools-version:6.1
//
// An example of Xent's linear cross-entropy: a byte-bigram language model trained with
// `linearCrossEntropy`. Its own package, so the library's `swift build` / `swift test` never build it.
//
//   make example-swift                                              (from the repository root)
//   swift run -c release --package-path Examples/LMHead --scratch-path .build-examples lm-head [PATH]

import PackageDescription

let package = Package(
  name: "LMHead",
  dependencies: [.package(name: "Xent", path: "../..")],
  targets: [
    // MARK: The example
    .executableTarget(
      name: "lm-head",
      dependencies: [.product(name: "Xent", package: "Xent")],
      path: "Sources/lm-head"
    ),
  ]
)
