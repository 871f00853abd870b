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

/* Known bugs the harnesses step around while they are open, so that a
 * run measures everything else; each has its reproducer under
 * tests/fuzz/crashes/. Set to 0 (or build with -DFUZZ_SKIP_KNOWN_BUGS=0)
 * once fixed: the reproducers must then pass.
 *
 *   C1: kk_quote_verbatim_len (fsapi/buf.c) copies C1 control characters
 *   (U+0080..U+009F but U+0085, UTF-8 C2 80..C2 9F) verbatim into YAML,
 *   plain or double-quoted; libyaml refuses them ("control characters are
 *   not allowed"), so a spec holding one is written to the state tree and
 *   cannot be read back. The same for the noncharacters U+FFFE and
 *   U+FFFF (UTF-8 EF BF BE, EF BF BF). */
#ifndef FUZZ_SKIP_KNOWN_BUGS
#define FUZZ_SKIP_KNOWN_BUGS 1
#endif

/* Whether YAML text holds a character libyaml refuses to read that the
 * emitter writes as it is (see C1 above, and U+FFFE, U+FFFF). */
static inline bool fuzz_has_unprintable(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)s[i + 1];
        if (a == 0xc2 && b >= 0x80 && b <= 0x9f && b != 0x85)
            return true;
        if (a == 0xef && b == 0xbf && i + 2 < n &&
            ((unsigned char)s[i + 2] == 0xbe || (unsigned char)s[i + 2] == 0xbf))
            return true;
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
