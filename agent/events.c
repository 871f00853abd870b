/* The events file of a resource: see events.h (docs/design.md §2.10). */
#include "agent/events.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsapi/atomic.h"
#include "fsapi/cleanup.h"
#include "fsapi/fsutil.h"

/* One lock for every file: events are rare, and a trim must not drop a
 * line another thread appends between its read and its rename. */
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;

/* Appends s to out[*n..cap), TAB, CR and LF as spaces; stops before cap. */
static void put(char *out, size_t *n, size_t cap, const char *s)
{
    for (; s && *s && *n < cap; s++)
        out[(*n)++] = (*s == '\t' || *s == '\r' || *s == '\n') ? ' ' : *s;
}

/* Moves *n back so that out[0..*n) does not end inside a UTF-8 sequence. */
static void utf8_boundary(const char *out, size_t start, size_t *n)
{
    size_t end = *n;
    size_t i = end;
    /* Back to the lead byte of the last sequence (at most 3 continuations). */
    while (i > start && end - i < 4 && ((unsigned char)out[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == start)
        return;
    unsigned char lead = (unsigned char)out[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (end - (i - 1) < need)
        *n = i - 1; /* the last sequence is incomplete: drop it */
}

size_t kk_events_format(char *out, int64_t now_ns, enum kk_event_type type, const char *reason,
                        const char *object, const char *message)
{
    const size_t cap = KK_EVENTS_LINE_MAX - 1; /* room for the newline */
    time_t s = (time_t)(now_ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(out + n, 32, ".%03dZ\t%s\t", (int)((now_ns / 1000000) % 1000),
                          type == KK_EVENT_WARNING ? "Warning" : "Normal");
    put(out, &n, 200, reason);
    out[n++] = '\t';
    put(out, &n, 400, object);
    out[n++] = '\t';
    size_t msg_start = n;
    put(out, &n, cap, message);
    if (message && n == cap && strlen(message) > n - msg_start)
        utf8_boundary(out, msg_start, &n);
    out[n++] = '\n';
    out[n] = '\0';
    return n;
}

/* Keeps the newest whole lines of the file that fit in KK_EVENTS_KEEP. */
static int trim(int dirfd, int fd, off_t size, kk_error **err)
{
    _cleanup_free_ char *buf = kk_xmalloc(KK_EVENTS_KEEP);
    off_t from = size > KK_EVENTS_KEEP ? size - KK_EVENTS_KEEP : 0;
    ssize_t got = pread(fd, buf, KK_EVENTS_KEEP, from);
    if (got < 0)
        return kk_error_errno(err, "read " KK_EVENTS_FILE);
    size_t skip = 0;
    if (from > 0) {
        /* Starts inside a line unless the byte before is a newline. */
        char before = '\n';
        if (pread(fd, &before, 1, from - 1) != 1 || before != '\n') {
            const char *nl = memchr(buf, '\n', (size_t)got);
            skip = nl ? (size_t)(nl - buf) + 1 : (size_t)got;
        }
    }
    return kk_atomic_write(dirfd, KK_EVENTS_FILE, buf + skip, (size_t)got - skip, 0644, err);
}

/* Opens events.log for appending; whatever is in the way (a symlink, a
 * hard link to another file, a fifo) is removed, never followed. */
static int open_log(int dirfd, kk_error **err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = openat(dirfd, KK_EVENTS_FILE,
                        O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
        struct stat sb;
        if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_nlink == 1)
            return fd;
        if (fd < 0 && errno != ELOOP && errno != ENXIO && errno != EISDIR)
            return kk_error_errno(err, "open " KK_EVENTS_FILE);
        if (fd >= 0)
            close(fd);
        if (unlinkat(dirfd, KK_EVENTS_FILE, 0) < 0)
            return kk_error_errno(err, "replace " KK_EVENTS_FILE);
    }
    return kk_error_set(err, KK_E_ABORTED, KK_EVENTS_FILE " keeps being replaced");
}

static int append_locked(int rootfd, const char *dir, const char *line, size_t len, kk_error **err)
{
    _cleanup_close_ int dirfd = kk_fs_open_dir(rootfd, dir, err);
    if (dirfd < 0)
        return -1;
    _cleanup_close_ int fd = open_log(dirfd, err);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, line, len);
    if (w < 0)
        return kk_error_errno(err, "write " KK_EVENTS_FILE);
    if ((size_t)w != len)
        return kk_error_set(err, KK_E_EXHAUSTED, "short write to " KK_EVENTS_FILE);
    struct stat sb;
    if (fstat(fd, &sb) == 0 && sb.st_size > KK_EVENTS_TRIM_AT)
        return trim(dirfd, fd, sb.st_size, err);
    return 0;
}

int kk_events_append(int rootfd, const char *dir, int64_t now_ns, enum kk_event_type type,
                     const char *reason, const char *object, const char *message, kk_error **err)
{
    char line[KK_EVENTS_LINE_MAX + 1];
    size_t len = kk_events_format(line, now_ns, type, reason, object, message);
    pthread_mutex_lock(&events_lock);
    int r = append_locked(rootfd, dir, line, len, err);
    pthread_mutex_unlock(&events_lock);
    return r;
}

void kk_events_emit(int rootfd, const char *dir, int64_t now_ns, enum kk_event_type type,
                    const char *reason, const char *object, const char *fmt, ...)
{
    char msg[KK_EVENTS_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    _cleanup_error_ kk_error *err = NULL;
    kk_events_append(rootfd, dir, now_ns, type, reason, object, msg, &err);
}
