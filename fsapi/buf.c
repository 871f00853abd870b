#include "fsapi/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void kk_buf_grow(struct kk_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        abort();
    size_t need = b->len + extra + 1;
    if (need > b->cap) {
        void *p = b->data;
        kk_xgrow(&p, &b->cap, need, 1);
        b->data = p;
    }
    /* Keeps "data[len] is NUL" true for every caller, including a read
     * that ends up adding nothing. */
    b->data[b->len] = '\0';
}

void kk_buf_add(struct kk_buf *b, const void *data, size_t len)
{
    kk_buf_grow(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void kk_buf_adds(struct kk_buf *b, const char *s)
{
    kk_buf_add(b, s, strlen(s));
}

void kk_buf_addch(struct kk_buf *b, char c)
{
    kk_buf_add(b, &c, 1);
}

void kk_buf_printf(struct kk_buf *b, const char *fmt, ...)
{
    va_list ap;
    kk_buf_grow(b, 64);
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n >= b->cap - b->len) {
        kk_buf_grow(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void kk_buf_reset(struct kk_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *kk_buf_detach(struct kk_buf *b, size_t *len)
{
    kk_buf_grow(b, 0);
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void kk_buf_release(struct kk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int kk_buf_read_fd(struct kk_buf *b, int fd, size_t max)
{
    for (;;) {
        kk_buf_grow(b, 8192);
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        b->len += (size_t)n;
        b->data[b->len] = '\0';
        if (b->len > max)
            return -EFBIG;
    }
}
