# lowbit's entry points. Each target installs what is missing (scripts/setup), configures,
# builds what it needs and runs. `make run` is the main job; `make test` is what CI runs.
JOBS ?= $(shell nproc)
CTEST_JOBS ?= $(JOBS)

.PHONY: run test asan bench bench-train setup build build-asan clean

setup:
	@scripts/setup

build: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-asan: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

run: build
	./build/release/apps/lowbit/lowbit train --model mlp --epochs 2

test: build
	@CTEST_JOBS=$(CTEST_JOBS) scripts/run-tests release

asan: build-asan
	@CTEST_JOBS=$(CTEST_JOBS) scripts/run-tests asan

bench: build
	@scripts/setup bench
	./build/release/apps/lowbit/lowbit bench gemm --threads 1

bench-train: build
	@scripts/setup bench
	bench/peers/bench_train.sh

clean:
	rm -rf build
