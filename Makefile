# Xent — the two commands a newcomer runs are `make bench` and `make test`; both set themselves up.
#
#   make bench            the benchmark (release build for this host's ISA)
#   make test             every test, what CI runs: Swift (portable, AVX2 and, on such CPUs, AVX-512 builds), C/C++,
#                         symbols, allocations, Python, and the suites of mk/*.mk (fuzzing, sanitizers, ABI, MPI)
#   make check            the quick loop (a few minutes): the Swift tests of this host's build only, the C/C++ tests
#                         (Tests/C, Tests/Adversarial) and the Python tests
#   make lib              build/lib/libxent.so (static Swift runtime, only xent_* exported)
#   make install PREFIX=  header, library and xent.pc under PREFIX (default /usr/local)
#   make deps             install the system packages a fresh Debian machine lacks

SHELL      := /bin/bash
PREFIX     ?= /usr/local
VERSION    := $(shell sed -n 's/^\#define XENT_VERSION_STRING "\(.*\)"/\1/p' include/xent.h)
PYTHON     ?= python3
VENV       ?= $(CURDIR)/.build-venv
TEST_PREFIX := $(CURDIR)/build/test-prefix

# The library is built for this CPU (Swift code generation follows -Xcc -march): AVX-512 (x86-64-v4) when
# it has F/CD/BW/DQ/VL, else AVX2+FMA (x86-64-v3) when it has them, else portable. HOST_ISA names the build
# (xent_isa_name() of the library).
HOST_AVX2  := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo 1)
HOST_AVX512 := $(if $(HOST_AVX2),$(shell f=$$(grep -m1 '^flags' /proc/cpuinfo); \
                 for x in avx512f avx512cd avx512bw avx512dq avx512vl; do echo "$$f" | grep -qw $$x || exit 0; done; echo 1),)
HOST_ISA   := $(if $(HOST_AVX512),avx512,$(if $(HOST_AVX2),avx2,$(if $(filter aarch64,$(shell uname -m)),neon,sse2)))
ISA_FLAGS  := $(if $(HOST_AVX512),-Xcc -march=x86-64-v4,$(if $(HOST_AVX2),-Xcc -march=x86-64-v3,))
LIB_SCRATCH := .build-lib-$(HOST_ISA)
# The scratch path `make test` already builds this host's Swift tests in (test-swift, -avx2 or -avx512), reused by
# `make check`.
HOST_TEST_SCRATCH := $(if $(HOST_AVX512),.build-avx512,$(if $(HOST_AVX2),.build-avx2,.build))

LIB_FLAGS  := -Xswiftc -static-stdlib \
              -Xlinker --version-script=$(CURDIR)/lib/xent.map \
              -Xlinker -rpath -Xlinker '$$ORIGIN'

