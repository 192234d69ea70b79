# lowbit's entry points. Each target installs what is missing (scripts/setup), configures,
# builds what it needs and runs. `make run` is the main job; `make test` is what CI runs.
JOBS ?= $(shell nproc)
CTEST_JOBS ?= $(JOBS)

.PHONY: run test asan fuzz fuzz-long fuzz-replay bench bench-train setup build build-asan data clean

setup:
	@scripts/setup

build: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-asan: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

# The main job: iCaRL with a CIFAR-style ResNet-20 on Fashion-MNIST (5 tasks x 2 classes, the
# first 1000 training images of each class, memory 2000, 2 epochs/task, 1 seed) in fp32, HDQT 4/8
# and naive integer training (same 4/8 arithmetic without the Hadamard transform), same class
# order and seed: per-task tables, the degradation vs fp32, and an HTML report with the plots
# (out/cil-fashion-mnist-resnet20.html). On this conv net the Hadamard transform matters; on the
# MLP (the former default) naive integer training was as close to fp32 as HDQT. Measured: 6-8 minutes
# on the 2 shared cores at load 4-7 (docs/RESULTS.md). lowbit's own bounded OpenMP spin keeps 2
# threads from collapsing against other jobs on a shared machine (no environment needed).
run: build
	@mkdir -p out
	./build/release/apps/lowbit/lowbit cil --dataset fashion-mnist --model resnet20 --method icarl \
	  --max-train-per-class 1000 --epochs 2 --seeds 1 --compare fp32,hdqt,naive-int \
	  --json out/cil-fashion-mnist-resnet20.json --report out/cil-fashion-mnist-resnet20.html

# The real-data tests read DSADS and the CIFAR-10 JPEG tree from data/, unpacked from
# ../shared/data when it is there (quick when already unpacked).
data: setup
	@if [ -d ../shared/data ]; then scripts/fetch-data; fi

test: build data
	@CTEST_JOBS=$(CTEST_JOBS) scripts/run-tests release

asan: build-asan data
	@CTEST_JOBS=$(CTEST_JOBS) scripts/run-tests asan

# The libFuzzer targets (clang, ASan+UBSan; docs/RELIABILITY.md). `fuzz`: a short random
# exploration, FUZZ_SECONDS per target, printing any finding with its reproducer at the end.
# `fuzz-long`: the recorded campaign, FUZZ_EXECS executions per target, one target at a time.
# `fuzz-replay`: every checked-in seed and regression input once through the libFuzzer build
# (deterministic; ctest's fuzz_replay.* tests do the same in every preset, which is CI's gate).
FUZZ_SECONDS ?= 30
FUZZ_EXECS ?= 1000000
fuzz:
	@scripts/setup fuzz
	scripts/fuzz-all --seconds $(FUZZ_SECONDS)

fuzz-long:
	@scripts/setup fuzz
	scripts/fuzz-all --execs $(FUZZ_EXECS)

fuzz-replay:
	@scripts/setup fuzz
	scripts/fuzz-replay

bench: build
	@scripts/setup bench
	./build/release/apps/lowbit/lowbit bench gemm --threads 1

bench-train: build
	@scripts/setup bench
	bench/peers/bench_train.sh

clean:
	rm -rf build
