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

## Installs what is missing, builds everything and runs every test.
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

format:
	$(SWIFT) format -i -r -p Package.swift Sources Tests Benchmarks
