// Which vector path this test binary runs: `make test` runs the suite portable, AVX2 and (on such CPUs) AVX-512,
// and says which ISA each run must have (XENT_EXPECT_ISA), so a flag that silently stops reaching
// the shim fails here instead of testing the same path twice.

import Testing
import Xent

#if canImport(Glibc)
import Glibc
#endif

@Suite("Build")
struct BuildTests {
  @Test("The ISA in use is the one this build was asked for")
  func isaMatches() throws {
    #expect(["avx512", "avx2", "sse2", "neon"].contains(isa))
    if let p = getenv("XENT_EXPECT_ISA") {
      #expect(isa == String(cString: p))
    }
    if isa == "avx2" || isa == "avx512" { #expect(cpuSupportsAVX2) }
    if isa == "avx512" { #expect(cpuSupportsAVX512) }
  }
}
