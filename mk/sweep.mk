# The bit-for-bit proof of a refactor (issue 15): Tests/SweepHash/sweep_hash.c runs a fixed, deterministic sweep of
# the C ABI and prints one FNV-1a 64-bit hash of every output byte and status (and one per family).
#
#   make sweep-hash                       installs the tree's library under build/sweep-prefix, builds and runs it
#   make sweep-hash SWEEP_PREFIX=DIR      the same against an installed library (DIR/lib/pkgconfig/xent.pc), no build
#
# Compare the printed "sweep-hash" line before and after a change, on the same machine (the ISA the library picks
# is part of what is hashed). About 10-20 s.

SWEEP_PREFIX ?=
SWEEP_OWN    := $(CURDIR)/build/sweep-prefix
SWEEP_DIR    := $(or $(SWEEP_PREFIX),$(SWEEP_OWN))
SWEEP_BIN    := build/sweep/sweep_hash

.PHONY: sweep-hash

sweep-hash:
	$(if $(SWEEP_PREFIX),,$(MAKE) --no-print-directory install PREFIX=$(SWEEP_OWN))
	@mkdir -p $(dir $(SWEEP_BIN))
	PKG_CONFIG_PATH=$(SWEEP_DIR)/lib/pkgconfig; export PKG_CONFIG_PATH; \
	cc -std=c99 -Wall -Wextra -Werror -pedantic -O2 Tests/SweepHash/sweep_hash.c -o $(SWEEP_BIN) \
	  $$(pkg-config --cflags --libs xent) -Wl,-rpath,$$(pkg-config --variable=libdir xent) -lm
	env -u LD_LIBRARY_PATH $(SWEEP_BIN)
