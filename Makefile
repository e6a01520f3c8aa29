# isopool: the two commands are `make run` and `make test`; both install what
# is missing first (scripts/deps.sh), then build with CMake into build/.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc)
CMAKE_TYPE ?= RelWithDebInfo
RUN_ARGS   ?=

.PHONY: all deps configure build run test test-asan test-tsan test-cluster bench bench-targets format format-check clean install uninstall

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(CMAKE_TYPE) \
	  -DISO_LIBNODE_PREFIX="$$(scripts/deps.sh --print-prefix | tail -n1)" >/dev/null

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	@cmake --build $(BUILD) -j $(JOBS)

# `make install [PREFIX=/usr] [DESTDIR=/tmp/stage]`: the build, configured
# for PREFIX (GNUInstallDirs: with /usr the client library goes to the
# multiarch lib dir, lib/x86_64-linux-gnu), then `cmake --install`. What
# goes where: README.md, "Install". `make uninstall` removes the files the
# last install wrote (build/install_manifest.txt, without DESTDIR: give
# the same DESTDIR).
PREFIX  ?= /usr/local
DESTDIR ?=

install: build
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX="$(PREFIX)" >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

uninstall:
	@test -f $(BUILD)/install_manifest.txt || \
	  { echo "no $(BUILD)/install_manifest.txt: nothing installed" >&2; exit 1; }
	sed 's|^|$(DESTDIR)|' $(BUILD)/install_manifest.txt | xargs -d '\n' rm -f --

run: build
	$(BUILD)/bin/isopool serve --modules examples $(RUN_ARGS)

test: build format-check test-asan test-fuzz
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The leak check: the runtime, wire and service suites again, built with
# AddressSanitizer and UBSan (the service tests then start a daemon built
# the same way).
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DISO_ASAN=ON \
	  -DISO_LIBNODE_PREFIX="$$(scripts/deps.sh --print-prefix | tail -n1)" >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -L asan -j $(JOBS)

# The race check: the service suites (ctest label `service`) against a
# daemon built with ThreadSanitizer (Debug, in $(TSAN_BUILD)); a report in
# project code ends the daemon and fails the case (tests/tsan.supp lists
# what is left out, and why). Not part of `make test`: the suites alone
# take about 6 minutes on two busy cores (ThreadSanitizer slows our code
# 5-15x; V8 itself is not instrumented), the build 1-2 more.
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DISO_TSAN=ON \
	  -DISO_LIBNODE_PREFIX="$$(scripts/deps.sh --print-prefix | tail -n1)" >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && ctest --output-on-failure -L 'service|tsan'

# The cluster test alone, verbose (ctest cluster_test, also part of `make
# test`): three nodes in network namespaces under load through four faults
# (tests/cluster/cluster_test.sh); needs root and iproute2, else skipped.
test-cluster: build
	cd $(BUILD) && ctest -L cluster -V

# The fuzzers (fuzz/, libFuzzer): the wire's decoders, each harness run for
# FUZZ_SECONDS by `make fuzz` and for FUZZ_TEST_SECONDS by `make test`
# (test-fuzz). Built with clang in a tree of their own; an input that broke
# a harness is kept in $(FUZZ_BUILD)/fuzz-artifacts/.
FUZZ_BUILD        ?= build-fuzz
FUZZ_SECONDS      ?= 60
FUZZ_TEST_SECONDS ?= 15
.PHONY: fuzz fuzz-build test-fuzz

fuzz-build: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DISO_FUZZ=ON \
	  -DISO_LIBNODE_PREFIX="$$(scripts/deps.sh --print-prefix | tail -n1)" >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

test-fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_TEST_SECONDS)

bench: build
	scripts/bench.sh $(BUILD)/bin

# Only the figures of issue 15's targets table, shorter (2 to 3 minutes):
# scripts/bench.sh --targets (bench/README.md, "Targets").
bench-targets: build
	scripts/bench.sh --targets $(BUILD)/bin

# One style (.clang-format, Chromium-based) for C and C++: `make format`
# applies it, `make format-check` (part of `make test`) fails listing every
# file that differs. clang-format 14, Debian 12's, so both agree byte for
# byte on every machine.
CLANG_FORMAT ?= clang-format-14
FORMAT_FILES  = $$(git ls-files '*.c' '*.h' '*.cc')

format: deps
	@$(CLANG_FORMAT) -i $(FORMAT_FILES)

format-check: deps
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES) 2>&1 | \
	  grep -o '^[^:]*:[0-9]*' | sort -u -t: -k1,1 | \
	  sed 's/$$/: not formatted (make format)/' | grep . && exit 1 || true

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
