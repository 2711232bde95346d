# Thin wrapper over CMake: `make run` and `make test` are the two commands.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
PORT       ?= 8000

.PHONY: all deps build build-asan run test test-unit test-e2e test-asan bench format lint clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN_BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DINFERD_SANITIZE=ON

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN_BUILD)/Makefile
	cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	$(BUILD)/inferd serve --port $(PORT)

test: build build-asan lint
	cd $(BUILD) && ctest --output-on-failure -j 2
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 ctest --output-on-failure -j 2

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

test-e2e: build
	cd $(BUILD) && ctest --output-on-failure -L e2e

bench: build
	bench/run-all

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# The tree stays clean under both: formatting and the checks in .clang-tidy.
lint: build
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')
	clang-tidy -p $(BUILD) --quiet $$(git ls-files 'src/*.c' 'bench/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
