# kukeon — one entry point: build, check, install, demo, bench.
#
# Layout: every directory of MODULE_DIRS with .c files becomes one static
# library build/lib/libkk-<dir with / as ->.a (fsapi, runtime-cgroup, ...).
# kuke/*.c is the `kuke` CLI and agent/kukeond/*.c the `kukeond` main:
# thin mains over the libraries. Module fragments (*.mk beside the sources)
# may add generated code (KK_GEN_LIBS, KK_GEN_STAMPS) and per-test link sets.
#
# Use BUILD=dir for a separate build tree (e.g. parallel builds, ASan).

BUILD      ?= build
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR    ?=
CC         ?= cc
PKG_CONFIG ?= pkg-config
SANITIZE   ?=

PKGS := yaml-0.1 libcurl libprotobuf-c libmnl libnftables libcrypto
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

OPTFLAGS ?= -O2 -g
KK_CFLAGS := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -I$(BUILD)/gen $(PKG_CFLAGS) \
             -fno-strict-aliasing -MMD -MP
KK_LDLIBS := $(PKG_LIBS) -linotifytools -lpthread -lz
ifneq ($(SANITIZE),)
OPTFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
KK_LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS = $(KK_CFLAGS) $(OPTFLAGS) $(CFLAGS)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
KK_CFLAGS += -DKUKEON_VERSION=\"$(VERSION)\"

.DEFAULT_GOAL := all

