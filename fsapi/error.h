/* The one error type of kukeon (crun's libcrun_error_t idea).
 *
 * Every fallible function takes `kk_error **err` as its last argument and
 * returns a negative value on failure (usually -1), after filling *err:
 *
 *     if (openat(dirfd, name, O_RDONLY | O_NOFOLLOW) < 0)
 *         return kk_error_errno(err, "open %s", name);
 *     ...
 *     if (load_spec(path, &spec, err) < 0)
 *         return kk_error_wrap(err, "cell %s", key);
 *
 * Invariants:
 *   - The kk_error_* setters below accept err == NULL and then only return
 *     -1, so a helper may discard an error it does not need. Every other
 *     function of the project needs a non-NULL err unless its header says
 *     otherwise (kk_grpc_call_wait does, for one).
 *   - On success *err is left untouched; on failure *err is non-NULL and owns
 *     its strings. The caller frees it with kk_error_free (or _cleanup_error_).
 *   - `code` is drawn from the gRPC status code space (KK_E_*), the common
 *     language of containerd, the registry client and our own checks, so a
 *     NotFound from containerd and an ENOENT from the tree compare equal.
 *   - `sys_errno` keeps the errno that caused the error (0 if none).
 *   - `message` grows by prefixing context on the way up ("cell web: create
 *     task: ttrpc: closed"); the final string lands in status.yaml `message`.
 *   - `reason` is an optional CamelCase code for status.yaml `reason`
 *     (e.g. "ImagePullFailed"); the first one set is kept while wrapping.
 */
#ifndef KUKEON_ERROR_H
#define KUKEON_ERROR_H

#include "fsapi/cleanup.h"

typedef enum kk_code {
    KK_E_OK = 0,
    KK_E_CANCELLED = 1,
    KK_E_UNKNOWN = 2,
    KK_E_INVALID = 3, /* InvalidArgument */
    KK_E_DEADLINE = 4,
    KK_E_NOT_FOUND = 5,
    KK_E_EXISTS = 6,
    KK_E_PERMISSION = 7,
    KK_E_EXHAUSTED = 8,
    KK_E_PRECONDITION = 9,
    KK_E_ABORTED = 10,
    KK_E_OUT_OF_RANGE = 11,
    KK_E_UNIMPLEMENTED = 12,
    KK_E_INTERNAL = 13,
    KK_E_UNAVAILABLE = 14,
    KK_E_DATA_LOSS = 15,
    KK_E_UNAUTHENTICATED = 16,
} kk_code;

typedef struct kk_error {
    kk_code code;
    int sys_errno;
    char *reason;
    char *message;
} kk_error;

/* Sets *err (replacing any previous error) and returns -1. */
int kk_error_set(kk_error **err, kk_code code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Like kk_error_set, with the current errno kept and its strerror appended;
 * the code is derived from errno (ENOENT -> NOT_FOUND, EEXIST -> EXISTS...). */
int kk_error_errno(kk_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same with an explicit errno value (positive). */
int kk_error_errnum(kk_error **err, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Prefixes "<context>: " to the message of an existing error; returns -1.
 * If *err is NULL (a caller bug), creates an UNKNOWN error instead. */
int kk_error_wrap(kk_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the status reason if none is set yet. Returns -1 for tail calls. */
int kk_error_reason(kk_error **err, const char *reason);

/* The setters above return -1, always, and these macros say so where they
 * are called: a `return kk_error_set(...)` then reads, to the compiler and
 * to clang's static analyzer (which sees one file at a time, so not
 * error.c), as the failure it is, one that leaves the caller's
 * out-parameters unwritten. error.c defines the functions with their names
 * in parentheses, which these function-like macros do not expand. */
#define kk_error_set(err, ...)                                                                     \
    ({                                                                                             \
        kk_error_set((err), __VA_ARGS__);                                                          \
        -1;                                                                                        \
    })
#define kk_error_errno(err, ...)                                                                   \
    ({                                                                                             \
        kk_error_errno((err), __VA_ARGS__);                                                        \
        -1;                                                                                        \
    })
#define kk_error_errnum(err, ...)                                                                  \
    ({                                                                                             \
        kk_error_errnum((err), __VA_ARGS__);                                                       \
        -1;                                                                                        \
    })
#define kk_error_wrap(err, ...)                                                                    \
    ({                                                                                             \
        kk_error_wrap((err), __VA_ARGS__);                                                         \
        -1;                                                                                        \
    })
#define kk_error_reason(err, reason)                                                               \
    ({                                                                                             \
        kk_error_reason((err), (reason));                                                          \
        -1;                                                                                        \
    })

void kk_error_free(kk_error *err);
static inline void kk_error_freep(kk_error **err)
{
    kk_error_free(*err);
    *err = NULL;
}
#define _cleanup_error_ _cleanup_(kk_error_freep)

static inline kk_code kk_error_code(const kk_error *err)
{
    return err ? err->code : KK_E_OK;
}

/* "NotFound", "AlreadyExists", ...; never NULL. */
const char *kk_code_name(kk_code code);
kk_code kk_code_from_errno(int errnum);

#endif
