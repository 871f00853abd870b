#include "fsapi/buf.h"

#include <errno.h>
#include <stdbool.h>
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

size_t kk_utf8_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xf5 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* overlong 3/4-byte forms, surrogates, past U+10FFFF */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* Multi-byte characters that YAML treats as line breaks (NEL, LS, PS) or
 * strips (BOM), with their escapes. */
static const struct {
    const char *utf8;
    const char *escape;
} yaml_special[] = {
        {"\xc2\x85", "\\N"},
        {"\xe2\x80\xa8", "\\L"},
        {"\xe2\x80\xa9", "\\P"},
        {"\xef\xbb\xbf", "\\uFEFF"},
};

/* Valid UTF-8 that YAML still may not carry raw (libyaml's printable set
 * excludes them): the C1 controls U+0080..U+009F and U+FFFE, U+FFFF. Sets
 * *len and the code point. */
static bool yaml_unprintable(const char *str, size_t n, size_t *len, unsigned *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (n >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] < 0xa0) {
        *len = 2;
        *cp = s[1];
        return true;
    }
    if (n >= 3 && s[0] == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf)) {
        *len = 3;
        *cp = s[2] == 0xbe ? 0xfffeu : 0xffffu;
        return true;
    }
    return false;
}

static const char *yaml_special_at(const char *s, size_t n, size_t *len)
{
    for (size_t i = 0; i < KK_ARRAY_SIZE(yaml_special); i++) {
        size_t l = strlen(yaml_special[i].utf8);
        if (l <= n && memcmp(s, yaml_special[i].utf8, l) == 0) {
            *len = l;
            return yaml_special[i].escape;
        }
    }
    return NULL;
}

size_t kk_quote_verbatim_len(const char *s, size_t n, enum kk_quote_style style)
{
    unsigned char c = (unsigned char)s[0];
    size_t l;
    if (c < 0x20 || c == '"' || c == '\\')
        return 0;
    if (style == KK_QUOTE_JSON || c < 0x7f)
        return 1;
    unsigned cp;
    if (c == 0x7f || yaml_special_at(s, n, &l) || yaml_unprintable(s, n, &l, &cp))
        return 0;
    return kk_utf8_len(s, n);
}

/* Appends the escape of the character at s (n > 0 bytes), one that
 * kk_quote_verbatim_len does not copy; returns its length in s. */
static size_t add_escape(struct kk_buf *b, const char *s, size_t n, enum kk_quote_style style)
{
    unsigned char c = (unsigned char)s[0];
    size_t l;
    const char *esc;
    switch (c) {
    case '"':
        kk_buf_adds(b, "\\\"");
        return 1;
    case '\\':
        kk_buf_adds(b, "\\\\");
        return 1;
    case '\n':
        kk_buf_adds(b, "\\n");
        return 1;
    case '\t':
        kk_buf_adds(b, "\\t");
        return 1;
    case '\r':
        kk_buf_adds(b, "\\r");
        return 1;
    }
    if (style == KK_QUOTE_JSON) {
        kk_buf_printf(b, "\\u%04x", c);
        return 1;
    }
    if ((esc = yaml_special_at(s, n, &l))) {
        kk_buf_adds(b, esc);
        return l;
    }
    unsigned cp;
    if (yaml_unprintable(s, n, &l, &cp)) {
        if (cp < 0x100)
            kk_buf_printf(b, "\\x%02X", cp);
        else
            kk_buf_printf(b, "\\u%04X", cp);
        return l;
    }
    kk_buf_printf(b, "\\x%02x", c);
    return 1;
}

void kk_buf_add_quoted(struct kk_buf *b, const char *s, size_t n, enum kk_quote_style style)
{
    size_t i = 0, run = 0;
    kk_buf_addch(b, '"');
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++; /* the common case, without a call */
            continue;
        }
        size_t l = kk_quote_verbatim_len(s + i, n - i, style);
        if (l) {
            i += l;
            continue;
        }
        kk_buf_add(b, s + run, i - run);
        i += add_escape(b, s + i, n - i, style);
        run = i;
    }
    kk_buf_add(b, s + run, n - run);
    kk_buf_addch(b, '"');
}