MODULE_DIRS := fsapi runtime $(patsubst %/,%,$(sort $(dir $(wildcard runtime/*/*.c)))) agent
KK_GEN_LIBS :=
KK_GEN_STAMPS :=

-include $(wildcard fsapi/*.mk runtime/*.mk runtime/*/*.mk agent/*.mk tests/*.mk bench/*.mk)

libname = $(BUILD)/lib/libkk-$(subst /,-,$(1)).a
srcs_of = $(wildcard $(1)/*.c)
objs_of = $(patsubst %.c,$(BUILD)/obj/%.o,$(call srcs_of,$(1)))

MODULES_WITH_SRCS := $(foreach m,$(MODULE_DIRS),$(if $(call srcs_of,$(m)),$(m)))
ALL_LIBS := $(foreach m,$(MODULES_WITH_SRCS),$(call libname,$(m))) $(KK_GEN_LIBS)
TESTLIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/lib/*.c))

KUKE_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard kuke/*.c))
KUKEOND_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard agent/kukeond/*.c))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/test-*.c))
ROOT_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(wildcard tests/integration/test-*.c))
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench-*.c))

LINK_ALL = -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(KK_LDLIBS)

.PHONY: all check check-unit check-root check-asan check-valgrind install demo bench clean format \
        format-check analyze
all: $(BUILD)/bin/kuke $(BUILD)/bin/kukeond

$(BUILD)/obj/%.o: %.c | $(KK_GEN_STAMPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

define module_lib
$(call libname,$(1)): $(call objs_of,$(1))
	@mkdir -p $$(@D)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES_WITH_SRCS),$(eval $(call module_lib,$(m))))

$(BUILD)/bin/kuke: $(KUKE_OBJS) $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(OPTFLAGS) $(KK_LDFLAGS) $(LDFLAGS) -o $@ $(KUKE_OBJS) $(LINK_ALL)

$(BUILD)/bin/kukeond: $(KUKEOND_OBJS) $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(OPTFLAGS) $(KK_LDFLAGS) $(LDFLAGS) -o $@ $(KUKEOND_OBJS) $(LINK_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTLIB_OBJS) $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(OPTFLAGS) $(KK_LDFLAGS) $(LDFLAGS) -o $@ $< $(TESTLIB_OBJS) $(LINK_ALL)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(TESTLIB_OBJS) $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(OPTFLAGS) $(KK_LDFLAGS) $(LDFLAGS) -o $@ $< $(TESTLIB_OBJS) $(LINK_ALL)

# The README's test command. Unit tests need nothing; the root tests start
# their own containerd, cgroups, namespaces and nft tables, and clean up.
check: all $(UNIT_TESTS) $(ROOT_TESTS) $(BENCHES)
	@BUILD=$(BUILD) tests/run.sh --all $(UNIT_TESTS) -- $(ROOT_TESTS)

check-unit: all $(UNIT_TESTS)
	@BUILD=$(BUILD) tests/run.sh --unit $(UNIT_TESTS)

check-root: all $(ROOT_TESTS)
	@BUILD=$(BUILD) tests/run.sh --root -- $(ROOT_TESTS)

check-asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 check-unit

check-valgrind: all $(UNIT_TESTS)
	@BUILD=$(BUILD) KK_TEST_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect" tests/run.sh --unit $(UNIT_TESTS)

bench: all $(BENCHES)
	@BUILD=$(BUILD) bench/run.sh

# make demo DEMO_ARGS="--log-level debug": flags for kukeond.
demo: all
	BUILD=$(BUILD) contrib/demo.sh $(DEMO_ARGS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BUILD)/bin/kuke $(DESTDIR)$(BINDIR)/kuke
	install -m 0755 $(BUILD)/bin/kukeond $(DESTDIR)$(SBINDIR)/kukeond
	install -d $(DESTDIR)$(SYSCONFDIR)/kukeon/manifests
	for p in $(wildcard docs/*.[1-8]); do \
	    s=$${p##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
	    install -m 0644 $$p $(DESTDIR)$(MANDIR)/man$$s/; done
	# The units name /usr/local and /etc paths: point them at this install's.
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 contrib/gitops/kukeon-gitops-pull $(DESTDIR)$(BINDIR)/kukeon-gitops-pull
	for u in contrib/systemd/kukeond.service contrib/gitops/kukeon-gitops.service \
	         contrib/gitops/kukeon-gitops.timer; do \
	    sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g; s|/usr/local/bin/|$(BINDIR)/|g; s|/etc/kukeon/|$(SYSCONFDIR)/kukeon/|g' $$u \
	        >$(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/}; \
	    chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/}; done
	# An example config, never over the administrator's.
	[ -e $(DESTDIR)$(SYSCONFDIR)/kukeon/kukeond.yaml ] || \
	    install -m 0644 contrib/systemd/kukeond.yaml $(DESTDIR)$(SYSCONFDIR)/kukeon/kukeond.yaml
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 contrib/bash-completion/kuke $(DESTDIR)$(PREFIX)/share/bash-completion/completions/kuke
	install -d $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0644 contrib/zsh/_kuke $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_kuke
	install -m 0644 contrib/fish/kuke.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/kuke.fish

# clang's static analyzer over every object of `all` and of the unit tests
# (so tests/lib and tests/unit are analysed too); fails on any report. The
# scan tree is removed first: an object left from an earlier run would not
# be recompiled, hence not analysed, and its report would silently vanish.
# The generated protobuf-c library is not ours: it is built with plain clang
# before the scan starts. CC is given to the inner make from scan-build's
# environment (its ccc-analyzer), so neither `make analyze CC=...` nor a
# make not named "make" can bypass the analyzer.
SCAN_BUILD ?= scan-build
ANALYZE_BUILD := $(BUILD)-scan
analyze:
	rm -rf $(ANALYZE_BUILD)
	$(MAKE) BUILD=$(ANALYZE_BUILD) CC=clang \
	    $(patsubst $(BUILD)/%,$(ANALYZE_BUILD)/%,$(KK_GEN_LIBS))
	$(SCAN_BUILD) --status-bugs --use-cc=clang -o $(ANALYZE_BUILD)/reports \
	    sh -c '$(MAKE) BUILD=$(ANALYZE_BUILD) CC="$$CC" all \
	        $(patsubst $(BUILD)/%,$(ANALYZE_BUILD)/%,$(UNIT_TESTS))'

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD) build-asan build-clang $(BUILD)-scan $(BUILD)-fuzz

.SECONDARY:
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
