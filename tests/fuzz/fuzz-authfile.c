/* auth.json / Docker config.json (kk_registry_authfile_lookup), looked up
 * for a few domains and repositories, including Docker Hub's aliases and a
 * domain with a port. */
#include "runtime/registry/parse.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const q[][2] = {
            {"docker.io", "library/busybox"},
            {"127.0.0.1:5000", "team/app"},
            {"registry.example.com", "a/b/c"},
            {"ghcr.io", ""},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(q); i++) {
        struct kk_registry_login login = {0};
        _cleanup_error_ kk_error *err = NULL;
        kk_registry_authfile_lookup((const char *)data, size, q[i][0], q[i][1], &login, &err);
        kk_registry_login_clear(&login);
    }
    return 0;
}
