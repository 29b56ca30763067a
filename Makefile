# Flotilla: the two commands a newcomer needs are `make run` and `make test`.
BUILD ?= build
JOBS ?= 2
ARGS ?=
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: all deps data build test run bench bench-strategies bench-methods bench-mcmahan clean

all: build

deps:
	./scripts/install-deps.sh

data: deps
	./scripts/fetch-mnist.sh data/mnist

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j$(JOBS)

test: deps data build
	cd $(BUILD) && ctest --output-on-failure

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
