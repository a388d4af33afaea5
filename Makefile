# Roost — the front door. `make run` and `make test` are the two commands the README promises;
# everything else here is a convenience around CMake and ctest.
JOBS        ?= $(shell nproc)
MAKEFLAGS   += --no-print-directory
BUILD       ?= build
MANIFEST    ?= cluster/manifests/local.yaml
CTEST_FLAGS ?= --output-on-failure --timeout 600

.PHONY: all deps release asan tsan fuzz-build fuzz run test test-asan test-tsan test-fuzz bench \
        clean format sim
SEEDS       ?= 1000
FUZZ_SECONDS ?= 60

all: release

deps:
	@scripts/install-deps

release: deps
	@cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD)/release -j $(JOBS)

asan: deps
	@cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DROOST_SANITIZE=address,undefined >/dev/null
	@cmake --build $(BUILD)/asan -j $(JOBS)

tsan: deps
	@cmake -S . -B $(BUILD)/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DROOST_SANITIZE=thread >/dev/null
	@cmake --build $(BUILD)/tsan -j $(JOBS)

# libFuzzer targets (clang), one per decoder of untrusted input; corpus in tests/fuzz/corpus.
fuzz-build: deps
	@CC=clang cmake -S . -B $(BUILD)/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROOST_FUZZ=ON \
	    -DROOST_SANITIZE=address,undefined -DROOST_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(BUILD)/fuzz -j $(JOBS) --target fuzz_envelope fuzz_clustermap fuzz_manifest \
	    fuzz_actor_frames fuzz_frame fuzz_auth_body fuzz_replication

# Every fuzz target for FUZZ_SECONDS (60 s by default).
fuzz: fuzz-build
	@cd $(BUILD)/fuzz && ctest $(CTEST_FLAGS) -L fuzz -j $(JOBS)

# Starts the local example cluster in the foreground (Ctrl-C stops every node).
run: release
	@$(BUILD)/release/cluster/roostctl up $(MANIFEST)

test-asan: asan
	@cd $(BUILD)/asan && ctest $(CTEST_FLAGS) -j $(JOBS)

# The runtime's concurrent parts under ThreadSanitizer.
test-tsan: tsan
	@cd $(BUILD)/tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	    ctest $(CTEST_FLAGS) -L tsan -j $(JOBS)

# A short smoke of every fuzz target (10 s each) as part of `make test`.
test-fuzz:
	@$(MAKE) fuzz FUZZ_SECONDS=10

test: test-asan test-tsan test-fuzz

bench: release
	@$(BUILD)/release/bench/roost-bench --help

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

# Many simulation seeds in parallel (sim/README.md): `make sim SEEDS=10000`; failing seeds are
# listed with the command that replays each.
sim: release
	@scripts/sim-seeds $(SEEDS) 1 $(JOBS)
