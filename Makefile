# Earshot — the two commands a new user needs are `make demo` and `make test`.
# Both run `make setup` first, which installs missing Debian packages.

GO      ?= go
BIN     := bin
SAMPLES := $(wildcard samples/calls/*.mp3)

.PHONY: setup build demo test vet lint bench eval lm samples clean

setup:
	@bash scripts/setup.sh
	@test -s lm/build/earshot.lm.bin -a -s lm/build/earshot.dict || bash lm/build.sh

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
