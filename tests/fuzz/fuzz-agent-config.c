/* kukeond.yaml (kk_agent_config_load_file). The loader takes a path only,
 * so the bytes go to a memfd named through /proc/self/fd (no disk). A
 * buffer entry point (kk_agent_config_load_buffer) would make this
 * cheaper; until then this is the same code path the agent runs. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/config.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("kukeond.yaml", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct kk_agent_config cfg;
    kk_agent_config_init(&cfg);
    _cleanup_error_ kk_error *err = NULL;
    kk_agent_config_load_file(&cfg, path, true, &err);
    kk_agent_config_release(&cfg);
    close(fd);
    return 0;
}
