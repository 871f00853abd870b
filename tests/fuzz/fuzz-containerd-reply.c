/* protobuf decoding of containerd's replies: the bytes after the first as
 * one response message of the type byte 0 chooses (every reply type the
 * client reads, plus the cgroup v1/v2 metrics carried in a Metrics Any),
 * unpacked with protobuf-c through the generated descriptors as
 * kk_grpc_unary does, then freed. (No repack check: kukeon never packs
 * a reply, and protobuf-c 1.4 keeps an unknown field numbered 0, written
 * as a non-minimal varint "80 00", that it then packs as bytes it refuses:
 * its quirk, not ours.) */
#include "github.com/containerd/cgroups/stats/v1/metrics.pb-c.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb-c.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.pb-c.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.pb-c.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.pb-c.h"
#include "github.com/containerd/containerd/api/services/namespaces/v1/namespace.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "tests/fuzz/fuzz.h"

static const ProtobufCMessageDescriptor *const replies[] = {
        &containerd__services__containers__v1__get_container_response__descriptor,
        &containerd__services__containers__v1__list_containers_response__descriptor,
        &containerd__services__containers__v1__create_container_response__descriptor,
        &containerd__services__content__v1__info_response__descriptor,
        &containerd__services__content__v1__list_statuses_response__descriptor,
        &containerd__services__content__v1__read_content_response__descriptor,
        &containerd__services__content__v1__list_content_response__descriptor,
        &containerd__services__diff__v1__apply_response__descriptor,
        &containerd__services__images__v1__get_image_response__descriptor,
        &containerd__services__images__v1__list_images_response__descriptor,
        &containerd__services__leases__v1__list_response__descriptor,
        &containerd__services__namespaces__v1__list_namespaces_response__descriptor,
        &containerd__services__snapshots__v1__mounts_response__descriptor,
        &containerd__services__snapshots__v1__stat_snapshot_response__descriptor,
        &containerd__services__snapshots__v1__list_snapshots_response__descriptor,
        &containerd__services__tasks__v1__get_response__descriptor,
        &containerd__services__tasks__v1__list_tasks_response__descriptor,
        &containerd__services__tasks__v1__list_pids_response__descriptor,
        &containerd__services__tasks__v1__delete_response__descriptor,
        &containerd__services__tasks__v1__metrics_response__descriptor,
        &containerd__services__tasks__v1__wait_response__descriptor,
        &containerd__services__version__v1__version_response__descriptor,
        &io__containerd__cgroups__v1__metrics__descriptor,
        &io__containerd__cgroups__v2__metrics__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *d = replies[data[0] % KK_ARRAY_SIZE(replies)];
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
    if (!m)
        return 0;
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
