# Sanitizers, concurrency, adversarial inputs and ABI stability (issue 5). Included by the top Makefile.
#
#   make sanitize           Swift tests under ASan and UBSan; the C/C++ tests, the adversarial and the concurrency
#                           programs against a library built with ASan+UBSan; the threaded paths under TSan
#   make test-concurrency   8 threads from C (Tests/Concurrency/concurrent.c) and from Python, bit-identical
#   make test-adversarial   hostile arguments and values (Tests/Adversarial/)
#   make test-abi           exported symbols, abidiff against the committed baseline, header as C99/C11/C++17
#   make abi-baseline       write the ABI baseline of a new release (see Tests/ABI/check_abi.sh)
#
# Sanitizer notes (Swift 6.3 on Linux):
#   - swiftc has -sanitize=address and -sanitize=thread but rejects -sanitize=undefined, so UBSan instruments the
#     C targets (the SLEEF shim, LastError.c) through -Xcc; the Swift code has its own always-on overflow and
#     bounds traps in these debug builds. The UBSan runtime is linked by clang as the link driver
#     (-Xclang-linker -fsanitize=undefined).
#   - `--disable-xctest`: the suite is Swift Testing only; the empty XCTest pass leaks its own suite objects at
#     exit (LeakSanitizer reports them inside libXCTest.so), which is no part of Xent. No suppression is needed.
#   - A sanitized libxent.so leaves the ASan/UBSan runtime to the executable, so the C programs are built with the
#     same clang (the Swift toolchain's) and the same -fsanitize flags; nothing is LD_PRELOADed.
#   - ASan runs the Swift suite with this host's ISA flags (the AVX2 kernels here), UBSan the portable build, so
#     both code paths are covered; TSan runs the "Gradient and threads" suite (GradientAndThreadTests) and the C
#     concurrency test against a TSan library.

SAN_CLANG         ?= $(or $(wildcard $(dir $(shell command -v swift 2>/dev/null))clang),$(shell command -v clang 2>/dev/null),clang)
SAN_CLANGXX       ?= $(SAN_CLANG)++
SAN_OUT           := build/sanitize
SWIFT_RT_DIR      := $(abspath $(dir $(realpath $(shell command -v swift 2>/dev/null)))../lib/swift/linux)
SAN_LIB_FLAGS     := -Xswiftc -static-stdlib -Xlinker --version-script=$(CURDIR)/lib/xent.map
SAN_C_FLAGS       := -g -O1 -fno-omit-frame-pointer -fuse-ld=lld -Wall -Wextra -Werror -pedantic
SAN_UB            := -fsanitize=undefined -fno-sanitize-recover=all
SAN_ENV           := ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:strict_string_checks=1:check_initialization_order=1 \
                     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_ENV          := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
