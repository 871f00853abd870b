/* registries.yaml (kk_registry_config_parse): hosts, mirrors, CA files,
 * authFile, tmpDir, limits. A config that loads is queried for a few hosts. */
#include "runtime/registry/registry.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kk_registry_config cfg = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (kk_registry_config_parse("registries.yaml", (const char *)data, size, &cfg, &err) == 0) {
        (void)kk_registry_config_host(&cfg, "docker.io");
        (void)kk_registry_config_host(&cfg, "127.0.0.1:5000");
        for (size_t i = 0; i < cfg.n_registries; i++)
            (void)kk_registry_config_host(&cfg, cfg.registries[i].host);
    }
    kk_registry_config_clear(&cfg);
    return 0;
}
