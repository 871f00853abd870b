/* Spaces end to end on the real kernel: the network backend (runtime/net)
 * builds bridges, namespaces and veths, the firewall backend
 * (runtime/firewall) isolates the spaces and publishes a port, as the agent
 * will do it. No `ip` command builds anything here.
 *
 *   realm r:  space alpha (a1, a2)   space beta (b1, b2)   space gamma (g1)
 *
 * gamma's cell plays the "client host": a namespace that reaches the host
 * only by routing through it. b1 runs busybox httpd; its port 80 is
 * published on a host port.
 *
 * Every host-global name carries the pid (link prefixes, namespace and state
 * directories, the address pool, the nft table); cleanup_all() runs at exit
 * and on fatal signals, and the last case checks nothing is left and that
 * net.ipv4.ip_forward is back to what it was.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "runtime/firewall/firewall.h"
#include "runtime/net/net.h"
#include "tests/lib/kktest.h"

enum { ALPHA, BETA, GAMMA, N_SPACES };
enum { A1, A2, B1, B2, G1, N_CELLS };

static const char *const space_names[N_SPACES] = {"alpha", "beta", "gamma"};
static const struct {
    const char *name;
    int space;
} cell_defs[N_CELLS] = {{"a1", ALPHA}, {"a2", ALPHA}, {"b1", BETA}, {"b2", BETA}, {"g1", GAMMA}};

static struct {
    char bridge_prefix[16], veth_prefix[16], base_dir[64], netns_dir[96], state_dir[96];
    char pool[32], table[32], www[96], token[64], old_forward[8];
    unsigned host_port;
    struct kk_net *net;
    struct kk_fw *fw;
    struct kk_net_space sp[N_SPACES];
    struct kk_net_cell cell[N_CELLS];
    pid_t httpd;
    bool ready;
} T;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *cmd = NULL;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    _cleanup_free_ char *quiet = kk_xasprintf("(%s) >/dev/null 2>&1", cmd);
    int r = system(quiet);
    return WIFEXITED(r) ? WEXITSTATUS(r) : 128;
}

static char *capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *capture(const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *cmd = NULL;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    struct kk_buf b = KK_BUF_INIT;
    FILE *f = popen(cmd, "r");
    char line[4096];
    while (f && fgets(line, sizeof(line), f))
        kk_buf_adds(&b, line);
    if (f)
        pclose(f);
    kk_buf_add(&b, "", 0);
    return kk_buf_detach(&b, NULL);
}

static void write_file(const char *path, const char *s)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0 && write(fd, s, strlen(s)) < 0)
        perror(path);
}

static struct kk_net_cell_spec cell_spec(int i)
{
    return (struct kk_net_cell_spec){"r", space_names[cell_defs[i].space], "st", cell_defs[i].name};
}

static void space_key(int s, char out[32])
{
    snprintf(out, 32, "r/%s", space_names[s]);
}

static void cell_key(int i, char out[64])
{
    snprintf(out, 64, "r/%s/st/%s", space_names[cell_defs[i].space], cell_defs[i].name);
}

static bool ping(int from, const char *ip)
{
    return sh("nsenter --net=%s ping -c 1 -W 1 %s", T.cell[from].netns_path, ip) == 0;
}

/* GET http://ip:port/ from a cell (or the host if from < 0). */
static bool fetch(int from, const char *ip, unsigned port)
{
    _cleanup_free_ char *body =
            from < 0 ? capture("curl -s -m 2 http://%s:%u/ 2>/dev/null", ip, port)
                     : capture("nsenter --net=%s curl -s -m 2 http://%s:%u/ 2>/dev/null",
                               T.cell[from].netns_path, ip, port);
    return strstr(body, T.token) != NULL;
}

static char *nft_list(void)
{
    return capture("nft list table inet %s 2>/dev/null", T.table);
}

static int count_links(void)
{
    _cleanup_free_ char *out = capture("ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | "
                                       "grep -c -E '^(%s|%s)' || true",
                                       T.bridge_prefix, T.veth_prefix);
    return atoi(out);
}

static void cleanup_all(void)
{
    if (T.httpd > 0) {
        kill(T.httpd, SIGTERM);
        waitpid(T.httpd, NULL, 0);
        T.httpd = 0;
    }
    kk_fw_free(T.fw);
    T.fw = NULL;
    kk_net_free(T.net);
    T.net = NULL;
    if (!T.table[0])
        return;
    sh("nft delete table inet %s", T.table);
    sh("for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | "
       "grep -E '^(%s|%s)'); do ip link del $l; done",
       T.bridge_prefix, T.veth_prefix);
    _cleanup_closedir_ DIR *d = opendir(T.netns_dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *p = kk_xasprintf("%s/%s", T.netns_dir, de->d_name);
        while (umount2(p, MNT_DETACH) == 0)
            ;
    }
    while (umount2(T.netns_dir, MNT_DETACH) == 0)
        ;
    sh("rm -rf '%s' '%s'", T.base_dir, T.www);
    if (T.old_forward[0]) {
        write_file("/proc/sys/net/ipv4/ip_forward", T.old_forward);
        T.old_forward[0] = '\0';
    }
}

