# Fuzzing (issue 5): a libFuzzer target over the C ABI (fuzz/*.c, see fuzz/xf.h and fuzz/README.md).
#
#   make fuzz SECONDS=N          fuzz for N seconds (default 60) from fuzz/corpus; crashes go to build/fuzz/
#   make fuzz-regressions        replay fuzz/regressions/ (inputs that once failed) and the seed corpus
#   make fuzz-seeds              regenerate fuzz/corpus/ with fuzz/gen_seeds.py
#   make test-fuzz               the CI slice: seeds + regressions, then 120 s of fuzzing (SLEEF and XENT_EXP=fast)
#                                from a fresh working corpus
#
# The library is rebuilt for fuzzing with AddressSanitizer and libFuzzer coverage in Swift and in the C shims
# (scratch path .build-fuzz), so out-of-bounds accesses inside the kernels are caught and coverage guides the
# search; the harness is compiled with clang -fsanitize=fuzzer,address from the Swift toolchain and provides the
# ASan runtime the library's instrumentation resolves against. The long double reference and the harness it uses
# (Tests/CSupport/xt_ref.c, xt_check.c) are compiled with ASan but without coverage: their branches say nothing
# about the library (as XF_CHECKER does for the checking code inside fuzz/).
# Knobs: FUZZ_JOBS (independent fuzzing processes, default 1: the threaded paths already use both cores),
# FUZZ_MAX_LEN (bytes, default 4096), FUZZ_EXP (sleef | fast), FUZZ_CORPUS (working corpus, default
# build/fuzz/corpus), FUZZ_ARGS (extra libFuzzer flags), FUZZ_PREFIX (link the harness against PREFIX/lib/libxent.so
# of an installed, uninstrumented library instead of building one; output under build/fuzz-prefix; e.g.
# `make fuzz-regressions FUZZ_PREFIX=/tmp/xent-baseline`), XENT_FUZZ_KNOWN=1 in the environment (also make the
# calls that hit known, reported library defects; see fuzz/regressions/README.md).

SECONDS       ?= 60
FUZZ_JOBS     ?= 1
FUZZ_MAX_LEN  ?= 4096
FUZZ_EXP      ?= sleef
FUZZ_ARGS     ?=
FUZZ_PREFIX   ?=
FUZZ_OUT      := $(if $(FUZZ_PREFIX),build/fuzz-prefix,build/fuzz)
FUZZ_SCRATCH  := .build-fuzz-$(HOST_ISA)
FUZZ_CLANG    ?= $(or $(wildcard $(dir $(shell command -v swift 2>/dev/null))clang),$(shell command -v clang 2>/dev/null),clang)
FUZZ_LIB      := $(if $(FUZZ_PREFIX),$(FUZZ_PREFIX)/lib/libxent.so,$(FUZZ_OUT)/lib/libxent.so)
FUZZ_INCLUDE  := $(if $(FUZZ_PREFIX),$(FUZZ_PREFIX)/include,include)
FUZZ_BIN      := $(FUZZ_OUT)/xent_fuzz
FUZZ_SWIFT_SAN := -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
                  -Xcc -fsanitize=address -Xcc -fsanitize=fuzzer-no-link
FUZZ_SOURCES  := $(wildcard Sources/*/*.swift Sources/*/*/*.swift Sources/*/*.c Sources/*/include/*.h) \
                 include/xent.h lib/xent.map Package.swift
FUZZ_CORPUS   ?=
FUZZ_RUN_ENV  := $(if $(FUZZ_CORPUS),FUZZ_CORPUS=$(FUZZ_CORPUS),) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:symbolize=1:allocator_may_return_null=1 \
                 $(if $(filter fast,$(FUZZ_EXP)),XENT_EXP=fast,)

.PHONY: fuzz fuzz-build fuzz-regressions fuzz-seeds test-fuzz

ifeq ($(FUZZ_PREFIX),)
$(FUZZ_LIB): $(FUZZ_SOURCES) | deps
	swift build -c release --product xent --scratch-path $(FUZZ_SCRATCH) $(ISA_FLAGS) $(FUZZ_SWIFT_SAN) \
	  -Xswiftc -static-stdlib -Xlinker --version-script=$(CURDIR)/lib/xent.map
	@mkdir -p $(dir $@)
	cp $(FUZZ_SCRATCH)/release/libxent.so $@
endif

FUZZ_HARNESS  := $(wildcard fuzz/*.c) fuzz/xf.h
FUZZ_SUPPORT  := $(FUZZ_OUT)/support/xt_ref.o $(FUZZ_OUT)/support/xt_check.o

$(FUZZ_OUT)/support/%.o: Tests/CSupport/%.c Tests/CSupport/xt_ref.h Tests/CSupport/xt_check.h $(FUZZ_INCLUDE)/xent.h
	@test -x "$(FUZZ_CLANG)" || { echo "fuzz: no clang with libFuzzer (the Swift toolchain's clang) found" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CLANG) -g -O1 -std=c11 -Wall -Wextra -fsanitize=address -I$(FUZZ_INCLUDE) -ITests/CSupport -c $< -o $@

$(FUZZ_BIN): $(FUZZ_HARNESS) $(FUZZ_SUPPORT) $(FUZZ_INCLUDE)/xent.h $(FUZZ_LIB)
	$(FUZZ_CLANG) -g -O1 -std=c11 -Wall -Wextra -fuse-ld=lld -fsanitize=fuzzer,address -I$(FUZZ_INCLUDE) -ITests/CSupport \
	  $(filter %.c,$(FUZZ_HARNESS)) $(FUZZ_SUPPORT) -o $@ -L$(dir $(FUZZ_LIB)) -lxent -lm \
	  -Wl,-rpath,$(if $(FUZZ_PREFIX),$(abspath $(dir $(FUZZ_LIB))),'$$ORIGIN/lib')

fuzz-build: deps $(FUZZ_BIN)

fuzz: fuzz-build
	$(FUZZ_RUN_ENV) bash fuzz/run.sh $(FUZZ_BIN) $(SECONDS) $(FUZZ_JOBS) $(FUZZ_MAX_LEN) $(FUZZ_OUT) $(FUZZ_ARGS)

fuzz-regressions: fuzz-build
	@files=$$(ls fuzz/regressions/*.bin fuzz/corpus/* 2>/dev/null); \
	$(FUZZ_RUN_ENV) $(FUZZ_BIN) -runs=0 $$files >$(FUZZ_OUT)/regressions.log 2>&1 \
	  && echo "fuzz-regressions: $$(echo $$files | wc -w) inputs passed" \
	  || { tail -30 $(FUZZ_OUT)/regressions.log; exit 1; }

fuzz-seeds:
	$(PYTHON) fuzz/gen_seeds.py fuzz/corpus

# A fresh working corpus, so the slice is bounded (libFuzzer replays its whole working corpus before the clock).
test-fuzz: fuzz-regressions
	rm -rf $(FUZZ_OUT)/ci-corpus
	$(MAKE) --no-print-directory fuzz SECONDS=60 FUZZ_EXP=sleef FUZZ_CORPUS=$(CURDIR)/$(FUZZ_OUT)/ci-corpus
	$(MAKE) --no-print-directory fuzz SECONDS=60 FUZZ_EXP=fast FUZZ_CORPUS=$(CURDIR)/$(FUZZ_OUT)/ci-corpus

EXTRA_TESTS += test-fuzz
