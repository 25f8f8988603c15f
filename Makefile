# densearch -- GNU Makefile.
#
#   make            libdensearch.a, libdensearch.so and the densearch binary (in build/)
#   make test       build and run every test: unit, fuzz-corpus replay, CLI
#   make asan       the same tests under AddressSanitizer + UBSan (in build-asan/)
#   make fuzz       libFuzzer binaries (clang) in build-fuzz/, for time-boxed fuzzing
#   make crash      kill -9 / concurrent-writer trials against index and vectors build
#   make demo       install dependencies if needed, build, index a real corpus and search it
#   make deps       install the Debian packages the build needs
#   make python     the Python extension + package in build/python (PYTHONPATH=build/python)
#   make postgres   the PostgreSQL 15 extension (postgres/, PGXS; docs/postgres.md)
#   make postgres-test  its pg_regress tests on a throw-away cluster (part of `make test`)
#
# Variables: BUILD (output folder), OPT (optimisation flags), SAN (sanitizer flags),
#            PYTHON (interpreter the Python binding is built for and tested with).

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2 -g
SAN     ?=
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wvla -Wcast-align -Werror
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(SAN) $(WARN) -fPIC -fvisibility=hidden -pthread \
              -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu $(CFLAGS)
LIBS    := -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lnettle -lopenblas -lm -lpthread
LDFLAGS_ALL := $(SAN) -pthread $(LDFLAGS)

