/* Digests and chain IDs. */
#include <stdlib.h>
#include <string.h>

#include "fsapi/sha256.h"
#include "runtime/image/archive.h"

void kk_image_sha256(const void *data, size_t len, char out[72])
{
    kk_sha256_digest(data, len, out);
}

bool kk_image_digest_valid(const char *d)
{
    if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
        return false;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

char **kk_image_chain_ids(char *const *diff_ids, size_t n)
{
    char **v = kk_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        if (i == 0) {
            v[0] = kk_xstrdup(diff_ids[0]);
            continue;
        }
        _cleanup_free_ char *cat = kk_xasprintf("%s %s", v[i - 1], diff_ids[i]);
        v[i] = kk_xmalloc(72);
        kk_image_sha256(cat, strlen(cat), v[i]);
    }
    return v;
}

const char *kk_image_host_arch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "386";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}
