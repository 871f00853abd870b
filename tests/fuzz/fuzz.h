/* Shared bits of the libFuzzer harnesses (tests/fuzz/fuzz-*.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput, hands the bytes to one
 * parser's public entry point and frees everything it got back: leaks fail
 * the run (ASan's leak checker is on under libFuzzer).
 */
#ifndef KUKEON_TESTS_FUZZ_H
#define KUKEON_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsapi/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Known open bugs the harnesses may step around (set to 1 while one is
 * open), so that a run measures everything else; each has its reproducer
 * under tests/fuzz/crashes/, read as a regression input on every run.
 * None is open: LONGKEY (keys over 1024 characters written as implicit
 * keys, crashes/manifest/long-label-key.yaml, crashes/yaml/long-key.yaml)
 * is fixed, kk_yaml_emit writes them as explicit "? key" keys. */
#ifndef FUZZ_SKIP_KNOWN_BUGS
#define FUZZ_SKIP_KNOWN_BUGS 0
#endif

/* LONGKEY: whether a line of YAML text has its first ": " (or ':' at the
 * end) at byte column 1024 or later (bytes >= characters: never misses). */
static inline bool fuzz_has_long_key(const char *s, size_t n)
{
    size_t col = 0;
    bool sep = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            col = 0;
            sep = false;
            continue;
        }
        if (!sep && s[i] == ':' && (i + 1 == n || s[i + 1] == ' ' || s[i + 1] == '\n')) {
            if (col >= 1024)
                return true;
            sep = true;
        }
        col++;
    }
    return false;
}

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
