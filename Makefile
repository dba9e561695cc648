# snaplake build. `make` builds every binary; `make test` runs the whole suite under ASan and
# UBSan (plus valgrind over the unit tests); `make demo` runs the pipeline on the local stack.
# Both test and demo run scripts/bootstrap.sh first, which installs what a fresh machine lacks.

CC      ?= cc
BUILD   ?= build
SAN     ?= 0
PKGS    := rdkafka libcurl openssl libcjson libpq libxml-2.0 libmicrohttpd

WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla \
           -Werror
# pkg-config only when the packages are there, so `make help`/`clean` work on a bare machine.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS   += -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Icommon $(PKG_CFLAGS)
# OPT is the optimisation level; CFLAGS from the command line or the environment is added
# after the warnings, so `make CFLAGS=...` can never drop -std=c11 or -Werror.
OPT        ?= -O1 -g
override CFLAGS := $(OPT) $(WARN) -fno-omit-frame-pointer $(CFLAGS)
LDLIBS     += $(PKG_LIBS) -lm

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
override CFLAGS += $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)
endif

COMMON_SRC  := $(wildcard common/*.c)
COMMON_OBJ  := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIB         := $(BUILD)/libsnaplake.a

PRODUCER_SRC := $(wildcard producer/*.c)
WORKER_SRC   := $(wildcard worker/*.c)
CTL_SRC      := $(wildcard ctl/*.c)
BINS := $(if $(PRODUCER_SRC),$(BUILD)/bin/snaplake-producer) \
        $(if $(WORKER_SRC),$(BUILD)/bin/snaplake-worker) \
        $(if $(CTL_SRC),$(BUILD)/bin/snaplakectl)

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
IT_SRC    := $(wildcard tests/integration/it_*.c)
IT_BINS   := $(IT_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
BENCH_SRC  := $(wildcard bench/bench_*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%) $(BUILD)/bench/s3sink $(BUILD)/bench/latproxy \
              $(BUILD)/bench/rss_floor
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all lib bins tests unit bootstrap test test-unit demo fuzz bench stack-start stack-stop \
        format-check clean help
SUITE := $(if $(wildcard tests/sigv4_suite.c),tests/sigv4-suite)
all: lib bins $(SUITE) tests

lib: $(LIB)
bins: $(BINS)
tests: $(UNIT_BINS) $(IT_BINS) $(BENCH_BINS)
# The unit tests alone: tests/run.sh builds only these for valgrind (build/plain), not the
# binaries, integration tests and benchmarks that nothing runs from that build; test_latproxy
# runs the proxy as a process (BUILD/bench/latproxy), so that one comes along.
unit: $(UNIT_BINS) $(BUILD)/bench/latproxy

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/snaplake-producer: $(PRODUCER_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/snaplake-worker: $(WORKER_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/snaplakectl: $(CTL_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Issue contract: `tests/sigv4-suite DIR...` is built by `make` at this path.
tests/sigv4-suite: $(BUILD)/tests/sigv4_suite.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests of a worker's pure logic also link that one object (it is not in the library).
$(BUILD)/tests/unit/test_copy_plan: $(BUILD)/tests/unit/test_copy_plan.o \
    $(BUILD)/worker/copy_plan.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test_copy_pace: $(BUILD)/tests/unit/test_copy_pace.o \
    $(BUILD)/worker/copy_pace.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test_crawl_match: $(BUILD)/tests/unit/test_crawl_match.o \
    $(BUILD)/worker/crawl_match.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test_export_admit: $(BUILD)/tests/unit/test_export_admit.o \
    $(BUILD)/worker/export_admit.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/unit/test_crawl_plan: $(BUILD)/tests/unit/test_crawl_plan.o \
    $(BUILD)/worker/crawl_plan.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test_ctl_since: $(BUILD)/tests/unit/test_ctl_since.o \
    $(BUILD)/ctl/ctl_db.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test_notify_body: $(BUILD)/tests/unit/test_notify_body.o \
    $(BUILD)/worker/notify_body.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test_job_phase: $(BUILD)/tests/unit/test_job_phase.o \
    $(BUILD)/worker/job_phase.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test_outcome_msg: $(BUILD)/tests/unit/test_outcome_msg.o \
    $(BUILD)/worker/outcome_msg.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer harnesses: clang. common/ is compiled once with the harnesses' instrumentation
# (fuzzer-no-link: coverage without libFuzzer's main) into its own library; each harness is one
# object linked against it, so adding a harness costs one compile, not a rebuild of common/.
FUZZ_BUILD := build/fuzz
FUZZ_SAN   := address,undefined -fno-sanitize-recover=all -g -O1
FUZZ_CC    := clang $(CPPFLAGS) -std=c11 -Wall -Wextra -Werror -Wno-unused-command-line-argument
FUZZ_LIB   := $(FUZZ_BUILD)/libsnaplake-fuzz.a
FUZZ_BINS  := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -MMD -MP -c -o $@ $<
$(FUZZ_LIB): $(COMMON_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
	rm -f $@
	ar rcs $@ $^
# A harness of a worker's pure parser adds that object as a prerequisite:
#   $(FUZZ_BUILD)/fuzz_x: $(FUZZ_BUILD)/obj/worker/x_plan.o
$(FUZZ_BUILD)/fuzz_copy_plan: $(FUZZ_BUILD)/obj/worker/copy_plan.o
$(FUZZ_BUILD)/fuzz_ctl_since: $(FUZZ_BUILD)/obj/ctl/ctl_db.o
$(FUZZ_BINS): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/tests/fuzz/%.o $(FUZZ_LIB)
	$(FUZZ_CC) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $(filter %.o,$^) $(FUZZ_LIB) $(LDLIBS)
fuzz: $(FUZZ_BINS)

bootstrap:
	scripts/bootstrap.sh

# The whole suite: bootstrap, sanitizer build, unit + sigv4 + valgrind + fuzz smoke +
# integration against the local stack. tests/run.sh prints the totals.
test: bootstrap
	tests/run.sh

test-unit:
	$(MAKE) BUILD=build/asan SAN=1 all
	tests/run.sh --unit-only

demo: bootstrap
	scripts/demo.sh

bench: bootstrap
	$(MAKE) BUILD=build/bench-rel OPT=-O2 all
	scripts/bench.sh

stack-start:
	scripts/stack.sh start

stack-stop:
	scripts/stack.sh stop

format-check:
	scripts/format-check.sh

clean:
	rm -rf build tests/sigv4-suite

help:
	@echo "make            build every binary into $(BUILD)/"
	@echo "make test       install what is missing, run the whole suite (ASan+UBSan)"
	@echo "make demo       install what is missing, run the pipeline on the local stack"
	@echo "make stack-start / stack-stop   the local Kafka, PostgreSQL and moto"

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
