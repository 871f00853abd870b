# protobuf-c code for containerd's gRPC API, generated at build time from the
# .proto files Debian ships (golang-github-containerd-containerd-dev, gogo,
# containerd/cgroups) and the google/protobuf well-known types. Output goes to
# $(BUILD)/gen (headers, included as "github.com/containerd/...pb-c.h") and
# $(BUILD)/lib/libkk-proto.a. Nothing generated is committed; the code is not
# ours, so it is compiled with -w instead of the project's -Werror flags.
ifneq ($(filter runtime/containerd,$(MODULE_DIRS)),)

PROTO_GOSRC ?= /usr/share/gocode/src
PROTO_PBINC ?= /usr/include
PROTOC_C    ?= protoc-c

PROTO_CTD_API := github.com/containerd/containerd/api
PROTO_CTD_FILES := \
	$(PROTO_CTD_API)/types/descriptor.proto \
	$(PROTO_CTD_API)/types/mount.proto \
	$(PROTO_CTD_API)/types/metrics.proto \
	$(PROTO_CTD_API)/types/platform.proto \
	$(PROTO_CTD_API)/types/task/task.proto \
	$(PROTO_CTD_API)/services/version/v1/version.proto \
	$(PROTO_CTD_API)/services/namespaces/v1/namespace.proto \
	$(PROTO_CTD_API)/services/content/v1/content.proto \
	$(PROTO_CTD_API)/services/images/v1/images.proto \
	$(PROTO_CTD_API)/services/snapshots/v1/snapshots.proto \
	$(PROTO_CTD_API)/services/diff/v1/diff.proto \
	$(PROTO_CTD_API)/services/leases/v1/leases.proto \
	$(PROTO_CTD_API)/services/containers/v1/containers.proto \
	$(PROTO_CTD_API)/services/tasks/v1/tasks.proto \
	$(PROTO_CTD_API)/services/events/v1/events.proto \
	$(PROTO_CTD_API)/events/task.proto \
	github.com/containerd/containerd/protobuf/plugin/fieldpath.proto \
	github.com/containerd/cgroups/stats/v1/metrics.proto \
	github.com/containerd/cgroups/v2/stats/metrics.proto
# gogo.proto must be generated from its own root (listing it with the others
# gives "already defined" errors).
PROTO_GOGO_FILES := gogoproto/gogo.proto
PROTO_WKT_FILES := google/protobuf/any.proto google/protobuf/empty.proto \
	google/protobuf/timestamp.proto google/protobuf/field_mask.proto \
	google/protobuf/descriptor.proto

PROTO_ALL := $(PROTO_CTD_FILES) $(PROTO_GOGO_FILES) $(PROTO_WKT_FILES)
PROTO_GEN_SRCS := $(patsubst %.proto,$(BUILD)/gen/%.pb-c.c,$(PROTO_ALL))
PROTO_GEN_OBJS := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/proto-obj/%.o,$(PROTO_GEN_SRCS))
PROTO_STAMP := $(BUILD)/gen/.proto-stamp

$(PROTO_STAMP): $(lastword $(MAKEFILE_LIST))
	@rm -rf $(BUILD)/gen/github.com $(BUILD)/gen/gogoproto $(BUILD)/gen/google
	@mkdir -p $(BUILD)/gen
	cd $(PROTO_GOSRC) && $(PROTOC_C) -I. -Igithub.com/gogo/protobuf -I$(PROTO_PBINC) \
		--c_out=$(abspath $(BUILD)/gen) $(PROTO_CTD_FILES) 2>&1 | { grep -v 'is unused' || true; }
	cd $(PROTO_GOSRC)/github.com/gogo/protobuf && $(PROTOC_C) -I. -I$(PROTO_PBINC) \
		--c_out=$(abspath $(BUILD)/gen) $(PROTO_GOGO_FILES)
	cd $(PROTO_PBINC) && $(PROTOC_C) -I. --c_out=$(abspath $(BUILD)/gen) $(PROTO_WKT_FILES)
	@for f in $(PROTO_GEN_SRCS); do test -f $$f || { echo "protoc-c did not write $$f" >&2; exit 1; }; done
	@touch $@

$(PROTO_GEN_SRCS): $(PROTO_STAMP)
	@:

$(BUILD)/proto-obj/%.o: $(BUILD)/gen/%.c $(PROTO_STAMP)
	@mkdir -p $(@D)
	$(CC) -std=c11 -w $(OPTFLAGS) -I$(BUILD)/gen $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/lib/libkk-proto.a: $(PROTO_GEN_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

KK_GEN_LIBS += $(BUILD)/lib/libkk-proto.a
KK_GEN_STAMPS += $(PROTO_STAMP)

endif
