/* A growable byte buffer (git's strbuf, trimmed).
 *
 * Invariants:
 *   - A zero-initialised struct kk_buf (KK_BUF_INIT) is a valid empty buffer.
 *   - After any append, data is non-NULL and data[len] == '\0', so a buffer
 *     of text can be used as a C string; binary content may contain NULs.
 *   - Growth aborts on out-of-memory (see cleanup.h); appends never fail.
 *   - kk_buf_detach hands ownership of data to the caller and resets the
 *     buffer; kk_buf_release frees it.
 */
#ifndef KUKEON_BUF_H
#define KUKEON_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "fsapi/cleanup.h"

struct kk_buf {
    char *data;
    size_t len;
    size_t cap;
};

#define KK_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void kk_buf_grow(struct kk_buf *b, size_t extra);
void kk_buf_add(struct kk_buf *b, const void *data, size_t len);
void kk_buf_adds(struct kk_buf *b, const char *s);
void kk_buf_addch(struct kk_buf *b, char c);
void kk_buf_printf(struct kk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kk_buf_reset(struct kk_buf *b);
char *kk_buf_detach(struct kk_buf *b, size_t *len);
void kk_buf_release(struct kk_buf *b);
/* Reads the whole of fd until EOF, failing with EFBIG past max bytes.
 * Returns 0, or -errno. */
int kk_buf_read_fd(struct kk_buf *b, int fd, size_t max);

/* Double-quoted strings: the one escaper of the tree, for JSON (the OCI
 * spec, kuke -o json) and YAML (kk_yaml_emit). Both styles write '"', '\\',
 * newline, tab and carriage return as \" \\ \n \t \r; they differ in the
 * rest:
 *   KK_QUOTE_JSON  RFC 8259: other C0 controls as \u00xx; every other byte,
 *                  0x7f and non-UTF-8 bytes included, as it is.
 *   KK_QUOTE_YAML  YAML double-quoted: other C0 controls, DEL and every byte
 *                  that is not part of well-formed UTF-8 as \xXX (a status
 *                  file holding any bytes must still load); NEL, LS, PS as
 *                  \N \L \P and BOM as \uFEFF, which a YAML reader would
 *                  otherwise take as line breaks or strip.
 * Hex digits are lower case, except in \uFEFF. */
enum kk_quote_style {
    KK_QUOTE_JSON,
    KK_QUOTE_YAML,
};
/* Appends s (n bytes, NULs allowed) quoted and escaped in `style`. */
void kk_buf_add_quoted(struct kk_buf *b, const char *s, size_t n, enum kk_quote_style style);
/* The length of the character at s (n > 0 bytes) if kk_buf_add_quoted
 * copies it as it is, 0 if it escapes it. Lets a writer that may leave a
 * string unquoted (YAML plain style) apply the same character rules. */
size_t kk_quote_verbatim_len(const char *s, size_t n, enum kk_quote_style style);
/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes): 1 for ASCII,
 * 0 for none (a stray continuation byte, an overlong form, a surrogate, a
 * code point past U+10FFFF, or a sequence cut short by n). */
size_t kk_utf8_len(const char *s, size_t n);

static inline const char *kk_buf_str(const struct kk_buf *b)
{
    return b->data ? b->data : "";
}

#define _cleanup_buf_ _cleanup_(kk_buf_release)

#endif