# Further suites (fuzzing, sanitizers, ABI stability), one file each under mk/; each adds its
# targets to EXTRA_TESTS, which `make test` runs after the suites below.
EXTRA_TESTS :=
.DEFAULT_GOAL := all
include $(wildcard mk/*.mk)

.PHONY: all deps lib install check check-swift test test-swift test-swift-avx2 test-swift-avx512 test-exp test-c test-symbols test-alloc test-python bench clean

all: lib

deps:
	@# libsleef-dev: SLEEF's header and shared library (Debian ships no static one). libopenblas-dev: cblas.h
	@# and libblas.so (the system BLAS alternative, OpenBLAS by default) for the linear cross-entropy's GEMMs.
	@missing=""; for p in libsleef-dev libopenblas-dev pkg-config; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v pkg-config >/dev/null || { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq pkg-config >/dev/null; }

lib: deps
	swift build -c release --product xent --scratch-path $(LIB_SCRATCH) $(ISA_FLAGS) $(LIB_FLAGS)
	@mkdir -p build/lib
	cp $(LIB_SCRATCH)/release/libxent.so build/lib/libxent.so
	strip --strip-unneeded build/lib/libxent.so
	cp build/lib/libxent.so python/xent/libxent.so

install: lib
	install -d $(PREFIX)/lib/pkgconfig $(PREFIX)/include
	install -m 0644 include/xent.h $(PREFIX)/include/xent.h
	install -m 0755 build/lib/libxent.so $(PREFIX)/lib/libxent.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' xent.pc.in > $(PREFIX)/lib/pkgconfig/xent.pc

# ---- tests --------------------------------------------------------------------------------------

test: test-swift test-swift-avx2 test-swift-avx512 test-exp test-c test-symbols test-alloc test-python $(EXTRA_TESTS)
	@echo "make test: all suites passed"

# The quick loop: the host build's Swift tests (once), the C/C++ and adversarial tests, the Python tests.
check: check-swift test-c test-adversarial test-python
	@echo "make check: the host build's Swift tests, the C/C++ tests and the Python tests passed"

check-swift: deps
	XENT_EXPECT_ISA=$(HOST_ISA) swift test --scratch-path $(HOST_TEST_SCRATCH) $(ISA_FLAGS)

test-swift: deps
	XENT_EXPECT_ISA=$(if $(filter aarch64,$(shell uname -m)),neon,sse2) swift test

test-swift-avx2: deps
	@if [ -n "$(HOST_AVX2)" ]; then \
	  XENT_EXPECT_ISA=avx2 swift test --scratch-path .build-avx2 -Xcc -march=x86-64-v3; \
	else echo "test-swift-avx2: this CPU has no AVX2+FMA, skipped"; fi

# The AVX-512 build computes the same bits as the AVX2 one (Tests/Exp/test_exp_widths.c checks the shim's paired
# 512-bit exp and log against the 256-bit ones, bit for bit); its kernels are tested here on CPUs that have it.
test-swift-avx512: deps
	@if [ -n "$(HOST_AVX512)" ]; then \
	  XENT_EXPECT_ISA=avx512 swift test --scratch-path .build-avx512 -Xcc -march=x86-64-v4; \
	else echo "test-swift-avx512: this CPU has no AVX-512, skipped"; fi

# The inline exp against the true exp over every float in [-104, 89], in release mode, both builds; on AVX-512
# CPUs also the shim's paired 512-bit exp and log against the 256-bit ones (the AVX-512 build relies on them
# being equal).
test-exp: deps
	@if [ -n "$(HOST_AVX512)" ]; then \
	  mkdir -p build/tests && gcc -O2 -march=x86-64-v4 -pthread -Wall -ISources/_XentShims/include -o build/tests/test_exp_widths \
	    Tests/Exp/test_exp_widths.c -lsleef -lm && build/tests/test_exp_widths; \
	fi
	XENT_EXHAUSTIVE_EXP=1 swift test -c release --scratch-path .build-release --filter ExpTests
	@if [ -n "$(HOST_AVX2)" ]; then \
	  XENT_EXHAUSTIVE_EXP=1 swift test -c release --scratch-path .build-release-avx2 -Xcc -march=x86-64-v3 --filter ExpTests; \
	fi

test-c:
	$(MAKE) install PREFIX=$(TEST_PREFIX)
	bash Tests/C/run.sh $(TEST_PREFIX)

test-symbols: lib
	bash Tests/ABI/check_symbols.sh build/lib/libxent.so include/xent.h

# No allocation per call on one thread (an LD_PRELOAD malloc counter around 7000 calls).
test-alloc: lib
	bash Tests/Alloc/run.sh build/lib

test-python: lib
	XENT_WITH_TORCH=1 bash python/run_tests.sh $(VENV)

# ---- benchmark ----------------------------------------------------------------------------------

# PEERS=1 also installs PyTorch and JAX (CPU) into the benchmark's virtualenv; BENCH_SUITE=1 also runs
# the package-benchmark suite; BENCH_ARGS="--quick" for a short run.
PEERS       ?= 0
BENCH_SUITE ?= 0

bench: lib
	PEERS=$(PEERS) BENCH_SUITE=$(BENCH_SUITE) bash Benchmarks/run.sh $(ISA_FLAGS)

clean:
	rm -rf .build .build-* build python/xent/libxent.so

