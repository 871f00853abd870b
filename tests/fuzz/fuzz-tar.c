/* The tar reader (kk_tar_next) over an image archive or a layer: every
 * entry is walked to the end and its name checked with kk_tar_name_safe;
 * the data pointer must stay inside the input (checked here, and by ASan
 * when the bytes are touched). */
#include <stdio.h>

#include "runtime/image/tar.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly `size` bytes: ASan then flags any read past it. */
    _cleanup_free_ uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    struct kk_tar *t = malloc(sizeof(*t));
    if (!t)
        abort();
    kk_tar_init(t, copy, size);
    struct kk_tar_entry e;
    _cleanup_error_ kk_error *err = NULL;
    unsigned sum = 0;
    while (kk_tar_next(t, &e, &err) > 0) {
        (void)kk_tar_name_safe(e.name);
        if (e.linkname)
            sum += (unsigned)strlen(e.linkname);
        if (e.type == KK_TAR_REG && e.size > 0) {
            if (e.data < copy || e.size > size || e.data + e.size > copy + size) {
                fprintf(stderr, "entry %s: data outside the archive\n", e.name);
                abort();
            }
            sum += e.data[0] + e.data[e.size - 1];
        }
    }
    free(t);
    return (int)(sum & 0);
}
