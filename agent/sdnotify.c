/* sd_notify without libsystemd: see sdnotify.h for the protocol and for
 * what kukeond sends when. */
#include "agent/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fsapi/cleanup.h"

/* Fills `sa` from a $NOTIFY_SOCKET value; returns the address length. */
static int notify_address(const char *path, struct sockaddr_un *sa, socklen_t *len, kk_error **err)
{
    size_t n = strlen(path);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (path[0] != '/' && path[0] != '@')
        return kk_error_set(err, KK_E_INVALID, "notify socket %s: neither a path nor @abstract",
                            path);
    if (n < 2 || n > sizeof(sa->sun_path) - (path[0] == '/'))
        return kk_error_set(err, KK_E_INVALID, "notify socket %s: bad length", path);
    memcpy(sa->sun_path, path, n);
    /* An abstract name is the bytes after a leading NUL, not NUL-terminated:
     * its length is part of the name. */
    if (path[0] == '@')
        sa->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
    return 0;
}

int kk_sd_notify(const char *socket_path, const char *msg, kk_error **err)
{
    struct sockaddr_un sa;
    socklen_t salen = 0;
    _cleanup_close_ int fd = -1;
    size_t len = strlen(msg);
    ssize_t n;

    if (!socket_path)
        socket_path = getenv("NOTIFY_SOCKET");
    if (!socket_path || !*socket_path)
        return 0;
    if (len == 0 || len > KK_SD_NOTIFY_MAX)
        return kk_error_set(err, KK_E_INVALID, "notify message of %zu bytes", len);
    if (notify_address(socket_path, &sa, &salen, err) < 0)
        return -1;

    /* Non-blocking: a service manager that does not read must not wedge the
     * agent; the message is then lost and reported. */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return kk_error_errno(err, "notify socket");
    n = sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    if (n < 0)
        return kk_error_errno(err, "send to notify socket %s", socket_path);
    if ((size_t)n != len)
        return kk_error_set(err, KK_E_INTERNAL, "notify socket %s: short send", socket_path);
    return 1;
}

int kk_sd_notifyf(const char *socket_path, kk_error **err, const char *fmt, ...)
{
    char msg[KK_SD_NOTIFY_MAX + 1];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return kk_error_set(err, KK_E_INVALID, "notify message too long");
    return kk_sd_notify(socket_path, msg, err);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

uint64_t kk_sd_watchdog_usec(void)
{
    const char *pid_s = getenv("WATCHDOG_PID");
    uint64_t usec, pid;

    if (parse_u64(getenv("WATCHDOG_USEC"), &usec) < 0)
        return 0;
    /* WATCHDOG_PID names the one process expected to ping; a child that
     * inherited the environment must stay silent. */
    if (pid_s && (parse_u64(pid_s, &pid) < 0 || pid != (uint64_t)getpid()))
        return 0;
    return usec;
}
