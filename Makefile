# faultline — see README.md.  `make run` and `make test` are the two entry points.
CC      ?= cc
PKGS    := hwloc jansson inih liburing libndctl libdaxctl libtracefs libtraceevent libpmem numa
VERSION := $(shell git describe --always --dirty --tags 2>/dev/null || echo unknown)
OPT     ?= -O2 -g
CFLAGS  += $(OPT) $(SAN) -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 \
           -D_GNU_SOURCE -DFL_VERSION='"$(VERSION)"' -Ibench -Idrivers/uapi \
           $(shell pkg-config --cflags $(filter-out numa,$(PKGS)) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(filter-out numa,$(PKGS)) 2>/dev/null) -lnuma -lz -lpthread -lm

BUILD   := build
# Workloads register themselves (bench/registry.c): link the whole archive so
# that every workload object is kept though nothing refers to it by name.
LIBFL    = -Wl,--whole-archive $(1)/libfaultline.a -Wl,--no-whole-archive
CORE_SRC := $(filter-out bench/main.c,$(wildcard bench/*.c))
WL_SRC  := $(wildcard workloads/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
WL_OBJ  := $(WL_SRC:%.c=$(BUILD)/%.o)
HDRS    := $(wildcard bench/*.h) $(wildcard workloads/*.h) $(wildcard drivers/uapi/*.h)

.PHONY: all run test bench clean driver deps fuzz unit asan readme
all: $(BUILD)/faultline

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
unit: $(UNIT_BIN)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libfaultline.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(call LIBFL,$(BUILD)) $(LDLIBS) -lcmocka

# The same tree built with AddressSanitizer and UBSan, for the unit tests
# and the malformed-input tests.
asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		build/asan/faultline unit

# make run: quick.job on this host, then headline-vm.job in one qemu guest
# of RUN_KERNEL (scripts/vm: driver, emulated PMEM, two NUMA nodes), one
# results folder and one report (scripts/quickrun).  The guest part is a
# skip with its reason where qemu cannot run; make's status says whether a
# part failed.  RUN_KERNEL is 7.2 (Debian sid): of Debian's kernels only
# its config has CONFIG_DEVICE_PRIVATE, which device-migrate and
# device-exclusive need.
RUN_OUT ?= results/quick-$(shell date +%Y%m%d-%H%M%S)
RUN_KERNEL ?= 7.2
run:
	scripts/install-deps --quiet
	$(MAKE) -j$(shell nproc) all
	scripts/quickrun --out $(RUN_OUT) --kernel $(RUN_KERNEL)

test:
	scripts/install-deps --quiet
	$(MAKE) all unit asan
	/usr/bin/python3 tests/run.py

# Speed goals, reported as same-run ratios (tests/bench); not part of
# make test, whose timing checks are correctness bounds only.
bench: all
	/usr/bin/python3 tests/run.py bench

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libfaultline.a: $(CORE_OBJ) $(WL_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/faultline: $(BUILD)/bench/main.o $(BUILD)/libfaultline.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call LIBFL,$(BUILD)) $(LDLIBS)

# The README's workload table comes from the option tables.
readme: $(BUILD)/faultline
	/usr/bin/python3 -c 'import re,subprocess,sys; t=subprocess.run(["$(BUILD)/faultline","workload-table"],capture_output=True,text=True,check=True).stdout; r=open("README.md").read(); r=re.sub(r"(<!-- workload-table:begin -->\n).*?(<!-- workload-table:end -->)", lambda m: m.group(1)+t+m.group(2), r, flags=re.S); open("README.md","w").write(r)'

deps:
	scripts/install-deps

driver:
	$(MAKE) -C drivers KDIR=$(KDIR)

clean:
	rm -rf $(BUILD)

# ---- fuzzing -----------------------------------------------------------------
# libFuzzer harnesses in tests/fuzz/ for the job-file and option parsers,
# built with clang, ASan and UBSan into build/fuzz.  `make fuzz` runs every
# harness for FUZZ_SECONDS (in parallel, niced); any crash, hang, leak or
# sanitizer report fails the target and leaves the input in build/fuzz/.
# Packages: scripts/debian-packages.txt, "# fuzzing".
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

fuzz-build:
	$(MAKE) BUILD=build/fuzz CC=$(FUZZ_CC) OPT="-O1 -g" \
		SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_BIN)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libfaultline.a $(HDRS)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(call LIBFL,build/fuzz) $(LDLIBS)

fuzz: fuzz-build
	/usr/bin/python3 tests/fuzz/run.py --seconds $(FUZZ_SECONDS) $(FUZZ_BIN)
.PHONY: fuzz-build
# ---- end fuzzing -------------------------------------------------------------
