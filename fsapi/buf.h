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

static inline const char *kk_buf_str(const struct kk_buf *b)
{
    return b->data ? b->data : "";
}

#define _cleanup_buf_ _cleanup_(kk_buf_release)

#endif
