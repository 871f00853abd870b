/* Two spaces with two cells each, on the real kernel, with the real
 * firewall backend (libnftables):
 *
 *       client (netns) ── veth ──┐
 *                                host (ip_forward=1) ── table inet kkfw<pid>
 *   a1, a2 (netns) ── bridge A ──┤
 *   b1, b2 (netns) ── bridge B ──┘
 *
 * Same-space ping works, cross-space is blocked (and was not before the
 * rules), the gateway answers, a published port of b1 answers from the
 * client namespace, from the host (127.0.0.1 included), from the other space
 * and from b1's own space (hairpin), over TCP and UDP; re-asserting is
 * idempotent (no transaction at all), removing a cell or a space and pruning
 * remove exactly their rules, a change the kernel refuses changes nothing,
 * threads may share one backend, another table is untouched, and nothing is
 * left at the end.
 *
 * The cells are plain network namespaces built with `ip` (test-spaces.c does
 * it with runtime/net); every name carries the test's pid, and everything is
 * removed at exit, also after a failure or a signal. Only processes this
 * test started (busybox httpd, a python3 UDP echo) are ever signalled, by pid.
 * The cases run in order and build on the first one.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "runtime/firewall/firewall.h"
#include "tests/lib/kktest.h"

#define N_CELLS 4

struct cell {
    const char *name; /* "a1" */
    int space;        /* 0: A, 1: B */
    char ns[32];
    char veth[32];
    char ip[32];
    char key[64];
    pid_t httpd;
    pid_t udp_echo;
};

static struct {
    pid_t pid;
    char table[32], other[32], broken[32], threads[32];
    char bridge[3][32]; /* A, B and C (C: rules only, no cells) */
    char subnet[3][32];
    char gw[3][32];
    char space_key[3][32];
    char client_ns[32], client_veth[32], client_gw[32], client_ip[32];
    char www[64];
    char token[64];
    char old_forward[8];  /* to restore at exit; "" once restored */
    char orig_forward[8]; /* what the host had */
    struct kk_fw *fw;
    struct cell cells[N_CELLS];
    unsigned host_port;
    bool ready;
} T;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    _cleanup_free_ char *quiet = kk_xasprintf("(%s) >/dev/null 2>&1", cmd);
    int r = system(quiet);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* Runs a command and returns its stdout (at most 64 KiB). */
static char *capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *capture(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    struct kk_buf out = KK_BUF_INIT;
    FILE *f = popen(cmd, "r");
    if (!f)
        return kk_xstrdup("");
    kk_buf_read_fd(&out, fileno(f), 64 * 1024);
    pclose(f);
    kk_buf_add(&out, "", 0); /* kk_buf_read_fd leaves an empty buffer unterminated */
    return kk_buf_detach(&out, NULL);
}

static bool ping(const char *ns, const char *ip)
{
    return sh("ip netns exec %s ping -c 1 -W 1 %s", ns, ip) == 0;
}

/* GET http://ip:port/ from a namespace (or the host if ns is NULL); true if
 * the body is the token b1 serves. */
static bool fetch(const char *ns, const char *ip, unsigned port)
{
    _cleanup_free_ char *body = capture("%s%s curl -s -m 2 http://%s:%u/ 2>/dev/null",
                                        ns ? "ip netns exec " : "", ns ? ns : "", ip, port);
    return strstr(body, T.token) != NULL;
}

static char *nft_list(const char *table)
{
    return capture("nft list table inet %s 2>/dev/null", table);
}

static void write_file(const char *path, const char *s)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0 && write(fd, s, strlen(s)) < 0)
        perror(path);
}

