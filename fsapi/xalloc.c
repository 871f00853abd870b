#include "fsapi/cleanup.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

static void oom(void)
{
    static const char msg[] = "kukeon: out of memory\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    abort();
}

void *kk_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *kk_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *kk_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        oom();
    return q;
}

void kk_xgrow(void **p, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            oom();
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem_size)
        oom();
    *p = kk_xrealloc(*p, ncap * elem_size);
    *cap = ncap;
}

char *kk_xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        oom();
    return d;
}

char *kk_xstrndup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        oom();
    return d;
}

char *kk_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom();
    return s;
}

void kk_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}
