/* OCI / Docker image JSON from a registry or an archive: the bytes as an
 * image index (kk_registry_platform_pick for this host and for arm/v6, as
 * the puller does), as a manifest (the descriptor walk of the puller:
 * schemaVersion, config, layers[] digest/size/mediaType) and as an image
 * config (kk_oci_image_config_parse: Entrypoint, Cmd, Env, User,
 * WorkingDir, rootfs.diff_ids). */
#include "runtime/image/archive.h"
#include "runtime/oci/spec.h"
#include "runtime/registry/parse.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

static void walk_descriptor(const struct kk_json *d)
{
    int64_t size;
    (void)kk_image_digest_valid(kk_json_str(kk_json_get(d, "digest")));
    (void)kk_json_int(kk_json_get(d, "size"), &size);
    (void)kk_json_str(kk_json_get(d, "mediaType"));
}

static void as_index_and_manifest(const uint8_t *data, size_t size)
{
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_json_parse((const char *)data, size, &j, &err) < 0)
        return;
    size_t pos;
    kk_registry_platform_pick(j, NULL, &pos, &err);
    kk_error_freep(&err);
    const struct kk_registry_platform arm = {"linux", "arm", "v6"};
    kk_registry_platform_pick(j, &arm, &pos, &err);
    kk_error_freep(&err);
    const struct kk_registry_platform arm64 = {NULL, "arm64", NULL};
    kk_registry_platform_pick(j, &arm64, &pos, &err);

    int64_t version;
    (void)kk_json_int(kk_json_get(j, "schemaVersion"), &version);
    walk_descriptor(kk_json_get(j, "config"));
    const struct kk_json *layers = kk_json_get(j, "layers");
    for (size_t i = 0; i < kk_json_len(layers); i++)
        walk_descriptor(kk_json_at(layers, i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_index_and_manifest(data, size);
    struct kk_oci_image_config cfg = {0};
    _cleanup_error_ kk_error *err = NULL;
    kk_oci_image_config_parse((const char *)data, size, &cfg, &err);
    kk_oci_image_config_clear(&cfg);
    return 0;
}
