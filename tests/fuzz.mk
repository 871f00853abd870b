# libFuzzer harnesses (tests/fuzz/fuzz-*.c), one per parser of outside bytes.
#
#     make fuzz                     build every harness, run each 60 s
#     make fuzz FUZZ_SECONDS=300    longer
#     make fuzz FUZZ=tar,archive    only these (names without "fuzz-")
#     make fuzz-build               build only
#     make fuzz-clean               remove $(FUZZ_BUILD)
#     FUZZ_JOBS=2                   two harnesses at a time
#     FUZZ_KEEP_GOING=1             run them all, fail at the end
#
# The harnesses and the project's libraries are rebuilt with clang in their
# own tree, $(FUZZ_BUILD) (default $(BUILD)-fuzz): the libraries with
# -fsanitize=fuzzer-no-link,address,undefined (coverage for libFuzzer, ASan,
# UBSan, every report fatal), the harnesses linked with -fsanitize=fuzzer.
# tests/fuzz/run.sh then runs each on its seed corpus (tests/fuzz/corpus/
# NAME, read only; new inputs go to $(FUZZ_BUILD)/fuzz/work/NAME) and fails
# on the first crash, leak, timeout or out-of-memory, naming the harness.
# Reproducers land in $(FUZZ_BUILD)/fuzz/artifacts/NAME/.

FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_KEEP_GOING ?= 0
FUZZ_BUILD   ?= $(BUILD)-fuzz
FUZZ_CC      ?= clang
FUZZ         ?=
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz-*.c))
# The libraries as the top Makefile names them (its own list is defined
# after this file is read).
FUZZ_LIBS := $(foreach m,$(MODULE_DIRS),$(if $(wildcard $(m)/*.c),$(BUILD)/lib/libkk-$(subst /,-,$(m)).a)) \
             $(KK_GEN_LIBS)

.PHONY: fuzz fuzz-build fuzz-build-inner
fuzz: fuzz-build
	@FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_KEEP_GOING=$(FUZZ_KEEP_GOING) tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS) $(subst $(fuzz_comma), ,$(FUZZ))

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) SANITIZE= \
	    OPTFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	    KK_LDFLAGS="$(FUZZ_SAN)" fuzz-build-inner

# Inner make only (BUILD is the fuzz tree, CC clang).
fuzz-build-inner: $(FUZZ_BINS)

# Harness objects go through the top Makefile's %.o rule (so their .d files
# are read too: a harness that #includes a .c is rebuilt when it changes).
$(BUILD)/fuzz/fuzz-%: $(BUILD)/obj/tests/fuzz/fuzz-%.o $(FUZZ_LIBS)
	@mkdir -p $(@D)
	$(CC) $(OPTFLAGS) $(KK_LDFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< \
	    -Wl,--start-group $(FUZZ_LIBS) -Wl,--end-group $(KK_LDLIBS)

fuzz_comma := ,

.PHONY: fuzz-clean
fuzz-clean:
	rm -rf $(FUZZ_BUILD)
