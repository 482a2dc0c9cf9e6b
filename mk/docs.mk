# make docs: the DocC documentation of the Swift module (Sources/Xent/Xent.docc and the doc comments),
# built with swift-docc-plugin into build/docs as a static site. Its own scratch path, so it does not
# rebuild over the library's or the tests' builds. Not part of `make test`.

DOCS_SCRATCH := .build-docs

.PHONY: docs
docs:
	swift package --scratch-path $(DOCS_SCRATCH) --allow-writing-to-directory build/docs \
	  generate-documentation --target Xent --output-path build/docs --transform-for-static-hosting
	@echo "make docs: build/docs (open build/docs/documentation/xent/index.html through a web server)"
