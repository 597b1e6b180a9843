# river: the two set-up commands are `make run` and `make test` (see README.md).
SWIFT ?= swift
RIVER_ARGS ?= up

.PHONY: setup build run test format

setup:
	./scripts/setup.sh

build: setup
	$(SWIFT) build -c release --product river

## Builds in release and starts river with the default model (all services, web page on localhost).
run: build
	.build/release/river $(RIVER_ARGS)

## Installs what is missing, builds everything and runs every test. Tests run one at a time: many
## start real processes and browsers, which would starve each other on a 2-core machine. The
## end-to-end tests start the release binary, the one `make run` starts.
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) build -c release --product river
	$(SWIFT) test --skip-build --no-parallel

format:
	$(SWIFT) format -i -r -p Package.swift Sources Tests Benchmarks
