/* Image archives (kk_image_archive_parse): `docker save` tars with a
 * manifest.json (Config, RepoTags, Layers) and OCI layouts (oci-layout,
 * index.json, blobs/sha256/...), through the whole import plan: nested
 * indexes, platform choice, config diff_ids, GC labels. Parsed for this
 * host and for linux/arm64 with a base name for tag-only OCI refs. */
#include "runtime/image/archive.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly-sized heap copy: out-of-bounds reads are ASan reports. */
    _cleanup_free_ uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    {
        _cleanup_(kk_image_archive_freep) struct kk_image_archive *a = NULL;
        _cleanup_error_ kk_error *err = NULL;
        if (kk_image_archive_parse(copy, size, NULL, &a, &err) == 0) {
            for (size_t i = 0; i < a->n_blobs; i++)
                (void)kk_image_label(a->blobs[i].labels, KK_LABEL_GC_CONFIG);
        }
    }
    {
        const struct kk_image_archive_opts opts = {
                .os = "linux", .architecture = "arm64", .base_name = "example.com/app"};
        _cleanup_(kk_image_archive_freep) struct kk_image_archive *a = NULL;
        _cleanup_error_ kk_error *err = NULL;
        kk_image_archive_parse(copy, size, &opts, &a, &err);
    }
    return 0;
}
