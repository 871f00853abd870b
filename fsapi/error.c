#include "fsapi/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char *vformat(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    return s;
}

static int set_message(kk_error **err, kk_code code, int errnum, char *message)
{
    if (!err) { /* the caller asked not to know */
        free(message);
        return -1;
    }
    kk_error_free(*err);
    kk_error *e = kk_xcalloc(1, sizeof(*e));
    e->code = code;
    e->sys_errno = errnum;
    e->message = message;
    *err = e;
    return -1;
}

int(kk_error_set)(kk_error **err, kk_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    return set_message(err, code, 0, msg);
}

static int errnum_error(kk_error **err, int errnum, const char *fmt, va_list ap)
{
    _cleanup_free_ char *ctx = vformat(fmt, ap);
    char *msg = kk_xasprintf("%s: %s", ctx, strerror(errnum));
    return set_message(err, kk_code_from_errno(errnum), errnum, msg);
}

int(kk_error_errno)(kk_error **err, const char *fmt, ...)
{
    int errnum = errno;
    va_list ap;
    va_start(ap, fmt);
    errnum_error(err, errnum, fmt, ap);
    va_end(ap);
    return -1;
}

int(kk_error_errnum)(kk_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errnum_error(err, errnum < 0 ? -errnum : errnum, fmt, ap);
    va_end(ap);
    return -1;
}

int(kk_error_wrap)(kk_error **err, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *ctx = vformat(fmt, ap);
    va_end(ap);
    if (!*err)
        return kk_error_set(err, KK_E_UNKNOWN, "%s: unknown error", ctx);
    char *msg = kk_xasprintf("%s: %s", ctx, (*err)->message);
    free((*err)->message);
    (*err)->message = msg;
    return -1;
}

int(kk_error_reason)(kk_error **err, const char *reason)
{
    if (err && *err && !(*err)->reason)
        (*err)->reason = kk_xstrdup(reason);
    return -1;
}

void kk_error_free(kk_error *err)
{
    if (!err)
        return;
    free(err->reason);
    free(err->message);
    free(err);
}

const char *kk_code_name(kk_code code)
{
    static const char *const names[] = {
            [KK_E_OK] = "OK",
            [KK_E_CANCELLED] = "Cancelled",
            [KK_E_UNKNOWN] = "Unknown",
            [KK_E_INVALID] = "InvalidArgument",
            [KK_E_DEADLINE] = "DeadlineExceeded",
            [KK_E_NOT_FOUND] = "NotFound",
            [KK_E_EXISTS] = "AlreadyExists",
            [KK_E_PERMISSION] = "PermissionDenied",
            [KK_E_EXHAUSTED] = "ResourceExhausted",
            [KK_E_PRECONDITION] = "FailedPrecondition",
            [KK_E_ABORTED] = "Aborted",
            [KK_E_OUT_OF_RANGE] = "OutOfRange",
            [KK_E_UNIMPLEMENTED] = "Unimplemented",
            [KK_E_INTERNAL] = "Internal",
            [KK_E_UNAVAILABLE] = "Unavailable",
            [KK_E_DATA_LOSS] = "DataLoss",
            [KK_E_UNAUTHENTICATED] = "Unauthenticated",
    };
    if ((unsigned)code < KK_ARRAY_SIZE(names) && names[code])
        return names[code];
    return "Unknown";
}

kk_code kk_code_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return KK_E_OK;
    case ENOENT:
    case ESRCH:
    case ENODEV:
    case ENXIO:
        return KK_E_NOT_FOUND;
    case EEXIST:
        return KK_E_EXISTS;
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
    case ENOTDIR:
    case EISDIR:
        return KK_E_INVALID;
    case EACCES:
    case EPERM:
        return KK_E_PERMISSION;
    case ENOMEM:
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case EFBIG:
    case EDQUOT:
        return KK_E_EXHAUSTED;
    case ETIMEDOUT:
        return KK_E_DEADLINE;
    case EBUSY:
    case ENOTEMPTY:
        return KK_E_PRECONDITION;
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
    case EAGAIN:
        return KK_E_UNAVAILABLE;
    case ENOSYS:
    case EOPNOTSUPP:
        return KK_E_UNIMPLEMENTED;
    case ECANCELED:
    case EINTR:
        return KK_E_CANCELLED;
    default:
        return KK_E_UNKNOWN;
    }
}