static void cleanup(void)
{
    for (int i = 0; i < N_CELLS; i++) {
        struct cell *c = &T.cells[i];
        pid_t *servers[] = {&c->httpd, &c->udp_echo};
        for (size_t j = 0; j < KK_ARRAY_SIZE(servers); j++)
            if (*servers[j] > 0) {
                kill(*servers[j], SIGTERM);
                waitpid(*servers[j], NULL, 0);
                *servers[j] = 0;
            }
        if (c->ns[0]) {
            sh("ip link del %s", c->veth);
            sh("ip netns del %s", c->ns);
        }
    }
    if (T.client_ns[0]) {
        sh("ip link del %s", T.client_veth);
        sh("ip netns del %s", T.client_ns);
    }
    for (int s = 0; s < 3; s++)
        if (T.bridge[s][0])
            sh("ip link del %s", T.bridge[s]);
    if (T.table[0])
        sh("nft delete table inet %s", T.table);
    if (T.other[0])
        sh("nft delete table inet %s", T.other);
    if (T.broken[0])
        sh("nft delete table inet %s", T.broken);
    if (T.threads[0])
        sh("nft delete table inet %s", T.threads);
    if (T.www[0])
        sh("rm -rf %s", T.www);
    if (T.old_forward[0]) {
        write_file("/proc/sys/net/ipv4/ip_forward", T.old_forward);
        T.old_forward[0] = '\0';
    }
    kk_fw_free(T.fw);
    T.fw = NULL;
}