CONCURRENCY_ITERS ?= 12
ADV_BIN           := build/adversarial/adversarial
CONC_BIN          := build/concurrency/concurrent
# The programs and the shared harness and reference they link (Tests/CSupport).
C_SUPPORT         := $(wildcard Tests/CSupport/*.c)
ADV_SOURCES       := $(wildcard Tests/Adversarial/*.c) $(C_SUPPORT)
ADV_CFLAGS        := -ITests/Adversarial -ITests/CSupport
CONC_SOURCES      := Tests/Concurrency/concurrent.c Tests/CSupport/xt_check.c
CONC_CFLAGS       := -ITests/CSupport
SUDO              := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

EXTRA_TESTS += test-adversarial test-concurrency test-abi sanitize

.PHONY: sanitize sanitize-swift sanitize-c sanitize-thread test-concurrency test-adversarial test-abi abi-baseline \
        reliability-deps

# abigail-tools (abidw, abidiff) and lld for the sanitizer links; both idempotent.
reliability-deps: deps
	@command -v abidiff >/dev/null && command -v abidw >/dev/null || { \
	  echo "installing abigail-tools"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq abigail-tools >/dev/null; }
	@test -x "$(SAN_CLANG)" || { echo "reliability: no clang found (the Swift toolchain's clang is expected)" >&2; exit 1; }

# $(call build_against_prefix,BINARY,CFLAGS AND SOURCES): install the library into $(TEST_PREFIX) and build a C99
# program against it as a user would (pkg-config, an rpath to the installed library).
define build_against_prefix
	$(MAKE) install PREFIX=$(TEST_PREFIX)
	@mkdir -p $(dir $(1))
	PKG_CONFIG_PATH=$(TEST_PREFIX)/lib/pkgconfig; export PKG_CONFIG_PATH; \
	cc -std=c99 -Wall -Wextra -Werror -pedantic -O1 -pthread $(2) -o $(1) \
	  $$(pkg-config --cflags --libs xent) -Wl,-rpath,$$(pkg-config --variable=libdir xent) -lm
endef

# ---- adversarial ---------------------------------------------------------------------------------------------------

test-adversarial:
	$(call build_against_prefix,$(ADV_BIN),$(ADV_CFLAGS) $(ADV_SOURCES))
	env -u LD_LIBRARY_PATH $(ADV_BIN)

# ---- concurrency -----------------------------------------------------------------------------------------------

test-concurrency:
	$(call build_against_prefix,$(CONC_BIN),$(CONC_CFLAGS) $(CONC_SOURCES))
	env -u LD_LIBRARY_PATH $(CONC_BIN) $(CONCURRENCY_ITERS)
	@# The Python half: python/run_tests.sh creates or reuses the virtualenv and installs the package as built
	@# just now (--collect-only: it runs none of the Python suite, which test-python does); then the test runs
	@# against the library just built (XENT_LIBRARY), from a scratch directory so `import xent` is the installed one.
	bash python/run_tests.sh $(VENV) --collect-only -q > /dev/null
	cd $(TEST_PREFIX) && XENT_LIBRARY=$(CURDIR)/build/lib/libxent.so $(VENV)/bin/python -m pytest -q -p no:cacheprovider \
	  --rootdir $(CURDIR)/Tests/Concurrency $(CURDIR)/Tests/Concurrency/test_concurrent_python.py

# ---- ABI -------------------------------------------------------------------------------------------------------

test-abi: reliability-deps
	$(MAKE) install PREFIX=$(TEST_PREFIX)
	bash Tests/ABI/check_abi.sh $(TEST_PREFIX)/lib/libxent.so
	bash Tests/ABI/check_symbols.sh $(TEST_PREFIX)/lib/libxent.so include/xent.h

abi-baseline: reliability-deps
	$(MAKE) install PREFIX=$(TEST_PREFIX)
	bash Tests/ABI/check_abi.sh $(TEST_PREFIX)/lib/libxent.so --update

# ---- sanitizers ------------------------------------------------------------------------------------------------

sanitize: sanitize-swift sanitize-c sanitize-thread
	@echo "sanitize: ASan, UBSan and TSan runs passed"

sanitize-swift: reliability-deps
	XENT_EXPECT_ISA=$(HOST_ISA) $(SAN_ENV) \
	  swift test --disable-xctest --sanitize=address --scratch-path .build-asan $(ISA_FLAGS)
	XENT_EXPECT_ISA=$(if $(filter aarch64,$(shell uname -m)),neon,sse2) $(SAN_ENV) \
	  swift test --disable-xctest --scratch-path .build-ubsan -Xcc -fsanitize=undefined \
	  -Xcc -fno-sanitize-recover=all -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined

# libxent.so with ASan (Swift and C) + UBSan (C), and every C/C++ test program built with ASan+UBSan against it.
sanitize-c: reliability-deps
	swift build -c release --product xent --scratch-path .build-lib-asan $(ISA_FLAGS) \
	  -Xswiftc -sanitize=address -Xcc -fsanitize=address -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=all \
	  $(SAN_LIB_FLAGS)
	@mkdir -p $(SAN_OUT)/asan/lib
	cp .build-lib-asan/release/libxent.so $(SAN_OUT)/asan/lib/libxent.so
	@# The C (C99) and C++ (C++17) programs of Tests/C (Tests/C/run.sh against a prefix holding this library),
	@# the adversarial suite and the concurrency test, all with ASan+UBSan.
	@mkdir -p $(SAN_OUT)/asan/prefix/lib/pkgconfig $(SAN_OUT)/asan/prefix/include
	cp include/xent.h $(SAN_OUT)/asan/prefix/include/xent.h
	cp $(SAN_OUT)/asan/lib/libxent.so $(SAN_OUT)/asan/prefix/lib/libxent.so
	sed -e 's|@PREFIX@|$(CURDIR)/$(SAN_OUT)/asan/prefix|g' -e 's|@VERSION@|$(VERSION)|g' xent.pc.in \
	  > $(SAN_OUT)/asan/prefix/lib/pkgconfig/xent.pc
	$(SAN_CLANG) -std=c99 $(SAN_C_FLAGS) -pthread -fsanitize=address $(SAN_UB) -Iinclude $(ADV_CFLAGS) $(ADV_SOURCES) \
	  -o $(SAN_OUT)/asan/adversarial -L$(SAN_OUT)/asan/lib -lxent -Wl,-rpath,$(CURDIR)/$(SAN_OUT)/asan/lib -lm
	$(SAN_CLANG) -std=c99 $(SAN_C_FLAGS) -pthread -fsanitize=address $(SAN_UB) -Iinclude $(CONC_CFLAGS) $(CONC_SOURCES) \
	  -o $(SAN_OUT)/asan/concurrent -L$(SAN_OUT)/asan/lib -lxent -Wl,-rpath,$(CURDIR)/$(SAN_OUT)/asan/lib -lm
	@status=0; \
	echo "== ASan+UBSan: Tests/C"; \
	env -u LD_LIBRARY_PATH $(SAN_ENV) CC="$(SAN_CLANG)" CXX="$(SAN_CLANGXX)" \
	  XENT_TEST_FLAGS="$(SAN_C_FLAGS) -fsanitize=address $(SAN_UB)" XENT_TEST_BUILD=$(SAN_OUT)/asan/c \
	  bash Tests/C/run.sh $(SAN_OUT)/asan/prefix > $(SAN_OUT)/asan/c.log 2>&1 || status=1; \
	grep -E '^FAIL|ERROR: (Address|Leak)Sanitizer|runtime error|SUMMARY|passed' $(SAN_OUT)/asan/c.log | head -40; \
	for p in adversarial "concurrent 2"; do \
	  echo "== ASan+UBSan: $$p"; \
	  env -u LD_LIBRARY_PATH $(SAN_ENV) $(SAN_OUT)/asan/$$p > $(SAN_OUT)/asan/$${p%% *}.log 2>&1 || status=1; \
	  grep -E '^FAIL|ERROR: (Address|Leak)Sanitizer|runtime error|SUMMARY' $(SAN_OUT)/asan/$${p%% *}.log | head -40; \
	  tail -n 1 $(SAN_OUT)/asan/$${p%% *}.log; \
	done; exit $$status

# ThreadSanitizer: the Swift thread tests, and the C concurrency test against a TSan library. That library links
# the Swift runtime and Dispatch dynamically (no -static-stdlib): TSan intercepts the shared libdispatch and so
# sees its synchronization, whereas a statically linked, uninstrumented copy inside libxent.so would show
# Dispatch's internal handoffs as races. The test program links libdispatch too (the static TSan runtime's
# Dispatch interceptors need its symbols).
sanitize-thread: reliability-deps
	$(TSAN_ENV) swift test --disable-xctest --sanitize=thread --scratch-path .build-tsan $(ISA_FLAGS) \
	  --filter GradientAndThreadTests
	swift build -c release --product xent --scratch-path .build-lib-tsan $(ISA_FLAGS) -Xswiftc -sanitize=thread \
	  -Xcc -fsanitize=thread -Xlinker --version-script=$(CURDIR)/lib/xent.map -Xlinker -rpath -Xlinker $(SWIFT_RT_DIR)
	@mkdir -p $(SAN_OUT)/tsan/lib
	cp .build-lib-tsan/release/libxent.so $(SAN_OUT)/tsan/lib/libxent.so
	$(SAN_CLANG) -std=c99 $(SAN_C_FLAGS) -pthread -fsanitize=thread -Iinclude $(CONC_CFLAGS) $(CONC_SOURCES) \
	  -o $(SAN_OUT)/tsan/concurrent -L$(SAN_OUT)/tsan/lib -lxent -Wl,-rpath,$(CURDIR)/$(SAN_OUT)/tsan/lib \
	  -L$(SWIFT_RT_DIR) -ldispatch -lBlocksRuntime -Wl,-rpath,$(SWIFT_RT_DIR) -lm
	env -u LD_LIBRARY_PATH $(TSAN_ENV) $(SAN_OUT)/tsan/concurrent 2
