/* The registry's WWW-Authenticate header (kk_registry_challenge_parse), as
 * curl hands it over: a C string without the header name. The first line
 * of the input is also parsed as an image reference and as a credential
 * serverAddress (kk_registry_ref_parse, kk_registry_server_domain), both
 * strings that come from manifests. */
#include "runtime/registry/parse.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    _cleanup_free_ char *s = fuzz_cstr(data, size);
    {
        struct kk_registry_challenge c = {0};
        _cleanup_error_ kk_error *err = NULL;
        kk_registry_challenge_parse(s, &c, &err);
        kk_registry_challenge_clear(&c);
        kk_registry_challenge_clear(&c); /* idempotent, as documented */
    }
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
    {
        struct kk_registry_ref r = {0};
        _cleanup_error_ kk_error *err = NULL;
        if (kk_registry_ref_parse(s, &r, &err) == 0)
            (void)kk_registry_api_host(r.domain);
        kk_registry_ref_clear(&r);
    }
    free(kk_registry_server_domain(s));
    (void)kk_registry_server_matches(s, "docker.io");
    return 0;
}
