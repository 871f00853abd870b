/* IPAM without root: subnets, addresses, persistence, crash safety. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"
#include "runtime/net/ipam.h"
#include "tests/lib/kktest.h"

static void ipam_closep(struct kk_ipam *ipam)
{
    kk_ipam_close(ipam);
}
#define _cleanup_ipam_ _cleanup_(ipam_closep)

static const char *addr_str(uint32_t a, char buf[16])
{
    kk_ipam_format_addr(a, buf);
    return buf;
}

static char *read_state(const char *dir, const char *name)
{
    char *path = kk_xasprintf("%s/%s", dir, name);
    struct kk_buf b = KK_BUF_INIT;
    int fd = open(path, O_RDONLY);
    free(path);
    if (fd >= 0) {
        kk_buf_read_fd(&b, fd, 1 << 20);
        close(fd);
    }
    kk_buf_addch(&b, '\0');
    return kk_buf_detach(&b, NULL);
}

KT_CASE(cidr_parsing)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_ipv4_net n;
    char s[19];
    KT_ASSERT_OK(kk_ipam_parse_cidr("10.88.0.0/16", 8, 24, &n, &err), &err);
    KT_ASSERT_EQ(n.addr, 0x0a580000);
    KT_ASSERT_EQ(n.len, 16);
    kk_ipam_format_cidr(&n, s);
    KT_ASSERT_STREQ(s, "10.88.0.0/16");
    const char *bad[] = {"10.88.0.1/16", "10.88.0.0/7", "10.88.0.0/25",  "10.88.0.0",
                         "10.88/16",     "10.88.0.0/x", "10.88.0.0/016", "",
                         "a.b.c.d/8",    "10.88.0.0/"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        KT_ASSERT_MSG(kk_ipam_parse_cidr(bad[i], 8, 24, &n, &err) < 0, "accepted %s", bad[i]);
        KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
        kk_error_freep(&err);
    }
}

KT_CASE(space_subnets_lowest_free_and_persisted)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    char s[19];
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.77.0.0/16", &err), &err);
    struct kk_ipv4_net a, b, c, again;
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "a", NULL, NULL, 0, &a, &err), &err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "b", NULL, NULL, 0, &b, &err), &err);
    kk_ipam_format_cidr(&a, s);
    KT_ASSERT_STREQ(s, "10.77.0.0/24");
    kk_ipam_format_cidr(&b, s);
    KT_ASSERT_STREQ(s, "10.77.1.0/24");
    /* An explicit subnet inside the pool is skipped by later picks. */
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "c", "10.77.2.0/23", NULL, 0, &c, &err), &err);
    KT_ASSERT(kk_ipam_space_ensure(&ipam, "r", "d", "10.77.1.128/25", NULL, 0, &c, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS); /* inside b */
    kk_error_freep(&err);
    KT_ASSERT(kk_ipam_space_ensure(&ipam, "r", "d", "10.77.0.0/16", NULL, 0, &c, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS); /* around all of them */
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "d", NULL, NULL, 0, &c, &err), &err);
    kk_ipam_format_cidr(&c, s);
    KT_ASSERT_STREQ(s, "10.77.4.0/24");
    /* Stable across a "restart", and a different explicit one is refused. */
    kk_ipam_close(&ipam);
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.77.0.0/16", &err), &err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "b", NULL, NULL, 0, &again, &err), &err);
    KT_ASSERT_EQ(again.addr, b.addr);
    KT_ASSERT(kk_ipam_space_ensure(&ipam, "r", "b", "10.99.0.0/24", NULL, 0, &again, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_PRECONDITION);
    kk_error_freep(&err);
    /* Removing a space frees its /24 for the next one. */
    KT_ASSERT_OK(kk_ipam_space_remove(&ipam, "r", "a", &err), &err);
    KT_ASSERT_OK(kk_ipam_space_remove(&ipam, "r", "a", &err), &err);
    KT_ASSERT(kk_ipam_space_get(&ipam, "r", "a", &again, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "e", NULL, NULL, 0, &again, &err), &err);
    KT_ASSERT_EQ(again.addr, a.addr);
}

KT_CASE(pool_exhaustion)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    struct kk_ipv4_net n;
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.5.0.0/23", &err), &err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "a", NULL, NULL, 0, &n, &err), &err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "b", NULL, NULL, 0, &n, &err), &err);
    KT_ASSERT(kk_ipam_space_ensure(&ipam, "r", "c", NULL, NULL, 0, &n, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXHAUSTED);
}

