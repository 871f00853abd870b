/* Platform selection from an image index (see parse.h). */
#include <string.h>

#include "runtime/image/archive.h"
#include "runtime/registry/parse.h"

/* containerd's normalisation: the default variant of an architecture is
 * the same as none at all. */
static const char *norm_variant(const char *arch, const char *variant)
{
    if (variant && !*variant)
        variant = NULL;
    if (strcmp(arch, "arm64") == 0 && (!variant || strcmp(variant, "v8") == 0))
        return "v8";
    if (strcmp(arch, "arm") == 0 && !variant)
        return "v7";
    if (strcmp(arch, "amd64") == 0 && variant && strcmp(variant, "v1") == 0)
        return NULL;
    return variant;
}

/* Rank of an entry's variant for the wanted one: higher is better, -1 is
 * unusable. */
static int variant_rank(const char *arch, const char *want, const char *have)
{
    if ((!want && !have) || (want && have && strcmp(want, have) == 0))
        return 100;
    /* 32-bit arm runs older variants: v7 runs v6 and v5 */
    if (strcmp(arch, "arm") == 0 && want && have && strlen(want) == 2 && strlen(have) == 2 &&
        want[0] == 'v' && have[0] == 'v' && have[1] < want[1] && have[1] >= '5')
        return 10 + (have[1] - '0');
    if (!have)
        return 1;
    return -1;
}

static bool is_manifest_type(const char *mt)
{
    return mt && (strcmp(mt, KK_MT_OCI_MANIFEST) == 0 || strcmp(mt, KK_MT_DOCKER_MANIF) == 0 ||
                  strcmp(mt, KK_MT_OCI_INDEX) == 0 || strcmp(mt, KK_MT_DOCKER_LIST) == 0);
}

int kk_registry_platform_pick(const struct kk_json *index, const struct kk_registry_platform *want,
                              size_t *out, kk_error **err)
{
    const char *os = want && want->os ? want->os : "linux";
    const char *arch = want && want->architecture ? want->architecture : kk_image_host_arch();
    const char *variant = norm_variant(arch, want ? want->variant : NULL);
    const struct kk_json *ms = kk_json_get(index, "manifests");
    int best = -1;

    if (!kk_json_is(ms, KK_JSON_ARRAY))
        return kk_error_set(err, KK_E_INVALID, "index has no \"manifests\" array");
    for (size_t i = 0; i < ms->n && i < KK_IMAGE_MAX_MANIFESTS; i++) {
        const struct kk_json *d = kk_json_at(ms, i);
        const struct kk_json *p = kk_json_get(d, "platform");
        if (!is_manifest_type(kk_json_str(kk_json_get(d, "mediaType"))) ||
            !kk_image_digest_valid(kk_json_str(kk_json_get(d, "digest"))))
            continue;
        const char *pos = kk_json_str(kk_json_get(p, "os"));
        const char *parch = kk_json_str(kk_json_get(p, "architecture"));
        if (!pos || !parch || strcmp(pos, os) != 0 || strcmp(parch, arch) != 0)
            continue;
        int rank = variant_rank(arch, variant,
                                norm_variant(parch, kk_json_str(kk_json_get(p, "variant"))));
        if (rank > best) {
            best = rank;
            *out = i;
        }
    }
    if (best < 0)
        return kk_error_set(err, KK_E_NOT_FOUND, "no manifest for %s/%s%s%s", os, arch,
                            variant ? "/" : "", variant ? variant : "");
    return 0;
}
