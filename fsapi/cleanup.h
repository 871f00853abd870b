/* Scope-bound cleanup helpers (systemd / crun style).
 *
 * Declare a variable with one of the _cleanup_*_ attributes and it is
 * released when it goes out of scope, on every return path:
 *
 *     _cleanup_free_ char *path = NULL;
 *     _cleanup_close_ int fd = -1;
 *
 * Invariants:
 *   - Every destructor accepts the "empty" value (NULL, -1) and does nothing.
 *   - Ownership leaves a scope only explicitly, with TAKE_PTR / TAKE_FD, which
 *     return the value and reset the variable to empty.
 *   - Destructors preserve errno, so `return -errno` after a cleanup is safe.
 *
 * Allocation: kk_xmalloc and friends abort on out-of-memory (git's xmalloc
 * policy). kukeon is a long-lived agent with small allocations; an OOM is not
 * something it can usefully recover from, and unchecked NULLs are worse.
 */
#ifndef KUKEON_CLEANUP_H
#define KUKEON_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void kk_freep(void *p)
{
    free(*(void **)p);
}

static inline void kk_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

static inline void kk_fclosep(FILE **f)
{
    if (*f) {
        int saved = errno;
        fclose(*f);
        errno = saved;
    }
}

static inline void kk_closedirp(DIR **d)
{
    if (*d) {
        int saved = errno;
        closedir(*d);
        errno = saved;
    }
}

/* Frees a NULL-terminated array of strings and the array itself. */
void kk_strv_free(char **v);
static inline void kk_strv_freep(char ***v)
{
    kk_strv_free(*v);
}

#define _cleanup_free_     _cleanup_(kk_freep)
#define _cleanup_close_    _cleanup_(kk_closep)
#define _cleanup_fclose_   _cleanup_(kk_fclosep)
#define _cleanup_closedir_ _cleanup_(kk_closedirp)
#define _cleanup_strv_     _cleanup_(kk_strv_freep)

/* Hands ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) _taken = (p);                                                                \
        (p) = NULL;                                                                                \
        _taken;                                                                                    \
    })

#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int _taken = (fd);                                                                         \
        (fd) = -1;                                                                                 \
        _taken;                                                                                    \
    })

/* Defines `static inline void name##p(type **p)` calling `fn(*p)` if non-NULL,
 * for use as _cleanup_(name##p). */
#define KK_DEFINE_CLEANUP(type, fn)                                                                \
    static inline void fn##p(type **p)                                                             \
    {                                                                                              \
        if (*p)                                                                                    \
            fn(*p);                                                                                \
    }

#define KK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *kk_xmalloc(size_t size);
void *kk_xcalloc(size_t n, size_t size);
void *kk_xrealloc(void *p, size_t size);
/* Grows *p (of *cap elements of elem_size) to hold at least `need` elements. */
void kk_xgrow(void **p, size_t *cap, size_t need, size_t elem_size);
char *kk_xstrdup(const char *s);
char *kk_xstrndup(const char *s, size_t n);
char *kk_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
