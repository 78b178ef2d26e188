# rehost: thin wrapper over CMake (see docs/architecture.md).
#
#   make          build build/rehost (release flags, -Werror)
#   make check    install deps, build with -Werror and with ASan+UBSan, run
#                 every test (unit, fuzz corpus replay, integration, e2e)
#   make demo     install deps, build, run the demo migration on this machine
#
# Narrower targets: check-unit, check-integration, check-slow, check-fast.

BUILD       ?= build
CHECK_BUILD ?= build-check
CMAKE_GEN   := -G Ninja

.PHONY: all deps build check check-unit check-fast check-integration check-slow demo clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREHOST_TESTS=OFF >/dev/null
	@cmake --build $(BUILD)

check: deps
	@scripts/check.sh

# Subsets, for quick iteration (same sanitizer build as `make check`).
check-unit: deps
	@CTEST_ARGS="-L unit|fuzz" scripts/check.sh
check-fast: deps
	@CTEST_ARGS="-LE slow" scripts/check.sh
check-integration: deps
	@CTEST_ARGS="-L integration" scripts/check.sh
check-slow: deps
	@CTEST_ARGS="-L slow" scripts/check.sh

demo: build
	@scripts/demo.sh $(BUILD)/rehost

clean:
	rm -rf $(BUILD) $(CHECK_BUILD)
