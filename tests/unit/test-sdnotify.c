/* agent/sdnotify.h: the datagrams a service manager receives, on a path
 * socket and in the abstract namespace; watchdog variables. */
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/sdnotify.h"
#include "fsapi/cleanup.h"
#include "tests/lib/kktest.h"

/* Binds a datagram socket playing the service manager at `name` (a path, or
 * "@..." for the abstract namespace); returns the fd or -1. */
static int manager_socket(const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || n >= sizeof(sa.sun_path))
        return -1;
    memcpy(sa.sun_path, name, n);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    else
        len++;
    if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One datagram within a second, NUL-terminated into buf; its length or -1. */
static ssize_t receive(int fd, char *buf, size_t size)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    if (poll(&p, 1, 1000) != 1)
        return -1;
    n = recv(fd, buf, size - 1, 0);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

KT_CASE(path_socket_receives_ready_and_status)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *path = kk_xasprintf("%s/notify", kt_tmpdir());
    _cleanup_close_ int fd = manager_socket(path);
    char buf[256];

    KT_ASSERT(fd >= 0);
    KT_ASSERT_EQ(kk_sd_notify(path, "READY=1\nSTATUS=ready: 2 cells", &err), 1);
    KT_ASSERT_EQ(receive(fd, buf, sizeof(buf)), strlen("READY=1\nSTATUS=ready: 2 cells"));
    KT_ASSERT_STREQ(buf, "READY=1\nSTATUS=ready: 2 cells");
    KT_ASSERT_EQ(kk_sd_notifyf(path, &err, "STATUS=%u pending", 3u), 1);
    KT_ASSERT(receive(fd, buf, sizeof(buf)) > 0);
    KT_ASSERT_STREQ(buf, "STATUS=3 pending");
}

KT_CASE(abstract_socket_from_environment)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *name = kk_xasprintf("@kukeon-test-sdnotify-%d", (int)getpid());
    _cleanup_close_ int fd = manager_socket(name);
    char buf[256];

    KT_ASSERT(fd >= 0);
    KT_ASSERT(setenv("NOTIFY_SOCKET", name, 1) == 0);
    KT_ASSERT_EQ(kk_sd_notify(NULL, "WATCHDOG=1", &err), 1);
    unsetenv("NOTIFY_SOCKET");
    KT_ASSERT(receive(fd, buf, sizeof(buf)) > 0);
    KT_ASSERT_STREQ(buf, "WATCHDOG=1");
}

KT_CASE(unset_socket_is_a_noop)
{
    _cleanup_error_ kk_error *err = NULL;

    unsetenv("NOTIFY_SOCKET");
    KT_ASSERT_EQ(kk_sd_notify(NULL, "READY=1", &err), 0);
    KT_ASSERT(setenv("NOTIFY_SOCKET", "", 1) == 0);
    KT_ASSERT_EQ(kk_sd_notify(NULL, "READY=1", &err), 0);
    unsetenv("NOTIFY_SOCKET");
    KT_ASSERT(err == NULL);
}

KT_CASE(errors_are_reported)
{
    _cleanup_error_ kk_error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
    _cleanup_free_ char *missing = kk_xasprintf("%s/nobody-listens", kt_tmpdir());
    _cleanup_free_ char *big = kk_xmalloc(KK_SD_NOTIFY_MAX + 2);

    memset(big, 'x', KK_SD_NOTIFY_MAX + 1);
    big[KK_SD_NOTIFY_MAX + 1] = '\0';
    KT_ASSERT(kk_sd_notify(missing, "READY=1", &e1) < 0);
    KT_ASSERT_EQ(kk_error_code(e1), KK_E_NOT_FOUND);
    KT_ASSERT(strstr(e1->message, "nobody-listens") != NULL);
    KT_ASSERT(kk_sd_notify("relative/path", "READY=1", &e2) < 0);
    KT_ASSERT_EQ(kk_error_code(e2), KK_E_INVALID);
    KT_ASSERT(kk_sd_notify("/tmp/x", big, &e3) < 0);
    KT_ASSERT_EQ(kk_error_code(e3), KK_E_INVALID);
    KT_ASSERT(kk_sd_notifyf("/tmp/x", &e4, "STATUS=%s", big) < 0);
    KT_ASSERT_EQ(kk_error_code(e4), KK_E_INVALID);
}

KT_CASE(watchdog_interval_for_this_pid_only)
{
    char pid[32];

    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    KT_ASSERT_EQ(kk_sd_watchdog_usec(), 0);

    setenv("WATCHDOG_USEC", "30000000", 1);
    KT_ASSERT_EQ(kk_sd_watchdog_usec(), 30000000);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    KT_ASSERT_EQ(kk_sd_watchdog_usec(), 30000000);
    snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    KT_ASSERT_EQ(kk_sd_watchdog_usec(), 0);
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "30s", 1);
    KT_ASSERT_EQ(kk_sd_watchdog_usec(), 0);
    setenv("WATCHDOG_USEC", "-1", 1);
    KT_ASSERT_EQ(kk_sd_watchdog_usec(), 0);
    unsetenv("WATCHDOG_USEC");
}
