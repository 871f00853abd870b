/* The image's /etc/passwd and /etc/group (kk_oci_resolve_user): files from
 * an untrusted image, read to resolve a container's user. Input: the
 * user spec on the first line, then passwd text, a line "--", group text. */
#include "runtime/oci/spec.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    _cleanup_free_ char *s = fuzz_cstr(data, size);
    char *passwd = strchr(s, '\n');
    char *group = NULL;
    if (passwd) {
        *passwd++ = '\0';
        group = strstr(passwd, "\n--\n");
        if (group) {
            *group = '\0';
            group += 4;
        }
    }
    struct kk_oci_user u = {0};
    _cleanup_error_ kk_error *err = NULL;
    kk_oci_resolve_user(s, passwd, group, &u, &err);
    kk_oci_user_clear(&u);
    return 0;
}