static pid_t start_httpd(const char *ns)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* Dies with the test, even if the test crashes before cleanup. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execlp("ip", "ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", "80", "-h", T.www,
               (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* A UDP echo server on port 5353 in ns (python3: busybox's nc has no UDP). */
static pid_t start_udp_echo(const char *ns)
{
    static const char prog[] = "import socket\n"
                               "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                               "s.bind(('0.0.0.0', 5353))\n"
                               "while True:\n"
                               "    d, a = s.recvfrom(2048)\n"
                               "    s.sendto(d, a)\n";
    pid_t pid = fork();
    if (pid == 0) {
        /* Dies with the test, even if the test crashes before cleanup. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execlp("ip", "ip", "netns", "exec", ns, "python3", "-c", prog, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Sends the token to ip:port over UDP from ns (or the host); true if it
 * comes back within 2 s. */
static bool udp_echoes(const char *ns, const char *ip, unsigned port)
{
    _cleanup_free_ char *out =
            capture("%s%s python3 -c 'import socket, sys\n"
                    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    "s.settimeout(2)\n"
                    "s.sendto(sys.argv[1].encode(), (sys.argv[2], int(sys.argv[3])))\n"
                    "print(s.recv(2048).decode())' %s %s %u 2>/dev/null",
                    ns ? "ip netns exec " : "", ns ? ns : "", T.token, ip, port);
    return strstr(out, T.token) != NULL;
}

/* Waits until the server in ns accepts connections on port 80. */
static bool httpd_ready(const char *ns, const char *ip)
{
    for (int i = 0; i < 50; i++) {
        if (fetch(ns, ip, 80))
            return true;
        usleep(100 * 1000);
    }
    return false;
}

static int apply_space(int s, kk_error **err)
{
    struct kk_fw_space sp = {T.space_key[s], T.bridge[s], T.subnet[s]};
    return kk_fw_space_apply(T.fw, &sp, err);
}

static int apply_cell(struct cell *c, const char *port_spec, kk_error **err)
{
    struct kk_fw_port port;
    if (port_spec && kk_fw_port_parse(port_spec, &port, err) < 0)
        return -1;
    struct kk_fw_cell cell = {c->key, c->ip, &port, port_spec ? 1 : 0};
    return kk_fw_cell_apply(T.fw, &cell, err);
}

static struct cell *cell_named(const char *name)
{
    for (int i = 0; i < N_CELLS; i++)
        if (strcmp(T.cells[i].name, name) == 0)
            return &T.cells[i];
    abort();
}

KT_CASE(setup_two_spaces_of_namespaces)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    static const char *const names[N_CELLS] = {"a1", "a2", "b1", "b2"};

    T.pid = getpid();
    kt_atexit(cleanup);
    unsigned net = 200 + (unsigned)T.pid % 50;
    snprintf(T.table, sizeof(T.table), "kkfw%d", (int)T.pid);
    snprintf(T.other, sizeof(T.other), "kkfwother%d", (int)T.pid);
    snprintf(T.broken, sizeof(T.broken), "kkfwbroken%d", (int)T.pid);
    snprintf(T.threads, sizeof(T.threads), "kkfwthreads%d", (int)T.pid);
    T.host_port = 20000 + (unsigned)T.pid % 20000;
    snprintf(T.token, sizeof(T.token), "kukeon-firewall-test-%d", (int)T.pid);

    /* ip_forward on for the test; the old value comes back at exit. */
    _cleanup_free_ char *fwd = capture("cat /proc/sys/net/ipv4/ip_forward");
    KT_ASSERT(fwd[0] == '0' || fwd[0] == '1');
    snprintf(T.old_forward, sizeof(T.old_forward), "%c\n", fwd[0]);
    memcpy(T.orig_forward, T.old_forward, sizeof(T.orig_forward));
    write_file("/proc/sys/net/ipv4/ip_forward", "1\n");

    /* A table of someone else's that must come through untouched. */
    KT_ASSERT_EQ(sh("nft add table inet %s && nft add chain inet %s c && "
                    "nft add rule inet %s c ip daddr 192.0.2.254 drop",
                    T.other, T.other, T.other),
                 0);

    for (int s = 0; s < 3; s++) {
        snprintf(T.bridge[s], sizeof(T.bridge[s]), "kf%d%c", (int)T.pid, 'A' + s);
        snprintf(T.subnet[s], sizeof(T.subnet[s]), "10.%u.%d.0/24", net, s);
        snprintf(T.gw[s], sizeof(T.gw[s]), "10.%u.%d.1", net, s);
        snprintf(T.space_key[s], sizeof(T.space_key[s]), "fwtest/space-%c", 'a' + s);
        KT_ASSERT_EQ(sh("ip link add %s type bridge && ip addr add %s/24 dev %s && "
                        "ip link set %s up",
                        T.bridge[s], T.gw[s], T.bridge[s], T.bridge[s]),
                     0);
    }

    snprintf(T.www, sizeof(T.www), "/tmp/kkfw-www-%d", (int)T.pid);
    KT_ASSERT_EQ(sh("mkdir -p %s && echo %s > %s/index.html", T.www, T.token, T.www), 0);

    for (int i = 0; i < N_CELLS; i++) {
        struct cell *c = &T.cells[i];
        c->name = names[i];
        c->space = names[i][0] - 'a';
        snprintf(c->ns, sizeof(c->ns), "kkfw%d-%s", (int)T.pid, c->name);
        snprintf(c->veth, sizeof(c->veth), "kf%d%s", (int)T.pid, c->name);
        snprintf(c->ip, sizeof(c->ip), "10.%u.%d.%d", net, c->space, 10 + i);
        snprintf(c->key, sizeof(c->key), "fwtest/space-%c/stack/%s", 'a' + c->space, c->name);
        KT_ASSERT_EQ(sh("ip netns add %s && ip link add %s type veth peer name %sp && "
                        "ip link set %sp netns %s && ip link set %s master %s up && "
                        "ip -n %s link set %sp name eth0 && ip -n %s link set lo up && "
                        "ip -n %s link set eth0 up && ip -n %s addr add %s/24 dev eth0 && "
                        "ip -n %s route add default via %s",
                        c->ns, c->veth, c->veth, c->veth, c->ns, c->veth, T.bridge[c->space], c->ns,
                        c->veth, c->ns, c->ns, c->ns, c->ip, c->ns, T.gw[c->space]),
                     0);
        /* What runtime/net should do for every cell port: with br_netfilter
         * loaded, a cell reaching its own published port has its DNATed
         * frame bridged back out of the port it came in by, which a bridge
         * does only in hairpin mode (docker sets it too, without the
         * userland proxy). */
        KT_ASSERT_EQ(sh("ip link set %s type bridge_slave hairpin on", c->veth), 0);
    }

    /* A "client host": a namespace routed through the host, in no space. */
    snprintf(T.client_ns, sizeof(T.client_ns), "kkfw%d-cl", (int)T.pid);
    snprintf(T.client_veth, sizeof(T.client_veth), "kf%dcl", (int)T.pid);
    snprintf(T.client_gw, sizeof(T.client_gw), "10.%u.9.1", net);
    snprintf(T.client_ip, sizeof(T.client_ip), "10.%u.9.2", net);
    KT_ASSERT_EQ(sh("ip netns add %s && ip link add %s type veth peer name %sp && "
                    "ip link set %sp netns %s && ip addr add %s/24 dev %s && ip link set %s up && "
                    "ip -n %s link set %sp name eth0 && ip -n %s link set lo up && "
                    "ip -n %s link set eth0 up && ip -n %s addr add %s/24 dev eth0 && "
                    "ip -n %s route add default via %s",
                    T.client_ns, T.client_veth, T.client_veth, T.client_veth, T.client_ns,
                    T.client_gw, T.client_veth, T.client_veth, T.client_ns, T.client_veth,
                    T.client_ns, T.client_ns, T.client_ns, T.client_ip, T.client_ns, T.client_gw),
                 0);

    struct cell *b1 = cell_named("b1");
    b1->httpd = start_httpd(b1->ns);
    KT_ASSERT(b1->httpd > 0);
    KT_ASSERT_MSG(httpd_ready(b1->ns, "127.0.0.1"), "httpd in %s does not answer", b1->ns);

    /* Without rules the host routes between the spaces: isolation below is
     * the firewall's doing, not the topology's. */
    KT_ASSERT(ping(cell_named("a1")->ns, b1->ip));
    KT_ASSERT(fetch(cell_named("a1")->ns, b1->ip, 80));
    KT_ASSERT(fetch(T.client_ns, b1->ip, 80));

    struct kk_fw_config cfg = {.table = T.table};
    KT_ASSERT_OK(kk_fw_new(&cfg, &T.fw, &err), &err);
    T.ready = true;
}

KT_CASE(spaces_are_isolated)
{
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT(T.ready);
    KT_ASSERT_OK(apply_space(0, &err), &err);
    KT_ASSERT_OK(apply_space(1, &err), &err);

    struct cell *a1 = cell_named("a1"), *a2 = cell_named("a2");
    struct cell *b1 = cell_named("b1"), *b2 = cell_named("b2");
    KT_ASSERT_MSG(ping(a1->ns, a2->ip), "same-space ping a1 -> a2");
    KT_ASSERT_MSG(ping(b2->ns, b1->ip), "same-space ping b2 -> b1");
    KT_ASSERT_MSG(fetch(b2->ns, b1->ip, 80), "same-space http b2 -> b1");
    KT_ASSERT_MSG(ping(a1->ns, T.gw[0]), "gateway of A");
    KT_ASSERT_MSG(ping(b1->ns, T.gw[1]), "gateway of B");
    KT_ASSERT_MSG(!ping(a1->ns, b1->ip), "cross-space ping a1 -> b1");
    KT_ASSERT_MSG(!ping(b2->ns, a2->ip), "cross-space ping b2 -> a2");
    KT_ASSERT_MSG(!fetch(a1->ns, b1->ip, 80), "cross-space http a1 -> b1:80");
    /* Unpublished ports are not reachable from outside either. */
    KT_ASSERT_MSG(!fetch(T.client_ns, b1->ip, 80), "client -> b1:80 unpublished");
    /* Egress is masqueraded: without a route back to the space, the client
     * answers only because it sees the host's address, not the cell's. */
    KT_ASSERT_EQ(sh("ip -n %s route del default", T.client_ns), 0);
    bool egress = ping(a1->ns, T.client_ip);
    KT_ASSERT_EQ(sh("ip -n %s route add default via %s", T.client_ns, T.client_gw), 0);
    KT_ASSERT_MSG(egress, "masqueraded egress a1 -> client");
    KT_ASSERT(sh("nft list table inet %s | grep -q 'space/fwtest/space-a/post'", T.table) == 0);
    /* ... and so is the guard that keeps it from opening the host's
     * loopback to the cells. */
    _cleanup_free_ char *listing = nft_list(T.table);
    _cleanup_free_ char *guard = kk_xasprintf(
            "chain space/fwtest/space-a/guard {\n\t\tiifname \"%s\" drop\n", T.bridge[0]);
    KT_ASSERT_MSG(strstr(listing, guard), "no guard for %s", T.bridge[0]);
    KT_ASSERT(strstr(listing, "ip daddr 127.0.0.0/8 jump martians"));
    /* route_localnet is set on the bridges, and only there. */
    _cleanup_free_ char *rl = capture("cat /proc/sys/net/ipv4/conf/%s/route_localnet", T.bridge[0]);
    KT_ASSERT_STREQ(rl, "1\n");
    _cleanup_free_ char *other =
            capture("cat /proc/sys/net/ipv4/conf/%s/route_localnet", T.client_veth);
    KT_ASSERT_STREQ(other, "0\n");
}

KT_CASE(published_port_answers_from_everywhere)
{
    _cleanup_error_ kk_error *err = NULL;
    char spec[32];
    struct cell *a1 = cell_named("a1"), *b1 = cell_named("b1"), *b2 = cell_named("b2");
    KT_ASSERT(T.ready);

    KT_ASSERT_MSG(!fetch(T.client_ns, T.client_gw, T.host_port), "published before publishing");
    snprintf(spec, sizeof(spec), "%u:80/tcp", T.host_port);
    KT_ASSERT_OK(apply_cell(b1, spec, &err), &err);

    KT_ASSERT_MSG(fetch(T.client_ns, T.client_gw, T.host_port), "client namespace -> host");
    KT_ASSERT_MSG(fetch(NULL, "127.0.0.1", T.host_port), "host -> 127.0.0.1");
    KT_ASSERT_MSG(fetch(NULL, T.client_gw, T.host_port), "host -> its own address");
    KT_ASSERT_MSG(fetch(a1->ns, T.gw[0], T.host_port), "other space -> host");
    KT_ASSERT_MSG(fetch(b2->ns, T.gw[1], T.host_port), "own space -> host (hairpin)");
    KT_ASSERT_MSG(fetch(b1->ns, T.gw[1], T.host_port), "the cell itself -> host (hairpin)");
    /* Only the published flow: the direct path stays closed. */
    KT_ASSERT_MSG(!fetch(T.client_ns, b1->ip, 80), "client -> b1:80 direct");
}

KT_CASE(published_udp_port_answers)
{
    _cleanup_error_ kk_error *err = NULL;
    char spec[32];
    struct cell *b2 = cell_named("b2");
    unsigned port = T.host_port + 3;
    KT_ASSERT(T.ready);

    b2->udp_echo = start_udp_echo(b2->ns);
    KT_ASSERT(b2->udp_echo > 0);
    bool up = false;
    for (int i = 0; i < 50 && !(up = udp_echoes(b2->ns, "127.0.0.1", 5353)); i++)
        usleep(100 * 1000);
    KT_ASSERT_MSG(up, "udp echo in %s does not answer", b2->ns);
    KT_ASSERT_MSG(!udp_echoes(T.client_ns, T.client_gw, port), "echoes before publishing");

    snprintf(spec, sizeof(spec), "%u:5353/udp", port);
    KT_ASSERT_OK(apply_cell(b2, spec, &err), &err);
    KT_ASSERT_MSG(udp_echoes(T.client_ns, T.client_gw, port), "udp from the client namespace");
    KT_ASSERT_MSG(udp_echoes(NULL, "127.0.0.1", port), "udp from the host's 127.0.0.1");

    KT_ASSERT_OK(kk_fw_cell_remove(T.fw, b2->key, &err), &err);
    /* A new source port: the old flow's conntrack entry does not apply. */
    KT_ASSERT_MSG(!udp_echoes(T.client_ns, T.client_gw, port), "udp still published");
}

KT_CASE(reasserting_is_idempotent)
{
    _cleanup_error_ kk_error *err = NULL;
    char spec[32];
    KT_ASSERT(T.ready);
    _cleanup_free_ char *before = nft_list(T.table);
    _cleanup_free_ char *handles_before = capture("nft -a list table inet %s", T.table);
    KT_ASSERT(strstr(before, "jump cell/fwtest/space-b/stack/b1/dnat"));

    snprintf(spec, sizeof(spec), "%u:80/tcp", T.host_port);
    for (int round = 0; round < 3; round++) {
        KT_ASSERT_OK(apply_space(0, &err), &err);
        KT_ASSERT_OK(apply_space(1, &err), &err);
        KT_ASSERT_OK(apply_cell(cell_named("b1"), spec, &err), &err);
        KT_ASSERT_OK(apply_cell(cell_named("a1"), NULL, &err), &err);
    }
    _cleanup_free_ char *after = nft_list(T.table);
    KT_ASSERT_STREQ(after, before);
    /* Not even rewritten: an unchanged object costs no transaction, so the
     * rule handles are the same. */
    _cleanup_free_ char *handles_after = capture("nft -a list table inet %s", T.table);
    KT_ASSERT_STREQ(handles_after, handles_before);

    _cleanup_buf_ struct kk_buf dump = KK_BUF_INIT;
    KT_ASSERT_OK(kk_fw_dump(T.fw, &dump, &err), &err);
    KT_ASSERT_STREQ(kk_buf_str(&dump), before);
    KT_ASSERT(fetch(T.client_ns, T.client_gw, T.host_port));
}

KT_CASE(removing_a_cell_removes_exactly_its_rules)
{
    _cleanup_error_ kk_error *err = NULL;
    char spec[32];
    struct cell *a2 = cell_named("a2");
    unsigned port2 = T.host_port + 1;
    KT_ASSERT(T.ready);
    _cleanup_free_ char *before = nft_list(T.table);

    a2->httpd = start_httpd(a2->ns);
    KT_ASSERT(a2->httpd > 0 && httpd_ready(a2->ns, "127.0.0.1"));
    snprintf(spec, sizeof(spec), "127.0.0.1:%u:80", port2);
    KT_ASSERT_OK(apply_cell(a2, spec, &err), &err);
    KT_ASSERT_MSG(fetch(NULL, "127.0.0.1", port2), "a2 published on 127.0.0.1");
    /* Bound to 127.0.0.1 only: not on the host's other addresses. */
    KT_ASSERT_MSG(!fetch(T.client_ns, T.client_gw, port2), "a2 reachable beyond 127.0.0.1");
    _cleanup_free_ char *with = nft_list(T.table);
    KT_ASSERT(strcmp(with, before) != 0);

    /* Applying no ports removes the cell's rules; removing it again is fine. */
    KT_ASSERT_OK(apply_cell(a2, NULL, &err), &err);
    _cleanup_free_ char *after = nft_list(T.table);
    KT_ASSERT_STREQ(after, before);
    KT_ASSERT_OK(apply_cell(a2, spec, &err), &err);
    KT_ASSERT_OK(kk_fw_cell_remove(T.fw, a2->key, &err), &err);
    KT_ASSERT_OK(kk_fw_cell_remove(T.fw, a2->key, &err), &err);
    free(after);
    after = nft_list(T.table);
    KT_ASSERT_STREQ(after, before);

    KT_ASSERT_MSG(!fetch(NULL, "127.0.0.1", port2), "a2 still published");
    KT_ASSERT_MSG(fetch(NULL, "127.0.0.1", T.host_port), "b1 no longer published");
}

KT_CASE(removing_a_space_removes_exactly_its_rules)
{
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT(T.ready);
    _cleanup_free_ char *before = nft_list(T.table);
    KT_ASSERT_OK(apply_space(2, &err), &err);
    _cleanup_free_ char *with = nft_list(T.table);
    KT_ASSERT(strstr(with, "space/fwtest/space-c/fwd"));
    KT_ASSERT_OK(kk_fw_space_remove(T.fw, T.space_key[2], &err), &err);
    KT_ASSERT_OK(kk_fw_space_remove(T.fw, T.space_key[2], &err), &err);
    _cleanup_free_ char *after = nft_list(T.table);
    KT_ASSERT_STREQ(after, before);

    /* Removing space A lifts its isolation only: B still refuses A. */
    struct cell *a1 = cell_named("a1"), *b1 = cell_named("b1");
    KT_ASSERT_OK(kk_fw_space_remove(T.fw, T.space_key[0], &err), &err);
    KT_ASSERT_MSG(ping(b1->ns, a1->ip), "B -> A after removing A's rules");
    KT_ASSERT_MSG(!ping(a1->ns, b1->ip), "A -> B after removing A's rules");
    KT_ASSERT_OK(apply_space(0, &err), &err);
    KT_ASSERT_MSG(!ping(b1->ns, a1->ip), "B -> A after re-applying A");
}

KT_CASE(prune_removes_what_no_one_owns)
{
    _cleanup_error_ kk_error *err = NULL;
    char spec[32];
    unsigned removed = 99;
    KT_ASSERT(T.ready);
    _cleanup_free_ char *before = nft_list(T.table);

    /* A cell deleted while the agent was down: its rules are still there. */
    struct cell ghost = {.name = "ghost"};
    snprintf(ghost.key, sizeof(ghost.key), "fwtest/space-b/stack/ghost");
    snprintf(ghost.ip, sizeof(ghost.ip), "%s", cell_named("b2")->ip);
    snprintf(spec, sizeof(spec), "%u:80", T.host_port + 2);
    KT_ASSERT_OK(apply_cell(&ghost, spec, &err), &err);
    _cleanup_free_ char *with = nft_list(T.table);
    KT_ASSERT(strstr(with, "cell/fwtest/space-b/stack/ghost/dnat"));

    const char *spaces[] = {T.space_key[0], T.space_key[1], NULL};
    const char *cells[N_CELLS + 1] = {NULL};
    for (int i = 0; i < N_CELLS; i++)
        cells[i] = T.cells[i].key;
    KT_ASSERT_OK(kk_fw_prune(T.fw, spaces, cells, &removed, &err), &err);
    KT_ASSERT_EQ(removed, 2);
    _cleanup_free_ char *after = nft_list(T.table);
    KT_ASSERT_STREQ(after, before);
    KT_ASSERT_OK(kk_fw_prune(T.fw, spaces, cells, &removed, &err), &err);
    KT_ASSERT_EQ(removed, 0);
    KT_ASSERT_MSG(fetch(NULL, "127.0.0.1", T.host_port), "b1 no longer published");
}

KT_CASE(failed_change_changes_nothing)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_fw_ struct kk_fw *fw = NULL;
    KT_ASSERT(T.ready);
    /* Our table name, but someone made "forward" an input chain: the
     * kernel refuses our base chain, and with it the whole change. */
    KT_ASSERT_EQ(sh("nft add table inet %s && "
                    "nft add chain inet %s forward '{ type filter hook input priority 0; }'",
                    T.broken, T.broken),
                 0);
    _cleanup_free_ char *before = nft_list(T.broken);
    KT_ASSERT_OK(kk_fw_new(&(struct kk_fw_config){.table = T.broken}, &fw, &err), &err);
    struct kk_fw_space sp = {T.space_key[0], T.bridge[0], T.subnet[0]};
    KT_ASSERT(kk_fw_space_apply(fw, &sp, &err) < 0);
    KT_ASSERT_MSG(strstr(err->message, "Operation not supported"), "%s", err->message);
    _cleanup_free_ char *after = nft_list(T.broken);
    KT_ASSERT_STREQ(after, before);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_fw_teardown(fw, &err), &err);
    KT_ASSERT_EQ(sh("nft list table inet %s", T.broken), 1);
}

struct thread_arg {
    struct kk_fw *fw;
    int id;
    int failures;
};

static void *apply_many(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 10; i++) {
        _cleanup_error_ kk_error *err = NULL;
        char key[64], ip[32];
        struct kk_fw_port port = {"", (uint16_t)(40000 + a->id * 100 + i), 80, KK_FW_TCP};
        snprintf(key, sizeof(key), "fwtest/threads/t%d/c%d", a->id, i);
        snprintf(ip, sizeof(ip), "10.199.%d.%d", a->id, 2 + i);
        if (kk_fw_cell_apply(a->fw, &(struct kk_fw_cell){key, ip, &port, 1}, &err) < 0) {
            fprintf(stderr, "thread %d: %s\n", a->id, err->message);
            a->failures++;
        }
    }
    return NULL;
}

KT_CASE(concurrent_cells_from_threads)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_fw_ struct kk_fw *fw = NULL;
    pthread_t th[4];
    struct thread_arg args[4];
    KT_ASSERT(T.ready);
    /* A table of its own: rules only, nothing is sent through it. */
    KT_ASSERT_OK(kk_fw_new(&(struct kk_fw_config){.table = T.threads}, &fw, &err), &err);
    for (int t = 0; t < 4; t++) {
        args[t] = (struct thread_arg){fw, t, 0};
        KT_ASSERT_EQ(pthread_create(&th[t], NULL, apply_many, &args[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++)
        KT_ASSERT_EQ(args[t].failures, 0);
    _cleanup_free_ char *n =
            capture("nft list chain inet %s publish | grep -c 'jump cell/'", T.threads);
    KT_ASSERT_STREQ(n, "40\n");
    KT_ASSERT_OK(kk_fw_teardown(fw, &err), &err);
}

KT_CASE(bad_input_changes_nothing)
{
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT(T.ready);
    _cleanup_free_ char *before = nft_list(T.table);
    struct kk_fw_space sp = {"fwtest/space-z", "kf\"; flush ruleset", "10.1.2.0/24"};
    KT_ASSERT(kk_fw_space_apply(T.fw, &sp, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_INVALID);
    kk_error_freep(&err);
    /* A space whose bridge does not exist changes nothing either. */
    struct kk_fw_space missing = {"fwtest/space-z", "kfnosuchbr", "10.1.2.0/24"};
    KT_ASSERT(kk_fw_space_apply(T.fw, &missing, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_NOT_FOUND);
    KT_ASSERT_OK(kk_fw_space_remove(T.fw, "fwtest/space-z", &err), &err);
    _cleanup_free_ char *after = nft_list(T.table);
    KT_ASSERT_STREQ(after, before);
}

KT_CASE(other_tables_untouched_and_teardown)
{
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT(T.ready);
    _cleanup_free_ char *other = nft_list(T.other);
    KT_ASSERT(strstr(other, "ip daddr 192.0.2.254 drop"));
    KT_ASSERT_OK(kk_fw_teardown(T.fw, &err), &err);
    KT_ASSERT_OK(kk_fw_teardown(T.fw, &err), &err);
    KT_ASSERT_EQ(sh("nft list table inet %s", T.table), 1);
    _cleanup_free_ char *other_after = nft_list(T.other);
    KT_ASSERT_STREQ(other_after, other);
    _cleanup_buf_ struct kk_buf dump = KK_BUF_INIT;
    KT_ASSERT_OK(kk_fw_dump(T.fw, &dump, &err), &err);
    KT_ASSERT_EQ(dump.len, 0);
}

KT_CASE(nothing_is_left_behind)
{
    KT_REQUIRE_ROOT();
    cleanup();
    _cleanup_free_ char *prefix = kk_xasprintf("kf%d", (int)getpid());
    _cleanup_free_ char *links = capture("ip -o link show | grep -c %s", prefix);
    _cleanup_free_ char *netns = capture("ip netns list | grep -c kkfw%d-", (int)getpid());
    _cleanup_free_ char *tables = capture("nft list tables | grep -c kkfw.*%d", (int)getpid());
    KT_ASSERT_STREQ(links, "0\n");
    KT_ASSERT_STREQ(netns, "0\n");
    KT_ASSERT_STREQ(tables, "0\n");
    if (T.orig_forward[0]) {
        _cleanup_free_ char *fwd = capture("cat /proc/sys/net/ipv4/ip_forward");
        KT_ASSERT_STREQ(fwd, T.orig_forward);
    }
}