KT_CASE(addresses_never_reserved_never_twice)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    struct kk_ipv4_net n;
    char s[16];
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.88.0.0/16", &err), &err);
    /* A /29: network .0, gateway .1, broadcast .7 leave .2 to .6. */
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "s", "192.168.9.8/29", NULL, 0, &n, &err), &err);
    uint32_t got[5];
    for (int i = 0; i < 5; i++) {
        char owner[32];
        snprintf(owner, sizeof(owner), "r/s/st/c%d", i);
        KT_ASSERT_OK(kk_ipam_alloc(&ipam, "r", "s", owner, &got[i], &err), &err);
        KT_ASSERT_MSG(got[i] >= n.addr + 2 && got[i] <= n.addr + 6, "handed out %s",
                      addr_str(got[i], s));
        for (int j = 0; j < i; j++)
            KT_ASSERT(got[i] != got[j]);
        uint32_t again;
        KT_ASSERT_OK(kk_ipam_alloc(&ipam, "r", "s", owner, &again, &err), &err);
        KT_ASSERT_EQ(again, got[i]);
    }
    uint32_t ip;
    KT_ASSERT(kk_ipam_alloc(&ipam, "r", "s", "r/s/st/c9", &ip, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXHAUSTED);
    kk_error_freep(&err);
    /* A freed address is the only one left, so it is reused. */
    KT_ASSERT_OK(kk_ipam_release(&ipam, "r", "s", "r/s/st/c2", &err), &err);
    KT_ASSERT_OK(kk_ipam_release(&ipam, "r", "s", "r/s/st/c2", &err), &err);
    KT_ASSERT_OK(kk_ipam_alloc(&ipam, "r", "s", "r/s/st/c9", &ip, &err), &err);
    KT_ASSERT_EQ(ip, got[2]);
}

KT_CASE(round_robin_delays_reuse)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    struct kk_ipv4_net n;
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.88.0.0/16", &err), &err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "s", NULL, NULL, 0, &n, &err), &err);
    uint32_t a, b;
    KT_ASSERT_OK(kk_ipam_alloc(&ipam, "r", "s", "k/a", &a, &err), &err);
    KT_ASSERT_EQ(a, n.addr + 2);
    KT_ASSERT_OK(kk_ipam_release(&ipam, "r", "s", "k/a", &err), &err);
    KT_ASSERT_OK(kk_ipam_alloc(&ipam, "r", "s", "k/a", &b, &err), &err);
    KT_ASSERT_EQ(b, n.addr + 3);
}

KT_CASE(crash_between_allocate_and_configure)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_ipv4_net n;
    uint32_t a1, a2, b, c;
    {
        _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
        KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.88.0.0/16", &err), &err);
        KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "s", NULL, NULL, 0, &n, &err), &err);
        KT_ASSERT_OK(kk_ipam_alloc(&ipam, "r", "s", "r/s/x/a", &a1, &err), &err);
        /* "crash": the handle goes away, nothing was configured. */
    }
    _cleanup_free_ char *state = read_state(kt_tmpdir(), "r_s.ipam");
    char line[64], s[16];
    snprintf(line, sizeof(line), "alloc %s r/s/x/a\n", addr_str(a1, s));
    KT_ASSERT_MSG(strstr(state, line), "state lacks \"%s\": %s", line, state);

    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.88.0.0/16", &err), &err);
    KT_ASSERT_OK(kk_ipam_alloc(&ipam, "r", "s", "r/s/x/b", &b, &err), &err);
    KT_ASSERT(b != a1);
    /* The retry of the same cell finds its address... */
    KT_ASSERT_OK(kk_ipam_alloc(&ipam, "r", "s", "r/s/x/a", &a2, &err), &err);
    KT_ASSERT_EQ(a2, a1);
    /* ...and if the cell is gone, reconcile sees the owner and frees it. */
    _cleanup_strv_ char **owners = NULL;
    KT_ASSERT_OK(kk_ipam_owners(&ipam, "r", "s", &owners, &err), &err);
    KT_ASSERT(owners[0] && owners[1] && !owners[2]);
    KT_ASSERT_OK(kk_ipam_release(&ipam, "r", "s", "r/s/x/a", &err), &err);
    for (int i = 0; i < 300; i++) {
        char owner[32];
        snprintf(owner, sizeof(owner), "r/s/y/c%d", i);
        if (kk_ipam_alloc(&ipam, "r", "s", owner, &c, &err) < 0)
            break;
        KT_ASSERT_MSG(c != b, "address of a live cell handed out again");
    }
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXHAUSTED); /* 253 usable, b holds one */
}

