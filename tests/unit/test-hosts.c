/* The per-cell hosts, hostname and resolv.conf files. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "runtime/net/hosts.h"
#include "tests/lib/kktest.h"

static char *slurp(const char *dir, const char *name)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", dir, name);
    struct kk_buf b = KK_BUF_INIT;
    _cleanup_close_ int fd = open(path, O_RDONLY);
    if (fd >= 0)
        kk_buf_read_fd(&b, fd, 1 << 20);
    kk_buf_addch(&b, '\0');
    return kk_buf_detach(&b, NULL);
}

static void put(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", dir, name);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        abort();
}

KT_CASE(hosts_lists_localhost_cell_and_aliases_once)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    const char *aliases[] = {"web", "api", "web", "api-db", NULL};
    struct kk_net_hosts_spec spec = {.hostname = "api", .ip = "10.88.0.5", .aliases = aliases};
    KT_ASSERT_OK(kk_net_render_hosts(&spec, &b, &err), &err);
    KT_ASSERT(strncmp(b.data, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost", 47) == 0);
    KT_ASSERT_MSG(strstr(b.data, "\n10.88.0.5\tapi web api-db\n"), "%s", b.data);
}

KT_CASE(hosts_rejects_bad_input)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    const char *bad_alias[] = {"ok", "new\nline", NULL};
    struct kk_net_hosts_spec spec = {.hostname = "c", .ip = "10.88.0.5", .aliases = bad_alias};
    KT_ASSERT(kk_net_render_hosts(&spec, &b, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    kk_error_freep(&err);
    spec = (struct kk_net_hosts_spec){.hostname = "c", .ip = "10.88.0.300"};
    KT_ASSERT(kk_net_render_hosts(&spec, &b, &err) < 0);
    kk_error_freep(&err);
    spec = (struct kk_net_hosts_spec){.hostname = "a b", .ip = "10.88.0.3"};
    KT_ASSERT(kk_net_render_hosts(&spec, &b, &err) < 0);
}

KT_CASE(resolv_drops_loopback_keeps_search)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_net_render_resolv("# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n"
                         "nameserver ::1\nnameserver 2001:db8::1\nsearch lan example\n"
                         "options edns0 trust-ad\n",
                         "nameserver 198.51.100.9\n", &b);
    KT_ASSERT(!strstr(b.data, "127.0.0.53"));
    KT_ASSERT(!strstr(b.data, "::1\n") || strstr(b.data, "2001:db8::1\n"));
    KT_ASSERT(!strstr(b.data, "nameserver ::1"));
    KT_ASSERT(strstr(b.data, "nameserver 192.0.2.1\n"));
    KT_ASSERT(strstr(b.data, "nameserver 2001:db8::1\n"));
    KT_ASSERT(!strstr(b.data, "198.51.100.9")); /* upstream only when needed */
    KT_ASSERT(strstr(b.data, "search lan example\n"));
    KT_ASSERT(strstr(b.data, "options edns0 trust-ad\n"));
}

KT_CASE(resolv_falls_back_to_upstream_then_to_none)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_net_render_resolv("nameserver 127.0.0.53\nsearch lan\n",
                         "nameserver 198.51.100.9\nnameserver 127.0.0.1\n", &b);
    KT_ASSERT_MSG(strstr(b.data, "nameserver 198.51.100.9\n"), "%s", b.data);
    KT_ASSERT(!strstr(b.data, "127.0.0"));
    KT_ASSERT(strstr(b.data, "search lan\n"));
    kk_buf_reset(&b);
    kk_net_render_resolv("nameserver 127.0.0.53\n", NULL, &b);
    KT_ASSERT(!strstr(b.data, "nameserver"));
    KT_ASSERT(strstr(b.data, "none configured"));
}

KT_CASE(resolv_keeps_at_most_three)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_net_render_resolv("nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\n"
                         "nameserver 192.0.2.4\n",
                         NULL, &b);
    KT_ASSERT(strstr(b.data, "192.0.2.3"));
    KT_ASSERT(!strstr(b.data, "192.0.2.4"));
}

KT_CASE(write_cell_files)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *dir = kk_xasprintf("%s/cell/files", kt_tmpdir());
    _cleanup_free_ char *resolv = kk_xasprintf("%s/resolv.conf", kt_tmpdir());
    put(kt_tmpdir(), "resolv.conf", "nameserver 127.0.0.53\nnameserver 192.0.2.7\n");
    const char *aliases[] = {"db", NULL};
    struct kk_net_hosts_spec spec = {.hostname = "api",
                                     .ip = "10.88.0.9",
                                     .aliases = aliases,
                                     .host_resolv = resolv,
                                     .upstream_resolv = "/nonexistent"};
    KT_ASSERT_OK(kk_net_write_cell_files(dir, &spec, &err), &err);
    KT_ASSERT_OK(kk_net_write_cell_files(dir, &spec, &err), &err); /* idempotent */
    _cleanup_free_ char *hosts = slurp(dir, "hosts");
    _cleanup_free_ char *hostname = slurp(dir, "hostname");
    _cleanup_free_ char *rc = slurp(dir, "resolv.conf");
    KT_ASSERT(strstr(hosts, "\n10.88.0.9\tapi db\n"));
    KT_ASSERT_STREQ(hostname, "api\n");
    KT_ASSERT(strstr(rc, "nameserver 192.0.2.7\n"));
    KT_ASSERT(!strstr(rc, "127.0.0.53"));
    struct stat st;
    _cleanup_free_ char *p = kk_xasprintf("%s/hosts", dir);
    KT_ASSERT(stat(p, &st) == 0);
    KT_ASSERT_EQ(st.st_mode & 07777, 0644);
    /* A host without resolv.conf still gets a valid (empty) one. */
    spec.host_resolv = "/nonexistent";
    KT_ASSERT_OK(kk_net_write_cell_files(dir, &spec, &err), &err);
    _cleanup_free_ char *rc2 = slurp(dir, "resolv.conf");
    KT_ASSERT(!strstr(rc2, "nameserver"));
}
