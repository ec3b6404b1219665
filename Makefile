# Earshot — the two commands a new user needs are `make demo` and `make test`.
# Both run `make setup` first, which installs missing Debian packages.

GO      ?= go
BIN     := bin
SAMPLES := $(wildcard samples/calls/*.mp3)

.PHONY: setup build demo test vet lint bench eval lm samples clean

setup:
	@bash scripts/setup.sh
	@$(MAKE) --no-print-directory lm/build/earshot.lm.bin

# The language model is rebuilt when it is missing or older than its corpus
# or builder (a checkout that changes either gets the new model).
LM_SOURCES := lm/build.sh $(shell find lm/corpus lm/corpusgen lm/lmbuild lm/heldout -type f -not -name '*_test.go' 2>/dev/null)
lm/build/earshot.lm.bin lm/build/earshot.dict &: $(LM_SOURCES)
	bash lm/build.sh

build: setup
	$(GO) build -o $(BIN)/ ./cmd/...

demo: build
	$(BIN)/earshot demo

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

test: setup vet
	$(GO) test -race -timeout 60m ./...

bench: setup
	$(GO) test -run '^$$' -bench . -benchmem ./...

eval: build
	bash scripts/eval.sh

lm:
	@bash scripts/setup.sh
	bash lm/build.sh

samples: setup
	bash samples/generate.sh

clean:
	rm -rf $(BIN)