KT_CASE(concurrent_processes_never_share_an_address)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    struct kk_ipv4_net n;
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.88.0.0/16", &err), &err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "s", NULL, NULL, 0, &n, &err), &err);
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        KT_ASSERT(kids[k] >= 0);
        if (kids[k] == 0) {
            struct kk_ipam mine;
            kk_error *e = NULL;
            if (kk_ipam_open(&mine, kt_tmpdir(), "10.88.0.0/16", &e) < 0)
                _exit(1);
            for (int i = 0; i < 15; i++) {
                char owner[32];
                uint32_t ip;
                snprintf(owner, sizeof(owner), "r/s/k%d/c%d", k, i);
                if (kk_ipam_alloc(&mine, "r", "s", owner, &ip, &e) < 0)
                    _exit(2);
            }
            _exit(0);
        }
    }
    for (int k = 0; k < 4; k++) {
        int status;
        KT_ASSERT(waitpid(kids[k], &status, 0) == kids[k]);
        KT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    _cleanup_free_ char *state = read_state(kt_tmpdir(), "r_s.ipam");
    KT_ASSERT(state != NULL);
    /* 60 owners, 60 distinct addresses (the parser rejects duplicates). */
    _cleanup_strv_ char **owners = NULL;
    KT_ASSERT_OK(kk_ipam_owners(&ipam, "r", "s", &owners, &err), &err);
    size_t count = 0;
    while (owners[count])
        count++;
    KT_ASSERT_EQ(count, 60);
}

KT_CASE(corrupt_state_is_reported_not_rewritten)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    struct kk_ipv4_net n;
    uint32_t ip;
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.88.0.0/16", &err), &err);
    const char *bad = "subnet 10.88.0.0/24\nalloc 10.88.0.2 a/b\nalloc 10.88.0.2 a/c\n";
    _cleanup_free_ char *path = kk_xasprintf("%s/r_s.ipam", kt_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    KT_ASSERT(fd >= 0);
    KT_ASSERT(write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad));
    close(fd);
    KT_ASSERT(kk_ipam_alloc(&ipam, "r", "s", "a/d", &ip, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_DATA_LOSS);
    KT_ASSERT_MSG(strstr(err->message, "r_s.ipam:3"), "%s", err->message);
    kk_error_freep(&err);
    KT_ASSERT(kk_ipam_space_ensure(&ipam, "r", "t", NULL, NULL, 0, &n, &err) < 0);
    kk_error_freep(&err);
    _cleanup_free_ char *after = read_state(kt_tmpdir(), "r_s.ipam");
    KT_ASSERT_STREQ(after, bad);
    /* So is an empty one. */
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    KT_ASSERT(kk_ipam_alloc(&ipam, "r", "s", "a/d", &ip, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_DATA_LOSS);
    kk_error_freep(&err);
    /* The gateway in a hand-edited file is refused too. */
    fd = open(path, O_WRONLY | O_TRUNC);
    KT_ASSERT(write(fd, "subnet 10.88.0.0/24\nalloc 10.88.0.1 a/b\n", 40) == 40);
    close(fd);
    KT_ASSERT(kk_ipam_alloc(&ipam, "r", "s", "a/d", &ip, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_DATA_LOSS);
}

KT_CASE(invalid_names_and_owners)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    struct kk_ipv4_net n;
    uint32_t ip;
    KT_ASSERT(kk_ipam_open(&ipam, kt_tmpdir(), "10.88.0.0/25", &err) < 0);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.88.0.0/16", &err), &err);
    KT_ASSERT(kk_ipam_space_ensure(&ipam, "../x", "s", NULL, NULL, 0, &n, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "s", NULL, NULL, 0, &n, &err), &err);
    KT_ASSERT(kk_ipam_alloc(&ipam, "r", "s", "has space", &ip, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    kk_error_freep(&err);
    KT_ASSERT(kk_ipam_alloc(&ipam, "r", "nope", "a/b", &ip, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_PRECONDITION);
}

KT_CASE(host_networks_are_avoided)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    struct kk_ipv4_net avoid[] = {{0x0a4d0000, 24}, {0x0a4d0200, 23}}; /* 10.77.0/24, 10.77.2/23 */
    struct kk_ipv4_net a, b;
    char s[19];
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.77.0.0/16", &err), &err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "a", NULL, avoid, 2, &a, &err), &err);
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "b", NULL, avoid, 2, &b, &err), &err);
    kk_ipam_format_cidr(&a, s);
    KT_ASSERT_STREQ(s, "10.77.1.0/24");
    kk_ipam_format_cidr(&b, s);
    KT_ASSERT_STREQ(s, "10.77.4.0/24");
    KT_ASSERT(kk_ipam_space_ensure(&ipam, "r", "c", "10.77.3.128/25", avoid, 2, &a, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS);
    KT_ASSERT_MSG(strstr(err->message, "10.77.2.0/23 on the host"), "%s", err->message);
    kk_error_freep(&err);
    /* A space keeps its subnet even if the host takes it later. */
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "a", NULL,
                                      (struct kk_ipv4_net[]){{0x0a4d0100, 24}}, 1, &b, &err),
                 &err);
    kk_ipam_format_cidr(&b, s);
    KT_ASSERT_STREQ(s, "10.77.1.0/24");
}