static int apply_space(int s, kk_error **err)
{
    char key[32];
    space_key(s, key);
    return kk_fw_space_apply(T.fw, &(struct kk_fw_space){key, T.sp[s].bridge, T.sp[s].subnet}, err);
}

static int publish(int i, const char *spec, kk_error **err)
{
    char key[64];
    struct kk_fw_port port;
    cell_key(i, key);
    if (spec && kk_fw_port_parse(spec, &port, err) < 0)
        return -1;
    return kk_fw_cell_apply(T.fw, &(struct kk_fw_cell){key, T.cell[i].ip, &port, spec ? 1 : 0},
                            err);
}

KT_CASE(spaces_and_cells_from_the_backends)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    unsigned pid = (unsigned)getpid();

    snprintf(T.bridge_prefix, sizeof(T.bridge_prefix), "s%06x", pid & 0xffffff);
    snprintf(T.veth_prefix, sizeof(T.veth_prefix), "t%06x", pid & 0xffffff);
    snprintf(T.base_dir, sizeof(T.base_dir), "/run/kktest-spaces-%u", pid);
    snprintf(T.netns_dir, sizeof(T.netns_dir), "%s/netns", T.base_dir);
    snprintf(T.state_dir, sizeof(T.state_dir), "%s/state", T.base_dir);
    snprintf(T.pool, sizeof(T.pool), "10.%u.0.0/16", 110 + pid % 40);
    snprintf(T.table, sizeof(T.table), "kkspaces%u", pid);
    snprintf(T.www, sizeof(T.www), "/tmp/kkspaces-www-%u", pid);
    snprintf(T.token, sizeof(T.token), "kukeon-spaces-test-%u", pid);
    T.host_port = 40000 + pid % 20000;
    kt_atexit(cleanup_all);

    _cleanup_free_ char *fwd = capture("cat /proc/sys/net/ipv4/ip_forward");
    KT_ASSERT(fwd[0] == '0' || fwd[0] == '1');
    snprintf(T.old_forward, sizeof(T.old_forward), "%c\n", fwd[0]);

    struct kk_net_config ncfg = {T.bridge_prefix, T.veth_prefix, T.netns_dir, T.state_dir, T.pool};
    KT_ASSERT_OK(kk_net_new(&ncfg, &T.net, &err), &err);
    KT_ASSERT_OK(kk_net_ensure_forwarding(T.net, &err), &err);
    for (int s = 0; s < N_SPACES; s++)
        KT_ASSERT_OK(kk_net_space_ensure(T.net,
                                         &(struct kk_net_space_spec){"r", space_names[s], NULL},
                                         &T.sp[s], &err),
                     &err);
    for (int i = 0; i < N_CELLS; i++) {
        struct kk_net_cell_spec spec = cell_spec(i);
        KT_ASSERT_OK(kk_net_cell_ensure(T.net, &spec, &T.cell[i], &err), &err);
    }

    KT_ASSERT_EQ(sh("mkdir -p %s && echo %s > %s/index.html", T.www, T.token, T.www), 0);
    T.httpd = fork();
    KT_ASSERT(T.httpd >= 0);
    if (T.httpd == 0) {
        /* Dies with the test, even if the test crashes before cleanup. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        _cleanup_free_ char *net = kk_xasprintf("--net=%s", T.cell[B1].netns_path);
        execlp("nsenter", "nsenter", net, "busybox", "httpd", "-f", "-p", "80", "-h", T.www,
               (char *)NULL);
        _exit(127);
    }
    bool up = false;
    for (int i = 0; i < 50 && !(up = fetch(B1, "127.0.0.1", 80)); i++)
        usleep(100 * 1000);
    KT_ASSERT_MSG(up, "httpd in b1 does not answer");

    /* Before any rule the host routes between spaces. */
    KT_ASSERT(ping(A1, T.cell[B1].ip));
    KT_ASSERT(fetch(G1, T.cell[B1].ip, 80));

    struct kk_fw_config fcfg = {.table = T.table};
    KT_ASSERT_OK(kk_fw_new(&fcfg, &T.fw, &err), &err);
    T.ready = true;
}

