/* Shared bits of the libFuzzer harnesses (tests/fuzz/fuzz-*.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput, hands the bytes to one
 * parser's public entry point and frees everything it got back: leaks fail
 * the run (ASan's leak checker is on under libFuzzer).
 */
#ifndef KUKEON_TESTS_FUZZ_H
#define KUKEON_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsapi/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The bytes as a C string (parsers that take one stop at the first NUL, as
 * they would on a real header or file). Free with free(). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Diagnostics and warnings are expected on most inputs; printing them only
 * slows the run down. */
#define FUZZ_QUIET_INIT                                                                            \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                              \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        kk_log_set_level(KK_LOG_ERROR);                                                            \
        return 0;                                                                                  \
    }

#endif
