# Examples: each is its own SwiftPM package under Examples/ (depending on this one by path), so the library's
# `swift build` and `swift test` never build them.
#
#   make example-swift     build Examples/LMHead (release, this host's ISA; scratch path .build-examples) and
#                          train its byte-bigram LM head with linearCrossEntropy on this repository's *.swift and
#                          *.md files; it fails unless the loss falls towards the corpus's bigram entropy
#
# The training run takes a few seconds, so `make test` includes it (EXTRA_TESTS); the first build of the
# example package costs one more release build of the library.

EXAMPLES_SCRATCH := .build-examples
# SwiftPM's cached build manifest does not notice a source file added to a path dependency (this library, seen
# from the example): plan every build afresh.
EXAMPLES_FLAGS   := --disable-build-manifest-caching

.PHONY: example-swift

example-swift: deps
	swift build -c release --package-path Examples/LMHead --scratch-path $(EXAMPLES_SCRATCH) $(EXAMPLES_FLAGS) $(ISA_FLAGS)
	$(EXAMPLES_SCRATCH)/release/lm-head $(CURDIR)

EXTRA_TESTS += example-swift