KT_CASE(isolation_and_publishing)
{
    _cleanup_error_ kk_error *err = NULL;
    char spec[32];
    KT_ASSERT(T.ready);
    for (int s = 0; s < N_SPACES; s++)
        KT_ASSERT_OK(apply_space(s, &err), &err);
    snprintf(spec, sizeof(spec), "%u:80", T.host_port);
    KT_ASSERT_OK(publish(B1, spec, &err), &err);

    KT_ASSERT_MSG(ping(A1, T.cell[A2].ip), "same space a1 -> a2");
    KT_ASSERT_MSG(ping(B2, T.cell[B1].ip), "same space b2 -> b1");
    KT_ASSERT_MSG(ping(A1, T.sp[ALPHA].gateway), "gateway of alpha");
    KT_ASSERT_MSG(!ping(A1, T.cell[B1].ip), "cross space a1 -> b1");
    KT_ASSERT_MSG(!ping(B1, T.cell[A2].ip), "cross space b1 -> a2");
    KT_ASSERT_MSG(!ping(G1, T.cell[A1].ip), "cross space g1 -> a1");
    KT_ASSERT_MSG(!fetch(G1, T.cell[B1].ip, 80), "g1 -> b1:80 directly");

    KT_ASSERT_MSG(fetch(G1, T.sp[GAMMA].gateway, T.host_port), "published, from g1");
    KT_ASSERT_MSG(fetch(A1, T.sp[ALPHA].gateway, T.host_port), "published, from a1");
    KT_ASSERT_MSG(fetch(-1, "127.0.0.1", T.host_port), "published, from the host's 127.0.0.1");
    KT_ASSERT_MSG(fetch(-1, T.sp[GAMMA].gateway, T.host_port), "published, from the host");

    _cleanup_free_ char *before = nft_list();
    for (int s = 0; s < N_SPACES; s++)
        KT_ASSERT_OK(apply_space(s, &err), &err);
    KT_ASSERT_OK(publish(B1, spec, &err), &err);
    _cleanup_free_ char *after = nft_list();
    KT_ASSERT_STREQ(after, before);
}

/* The quick re-create, with a published port each time: no error,
 * no leaked link, namespace or rule. */
KT_CASE(recreate_a_published_cell_50_times)
{
    _cleanup_error_ kk_error *err = NULL;
    char spec[32], key[64];
    struct kk_net_cell_spec s = cell_spec(A2);
    KT_ASSERT(T.ready);
    cell_key(A2, key);
    snprintf(spec, sizeof(spec), "%u:80/udp", T.host_port + 1);
    KT_ASSERT_OK(kk_fw_cell_remove(T.fw, key, &err), &err);
    _cleanup_free_ char *before = nft_list();
    int links = count_links();

    for (int round = 0; round < 50; round++) {
        KT_ASSERT_OK(kk_fw_cell_remove(T.fw, key, &err), &err);
        KT_ASSERT_OK(kk_net_cell_remove(T.net, &s, 0, &err), &err);
        KT_ASSERT_OK(kk_net_cell_ensure(T.net, &s, &T.cell[A2], &err), &err);
        KT_ASSERT_OK(publish(A2, spec, &err), &err);
    }
    KT_ASSERT_OK(kk_fw_cell_remove(T.fw, key, &err), &err);
    _cleanup_free_ char *after = nft_list();
    KT_ASSERT_STREQ(after, before);
    KT_ASSERT_EQ(count_links(), links);
    KT_ASSERT_MSG(ping(A1, T.cell[A2].ip), "a2 after 50 re-creates");
}

KT_CASE(teardown_leaves_nothing)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    if (T.ready) {
        for (int i = 0; i < N_CELLS; i++) {
            char key[64];
            struct kk_net_cell_spec s = cell_spec(i);
            cell_key(i, key);
            KT_ASSERT_OK(kk_fw_cell_remove(T.fw, key, &err), &err);
            KT_ASSERT_OK(kk_net_cell_remove(T.net, &s, 0, &err), &err);
        }
        for (int s = 0; s < N_SPACES; s++) {
            char key[32];
            space_key(s, key);
            KT_ASSERT_OK(kk_fw_space_remove(T.fw, key, &err), &err);
            KT_ASSERT_OK(kk_net_space_remove(T.net, "r", space_names[s], &err), &err);
        }
        /* Every object gone: what is left is the empty skeleton. */
        _cleanup_free_ char *left = nft_list();
        KT_ASSERT(!strstr(left, "space/") && !strstr(left, "cell/"));
        KT_ASSERT_OK(kk_fw_teardown(T.fw, &err), &err);
    }
    _cleanup_free_ char *orig = kk_xstrdup(T.old_forward);
    cleanup_all();
    KT_ASSERT_EQ(count_links(), 0);
    _cleanup_free_ char *tables = capture("nft list tables | grep -c ' %s$' || true", T.table);
    KT_ASSERT_STREQ(tables, "0\n");
    _cleanup_free_ char *mounts =
            capture("grep -c ' %s/' /proc/self/mountinfo || true", T.netns_dir);
    KT_ASSERT_STREQ(mounts, "0\n");
    KT_ASSERT(access(T.base_dir, F_OK) != 0);
    if (orig[0]) {
        _cleanup_free_ char *fwd = capture("cat /proc/sys/net/ipv4/ip_forward");
        KT_ASSERT_STREQ(fwd, orig);
    }
}