LIB_SRC  := $(sort $(wildcard src/*/*.c))
CLI_SRC  := $(sort $(wildcard tools/densearch/*.c tools/server/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fz_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

# Keep intermediate objects (the fuzz drivers) so rebuilds stay incremental.
.SECONDARY:

.PHONY: all test asan tsan fuzz demo deps bench clean unit-bin python python-test crash postgres postgres-test postgres-if-present
all: $(BUILD)/libdensearch.a $(BUILD)/libdensearch.so $(BUILD)/densearch

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libdensearch.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libdensearch.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# The HTTP server (tools/server/) is linked into the binary only, never the library.
$(BUILD)/densearch: $(CLI_OBJ) $(BUILD)/libdensearch.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libdensearch.a $(LIBS) -lmicrohttpd

# The unit-test list is generated from every TEST(name) in tests/unit/t_*.c.
$(BUILD)/gen/test_list.h: $(wildcard tests/unit/t_*.c)
	@mkdir -p $(dir $@)
	@grep -h '^TEST(' $^ | sed 's/^TEST(\([A-Za-z0-9_]*\)).*/X(\1)/' > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/tests/unit/main.o: CFLAGS_ALL += -I$(BUILD)/gen
$(BUILD)/obj/tests/unit/main.o: $(BUILD)/gen/test_list.h

$(BUILD)/test_unit: $(UNIT_OBJ) $(BUILD)/libdensearch.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(UNIT_OBJ) $(BUILD)/libdensearch.a $(LIBS)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/regress_main.o $(BUILD)/libdensearch.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/obj/tests/fuzz/regress_main.o $(BUILD)/libdensearch.a $(LIBS)

unit-bin: all $(BUILD)/test_unit $(FUZZ_BIN)

test: unit-bin python-test postgres-if-present
	@BUILD=$(BUILD) PYTHON=$(PYTHON) DS_SAN="$(SAN)" sh tests/run.sh

# ---- Python binding (python/) ----------------------------------------------
# Debian's interpreter, not whatever `python3` is first on PATH (a pyenv build
# would lack python3-numpy/pytest and may differ in ABI); override PYTHON=...
# to build for another one. The extension links the static library, so the
# module carries the engine; it is compiled with the library's warnings.
PYTHON  ?= /usr/bin/python3
PY_SRC  := $(sort $(wildcard python/src/*.c))
PY_PKG  := $(wildcard python/densearch/*.py python/densearch/*.pyi python/densearch/py.typed)
PY_DIR  := $(BUILD)/python/densearch
PY_STAMP := $(PY_DIR)/.built

# One stamp instead of the module's name: EXT_SUFFIX depends on the interpreter
# and is only asked of it when the module is actually built.
$(PY_STAMP): $(PY_SRC) python/src/binding.h $(PY_PKG) $(BUILD)/libdensearch.a
	@mkdir -p $(PY_DIR)
	@inc=$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])') && \
	 ext=$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))') && \
	 echo "  PY    $(PY_DIR)/_densearch$$ext" && \
	 $(CC) $(CFLAGS_ALL) -I$$inc -Ipython/src -shared $(PY_SRC) -o $(PY_DIR)/_densearch$$ext \
	     $(LDFLAGS_ALL) $(BUILD)/libdensearch.a $(LIBS) -Wl,--exclude-libs,ALL
	@cp $(PY_PKG) $(PY_DIR)/
	@touch $@

python: $(BUILD)/libdensearch.a
	@if [ -f "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)/Python.h" ]; then \
	    $(MAKE) --no-print-directory $(PY_STAMP) && echo "python: PYTHONPATH=$(BUILD)/python $(PYTHON) -c 'import densearch'"; \
	else echo "python: $(PYTHON) has no Python.h (apt-get install python3-dev)"; exit 1; fi

# Built for `make test` when the headers are there; tests/run.sh says why it
# skips the Python tests otherwise. Not under sanitizers: an ASan-built
# extension cannot be loaded into a plain interpreter (docs/TESTING.md).
python-test: unit-bin
	@if [ -z "$(SAN)" ] && [ -f "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)/Python.h" ]; then \
	    $(MAKE) --no-print-directory $(PY_STAMP); fi

# ---- PostgreSQL extension (postgres/) ---------------------------------------
# A PGXS build in postgres/ that links the kernels from the static library
# (objects are -fPIC). Tests: postgres/run-tests.sh, a throw-away cluster on a
# unix socket in a temporary directory (docs/postgres.md).
PG_CONFIG ?= pg_config
postgres: $(BUILD)/libdensearch.a
	@$(MAKE) --no-print-directory -C postgres PG_CONFIG=$(PG_CONFIG) DS_ROOT=$(CURDIR) DS_LIB=$(CURDIR)/$(BUILD)/libdensearch.a

postgres-test: postgres
	@PG_CONFIG=$(PG_CONFIG) sh postgres/run-tests.sh

# Built for `make test` when PostgreSQL 15's pg_config and PGXS are there;
# tests/run.sh runs postgres/run-tests.sh, which says why it skips otherwise.
# Not under sanitizers: an ASan-built module cannot be loaded into the server.
postgres-if-present: unit-bin
	@if [ -z "$(SAN)" ] && $(PG_CONFIG) --version 2>/dev/null | grep -q '^PostgreSQL 15' && \
	    [ -f "$$($(PG_CONFIG) --pgxs 2>/dev/null)" ]; then $(MAKE) --no-print-directory postgres; fi

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

# ThreadSanitizer over the tests that run threads (parallel HNSW build,
# concurrent searches, concurrent encodes, the env's thread pool, the write-ahead log's
# group commit; pool_works_after_fork
# is left out: TSan does not support threads started after a multi-threaded fork);
# slow, so not part of `make test`.
tsan:
	$(MAKE) BUILD=build-tsan OPT="-O1 -g" SAN="-fsanitize=thread" build-tsan/test_unit
	TSAN_OPTIONS=halt_on_error=1 build-tsan/test_unit hnsw_concurrent
	TSAN_OPTIONS=halt_on_error=1 build-tsan/test_unit hnsw_recall
	TSAN_OPTIONS=halt_on_error=1 build-tsan/test_unit model_concurrent model_batch
	TSAN_OPTIONS=halt_on_error=1 build-tsan/test_unit pool_parallel pool_gang pool_nested pool_concurrent core_parallel
	TSAN_OPTIONS=halt_on_error=1 build-tsan/test_unit wal_group_commit wal_concurrent_ops wal_sticky_failure
	TSAN_OPTIONS=halt_on_error=1 build-tsan/test_unit live_searches_run_while_writing live_background_merges live_bm25 live_concurrent_writers

# libFuzzer builds (clang): each fz_<target> links the fuzzer runtime instead of
# regress_main.c. Run e.g. build-fuzz/fz_container -max_total_time=60 tests/fuzz/corpus/fz_container
FUZZ_CC ?= clang
fuzz:
	@mkdir -p build-fuzz
	$(MAKE) CC=$(FUZZ_CC) BUILD=build-fuzz OPT="-O1 -g" SAN="-fsanitize=fuzzer-no-link,address,undefined" \
	    build-fuzz/libdensearch.a
	@for f in $(FUZZ_SRC); do t=$$(basename $$f .c); \
	    echo "  fuzz  $$t"; \
	    $(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
	        $$f build-fuzz/libdensearch.a $(LIBS) -o build-fuzz/$$t || exit 1; done

# kill -9 at random points of index / vectors build, and concurrent writers to
# one path (scripts/crash_test.sh; CRASH_ARGS e.g. "--trials 200").
crash: all
	sh scripts/crash_test.sh $(CRASH_ARGS)

deps:
	sh scripts/install-deps.sh

demo:
	sh scripts/install-deps.sh
	$(MAKE) all
	sh scripts/demo.sh

bench: all
	@echo "benchmarks are run one by one; see bench/README.md"

clean:
	rm -rf build build-asan build-fuzz build-tsan postgres/results
	rm -f postgres/*.o postgres/*.so postgres/regression.diffs postgres/regression.out

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
