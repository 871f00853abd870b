/* runtime/net against the real kernel (root): spaces and cells made of
 * plain network namespaces. Every host-global name is unique to this run
 * (prefixes and directories carry the pid, the pool is picked from it), and
 * every case ends by checking that nothing is left behind: no link of our
 * prefixes, no namespace file or mount, no allocation. cleanup_all() also
 * runs at exit and on fatal signals, so a failed run leaves nothing either.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "runtime/net/hosts.h"
#include "runtime/net/ipam.h"
#include "runtime/net/net.h"
#include "tests/lib/kktest.h"

static char bridge_prefix[16], veth_prefix[16], foreign_link[16], base_dir[64], netns_dir[96],
        state_dir[96], pool[32];

static struct kk_net_config config(void)
{
    return (struct kk_net_config){bridge_prefix, veth_prefix, netns_dir, state_dir, pool};
}

/* Runs a shell command quietly; returns its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *cmd = NULL;
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    _cleanup_free_ char *quiet = kk_xasprintf("(%s) >/dev/null 2>&1", cmd);
    int r = system(quiet);
    return WIFEXITED(r) ? WEXITSTATUS(r) : 128;
}

/* The first line of a command's output (trimmed), "" if none. */
static char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh_out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *cmd = NULL;
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
    kk_buf_addch(&b, '\0');
    return kk_buf_detach(&b, NULL);
}

static int count_links(const char *prefix)
{
    _cleanup_free_ char *out = sh_out("ip -o link show | awk -F': ' '{print $2}' | "
                                      "cut -d@ -f1 | grep -c '^%s' || true",
                                      prefix);
    return atoi(out);
}

static int count_mounts(void)
{
    _cleanup_free_ char *out =
            sh_out("awk '$5 ~ \"^%s/\" {n++} END {print n+0}' /proc/self/mountinfo", netns_dir);
    return atoi(out);
}

static int count_netns_files(void)
{
    _cleanup_closedir_ DIR *d = opendir(netns_dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        n += de->d_name[0] != '.';
    return n;
}

static void cleanup_all(void)
{
    sh("for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | "
       "grep -E '^(%s|%s|%s)'); do ip link del $l; done",
       bridge_prefix, veth_prefix, foreign_link);
    _cleanup_closedir_ DIR *d = opendir(netns_dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *p = kk_xasprintf("%s/%s", netns_dir, de->d_name);
        while (umount2(p, MNT_DETACH) == 0)
            ;
        unlink(p);
    }
    while (umount2(netns_dir, MNT_DETACH) == 0)
        ;
    sh("rm -rf '%s'", base_dir);
    /* net.ipv4.ip_forward is left as ensure_forwarding set it: tests
     * running beside this one may need it, and the product sets it anyway. */
}

__attribute__((constructor)) static void setup_names(void)
{
    unsigned pid = (unsigned)getpid();
    snprintf(bridge_prefix, sizeof(bridge_prefix), "b%06x", pid & 0xffffff);
    snprintf(veth_prefix, sizeof(veth_prefix), "v%06x", pid & 0xffffff);
    snprintf(foreign_link, sizeof(foreign_link), "h%06x", pid & 0xffffff);
    snprintf(base_dir, sizeof(base_dir), "/run/kktest-net-%u", pid);
    snprintf(netns_dir, sizeof(netns_dir), "%s/netns", base_dir);
    snprintf(state_dir, sizeof(state_dir), "%s/state", base_dir);
    snprintf(pool, sizeof(pool), "10.%u.0.0/16", 150 + pid % 40);
    kt_atexit(cleanup_all);
}

/* Everything of this run is gone (the check each case ends with). */
#define ASSERT_NOTHING_LEFT()                                                                      \
    do {                                                                                           \
        KT_ASSERT_EQ(count_links(bridge_prefix), 0);                                               \
        KT_ASSERT_EQ(count_links(veth_prefix), 0);                                                 \
        KT_ASSERT_EQ(count_links(foreign_link), 0);                                                \
        KT_ASSERT_EQ(count_mounts(), 0);                                                           \
        KT_ASSERT_EQ(count_netns_files(), 0);                                                      \
    } while (0)

static int ping_from(const struct kk_net_cell *from, const char *ip)
{
    return sh("nsenter --net=%s ping -c1 -W1 %s", from->netns_path, ip);
}

static int owners_count(const char *realm, const char *space)
{
    struct kk_ipam ipam;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_strv_ char **owners = NULL;
    if (kk_ipam_open(&ipam, state_dir, pool, &err) < 0)
        return -1;
    int r = kk_ipam_owners(&ipam, realm, space, &owners, &err);
    kk_ipam_close(&ipam);
    if (r < 0)
        return -1;
    int n = 0;
    while (owners[n])
        n++;
    return n;
}

KT_CASE(two_spaces_two_cells)
{
    KT_REQUIRE_ROOT();
    cleanup_all(); /* a failed case before must not fail this one */
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = config();
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    KT_ASSERT_OK(kk_net_ensure_forwarding(net, &err), &err);
    _cleanup_free_ char *fwd = sh_out("cat /proc/sys/net/ipv4/ip_forward");
    KT_ASSERT_STREQ(fwd, "1\n");

    const char *spaces[2] = {"alpha", "beta"};
    struct kk_net_space sp[2];
    struct kk_net_cell cells[2][2];
    struct kk_net_cell_spec specs[2][2] = {{{"r", "alpha", "st", "c1"}, {"r", "alpha", "st", "c2"}},
                                           {{"r", "beta", "st", "c1"}, {"r", "beta", "st", "c2"}}};
    for (int s = 0; s < 2; s++) {
        KT_ASSERT_OK(kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", spaces[s], NULL},
                                         &sp[s], &err),
                     &err);
        KT_ASSERT_EQ(strlen(sp[s].bridge), 15);
        for (int c = 0; c < 2; c++)
            KT_ASSERT_OK(kk_net_cell_ensure(net, &specs[s][c], &cells[s][c], &err), &err);
    }
    KT_ASSERT(strcmp(sp[0].subnet, sp[1].subnet) != 0);
    KT_ASSERT(strcmp(sp[0].bridge, sp[1].bridge) != 0);

    for (int s = 0; s < 2; s++) {
        /* What the kernel has, observed with ip(8). */
        _cleanup_free_ char *br = sh_out("ip -4 -o addr show dev %s", sp[s].bridge);
        _cleanup_free_ char *want = kk_xasprintf("inet %s/%u", sp[s].gateway, sp[s].prefix_len);
        KT_ASSERT_MSG(strstr(br, want), "bridge %s: %s", sp[s].bridge, br);
        for (int c = 0; c < 2; c++) {
            struct kk_net_cell *cell = &cells[s][c];
            KT_ASSERT_STREQ(cell->gateway, sp[s].gateway);
            _cleanup_free_ char *hv = sh_out("ip -o link show dev %s", cell->host_veth);
            _cleanup_free_ char *master = kk_xasprintf("master %s", sp[s].bridge);
            KT_ASSERT_MSG(strstr(hv, master) && strstr(hv, "state UP"), "%s", hv);
            /* Hairpin: a cell reaching its own published port via the host. */
            _cleanup_free_ char *hairpin =
                    sh_out("cat /sys/class/net/%s/brport/hairpin_mode", cell->host_veth);
            KT_ASSERT_MSG(hairpin && hairpin[0] == '1', "hairpin_mode: %s", hairpin);
            _cleanup_free_ char *in =
                    sh_out("nsenter --net=%s ip -4 -o addr show dev eth0", cell->netns_path);
            _cleanup_free_ char *addr = kk_xasprintf("inet %s/%u", cell->ip, cell->prefix_len);
            KT_ASSERT_MSG(strstr(in, addr), "eth0: %s", in);
            _cleanup_free_ char *rt =
                    sh_out("nsenter --net=%s ip -4 route show default", cell->netns_path);
            _cleanup_free_ char *via = kk_xasprintf("default via %s dev eth0", sp[s].gateway);
            KT_ASSERT_MSG(strstr(rt, via), "route: %s", rt);
            _cleanup_free_ char *lo =
                    sh_out("nsenter --net=%s ip -o link show dev lo", cell->netns_path);
            KT_ASSERT_MSG(strstr(lo, "LOOPBACK,UP"), "lo: %s", lo);
        }
        /* Same space: cell to cell, and the gateway answers. */
        KT_ASSERT_EQ(ping_from(&cells[s][0], cells[s][1].ip), 0);
        KT_ASSERT_EQ(ping_from(&cells[s][1], cells[s][0].ip), 0);
        KT_ASSERT_EQ(ping_from(&cells[s][0], sp[s].gateway), 0);
        KT_ASSERT_EQ(ping_from(&cells[s][0], "127.0.0.1"), 0);
    }

    /* Ensure is idempotent: same answers, nothing added. */
    for (int s = 0; s < 2; s++) {
        struct kk_net_space again;
        KT_ASSERT_OK(kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", spaces[s], NULL},
                                         &again, &err),
                     &err);
        KT_ASSERT_STREQ(again.subnet, sp[s].subnet);
        for (int c = 0; c < 2; c++) {
            struct kk_net_cell cell;
            KT_ASSERT_OK(kk_net_cell_ensure(net, &specs[s][c], &cell, &err), &err);
            KT_ASSERT_STREQ(cell.ip, cells[s][c].ip);
            KT_ASSERT_STREQ(cell.host_veth, cells[s][c].host_veth);
        }
        KT_ASSERT_EQ(ping_from(&cells[s][0], cells[s][1].ip), 0);
    }
    KT_ASSERT_EQ(count_links(veth_prefix), 4);
    KT_ASSERT_EQ(count_links(bridge_prefix), 2);
    KT_ASSERT_EQ(count_mounts(), 4);

    /* Teardown, twice (idempotent). */
    for (int s = 0; s < 2; s++) {
        for (int c = 0; c < 2; c++) {
            KT_ASSERT_OK(kk_net_cell_remove(net, &specs[s][c], 0, &err), &err);
            KT_ASSERT_OK(kk_net_cell_remove(net, &specs[s][c], 0, &err), &err);
        }
        KT_ASSERT_EQ(owners_count("r", spaces[s]), 0);
        KT_ASSERT_OK(kk_net_space_remove(net, "r", spaces[s], &err), &err);
        KT_ASSERT_OK(kk_net_space_remove(net, "r", spaces[s], &err), &err);
    }
    ASSERT_NOTHING_LEFT();
}

KT_CASE(cell_needs_its_space)
{
    KT_REQUIRE_ROOT();
    cleanup_all(); /* a failed case before must not fail this one */
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = config();
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    struct kk_net_cell cell;
    struct kk_net_cell_spec spec = {"r", "nospace", "st", "c"};
    KT_ASSERT(kk_net_cell_ensure(net, &spec, &cell, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_PRECONDITION);
    kk_error_freep(&err);
    /* A full subnet: the cell that gets no address leaves nothing behind. */
    struct kk_net_space sp;
    KT_ASSERT_OK(kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "tiny", "10.149.7.0/30"},
                                     &sp, &err),
                 &err);
    struct kk_net_cell_spec one = {"r", "tiny", "st", "one"}, two = {"r", "tiny", "st", "two"};
    KT_ASSERT_OK(kk_net_cell_ensure(net, &one, &cell, &err), &err);
    KT_ASSERT_STREQ(cell.ip, "10.149.7.2");
    KT_ASSERT(kk_net_cell_ensure(net, &two, &cell, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXHAUSTED);
    kk_error_freep(&err);
    KT_ASSERT_EQ(count_links(veth_prefix), 1);
    KT_ASSERT_EQ(count_netns_files(), 1);
    KT_ASSERT_OK(kk_net_cell_remove(net, &one, 0, &err), &err);
    KT_ASSERT_OK(kk_net_space_remove(net, "r", "tiny", &err), &err);
    spec.cell = "Bad_Name";
    KT_ASSERT(kk_net_cell_ensure(net, &spec, &cell, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    ASSERT_NOTHING_LEFT();
}

KT_CASE(quick_recreate_50_times)
{
    KT_REQUIRE_ROOT();
    cleanup_all(); /* a failed case before must not fail this one */
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = config();
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    struct kk_net_space sp;
    KT_ASSERT_OK(
            kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "quick", NULL}, &sp, &err),
            &err);
    struct kk_net_cell_spec spec = {"r", "quick", "st", "again"};
    struct kk_net_cell peer;
    struct kk_net_cell_spec peer_spec = {"r", "quick", "st", "peer"};
    KT_ASSERT_OK(kk_net_cell_ensure(net, &peer_spec, &peer, &err), &err);
    for (int i = 0; i < 50; i++) {
        struct kk_net_cell cell;
        KT_ASSERT_OK(kk_net_cell_ensure(net, &spec, &cell, &err), &err);
        KT_ASSERT(strcmp(cell.ip, peer.ip) != 0);
        if (i == 0 || i == 49) /* the new cell really works */
            KT_ASSERT_MSG(ping_from(&peer, cell.ip) == 0, "round %d: no answer from %s", i,
                          cell.ip);
        KT_ASSERT_OK(kk_net_cell_remove(net, &spec, 0, &err), &err);
        KT_ASSERT_EQ(owners_count("r", "quick"), 1);
    }
    /* With KEEP_IP the address survives the recreate. */
    struct kk_net_cell a, b;
    KT_ASSERT_OK(kk_net_cell_ensure(net, &spec, &a, &err), &err);
    KT_ASSERT_OK(kk_net_cell_remove(net, &spec, KK_NET_KEEP_IP, &err), &err);
    KT_ASSERT_EQ(count_links(veth_prefix), 1);
    KT_ASSERT_OK(kk_net_cell_ensure(net, &spec, &b, &err), &err);
    KT_ASSERT_STREQ(a.ip, b.ip);
    KT_ASSERT_OK(kk_net_cell_remove(net, &spec, 0, &err), &err);
    KT_ASSERT_OK(kk_net_cell_remove(net, &peer_spec, 0, &err), &err);
    KT_ASSERT_EQ(owners_count("r", "quick"), 0);
    _cleanup_free_ char *addrs = sh_out("ip -4 -o addr show | grep -c ' %.*s' || true",
                                        (int)(strrchr(sp.subnet, '.') - sp.subnet), sp.subnet);
    KT_ASSERT_EQ(atoi(addrs), 1); /* only the gateway is left on the host */
    KT_ASSERT_OK(kk_net_space_remove(net, "r", "quick", &err), &err);
    ASSERT_NOTHING_LEFT();
}

KT_CASE(stale_and_foreign_links)
{
    KT_REQUIRE_ROOT();
    cleanup_all(); /* a failed case before must not fail this one */
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = config();
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    struct kk_net_space sp;
    KT_ASSERT_OK(
            kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "stale", NULL}, &sp, &err),
            &err);
    struct kk_net_cell_spec spec = {"r", "stale", "st", "c"};
    char veth[KK_NET_IFNAMSIZ];
    KT_ASSERT_OK(kk_net_veth_name(&cfg, &spec, veth, &err), &err);

    /* A leftover of this very cell (a crash mid-create left the host end,
     * its peer on the host): replaced, not "File exists". */
    KT_ASSERT_EQ(sh("ip link add %s type veth peer name %sx && ip link set %s alias r/stale/st/c",
                    veth, veth_prefix, veth),
                 0);
    struct kk_net_cell cell;
    KT_ASSERT_OK(kk_net_cell_ensure(net, &spec, &cell, &err), &err);
    KT_ASSERT_EQ(count_links(veth_prefix), 1);
    KT_ASSERT_EQ(ping_from(&cell, sp.gateway), 0);
    KT_ASSERT_OK(kk_net_cell_remove(net, &spec, 0, &err), &err);

    /* Someone else's link under our name is never taken over. */
    KT_ASSERT_EQ(sh("ip link add %s type veth peer name %sy && ip link set %s alias other/owner",
                    veth, veth_prefix, veth),
                 0);
    KT_ASSERT(kk_net_cell_ensure(net, &spec, &cell, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS);
    kk_error_freep(&err);
    KT_ASSERT(kk_net_cell_remove(net, &spec, 0, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS);
    kk_error_freep(&err);
    KT_ASSERT_EQ(count_links(veth), 1);
    KT_ASSERT_EQ(sh("ip link del %s", veth), 0);
    KT_ASSERT_OK(kk_net_cell_remove(net, &spec, 0, &err), &err);
    KT_ASSERT_OK(kk_net_space_remove(net, "r", "stale", &err), &err);
    ASSERT_NOTHING_LEFT();
}

static bool alive_in(const char *key, void *ctx)
{
    for (const char *const *k = ctx; *k; k++)
        if (strcmp(*k, key) == 0)
            return true;
    return false;
}

KT_CASE(ipam_crash_safety)
{
    KT_REQUIRE_ROOT();
    cleanup_all(); /* a failed case before must not fail this one */
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = config();
    struct kk_net_space sp;
    struct kk_net_cell_spec k = {"r", "crash", "st", "k"}, l = {"r", "crash", "st", "l"},
                            m = {"r", "crash", "st", "m"};
    uint32_t k_ip, dead_ip;
    char k_str[16];
    {
        _cleanup_net_ struct kk_net *net = NULL;
        KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
        KT_ASSERT_OK(kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "crash", NULL}, &sp,
                                         &err),
                     &err);
        /* The agent allocates for k and for a cell d, then "crashes"
         * before configuring either. */
        struct kk_ipam ipam;
        KT_ASSERT_OK(kk_ipam_open(&ipam, state_dir, pool, &err), &err);
        int r1 = kk_ipam_alloc(&ipam, "r", "crash", "r/crash/st/k", &k_ip, &err);
        int r2 = r1 < 0 ? -1 : kk_ipam_alloc(&ipam, "r", "crash", "r/crash/st/d", &dead_ip, &err);
        kk_ipam_close(&ipam);
        KT_ASSERT_OK(r2, &err);
        kk_ipam_format_addr(k_ip, k_str);
    }
    /* Restart: a new backend on the same state. */
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    struct kk_net_cell ck, cl, cm;
    KT_ASSERT_OK(kk_net_cell_ensure(net, &k, &ck, &err), &err);
    KT_ASSERT_STREQ(ck.ip, k_str); /* the retry reuses its allocation */
    KT_ASSERT_OK(kk_net_cell_ensure(net, &l, &cl, &err), &err);
    KT_ASSERT_OK(kk_net_cell_ensure(net, &m, &cm, &err), &err);
    char dead_str[16];
    kk_ipam_format_addr(dead_ip, dead_str);
    KT_ASSERT(strcmp(cl.ip, ck.ip) != 0 && strcmp(cl.ip, dead_str) != 0);
    KT_ASSERT(strcmp(cm.ip, ck.ip) != 0 && strcmp(cm.ip, dead_str) != 0 &&
              strcmp(cm.ip, cl.ip) != 0);
    KT_ASSERT_EQ(owners_count("r", "crash"), 4);

    /* o's namespace was made (cell_ensure makes it while the allocation is
     * being written) but the crash came before its allocation was. */
    _cleanup_free_ char *orphan = kk_xasprintf("%s/r_crash_st_o", netns_dir);
    KT_ASSERT_EQ(sh("touch %s && unshare --net=%s true", orphan, orphan), 0);
    KT_ASSERT_EQ(count_mounts(), 4);

    /* d never came to be and m was deleted while the agent was down:
     * reconcile frees d's address, tears m down and removes o. */
    const char *alive[] = {"r/crash/st/k", "r/crash/st/l", NULL};
    unsigned removed = 0;
    KT_ASSERT_OK(kk_net_reconcile(net, "r", "crash", alive_in, alive, &removed, &err), &err);
    KT_ASSERT_EQ(removed, 3);
    KT_ASSERT(access(orphan, F_OK) < 0);
    KT_ASSERT_EQ(count_mounts(), 2);
    KT_ASSERT_EQ(owners_count("r", "crash"), 2);
    KT_ASSERT(access(cm.netns_path, F_OK) < 0);
    KT_ASSERT_EQ(count_links(cm.host_veth), 0);
    KT_ASSERT_EQ(count_links(veth_prefix), 2);
    KT_ASSERT_EQ(ping_from(&ck, cl.ip), 0);
    /* Nothing alive any more: everything goes. */
    const char *none[] = {NULL};
    KT_ASSERT_OK(kk_net_reconcile(net, "r", "crash", alive_in, none, &removed, &err), &err);
    KT_ASSERT_EQ(removed, 2);
    KT_ASSERT_EQ(owners_count("r", "crash"), 0);
    KT_ASSERT_OK(kk_net_space_remove(net, "r", "crash", &err), &err);
    ASSERT_NOTHING_LEFT();
}

KT_CASE(cell_files_for_a_real_cell)
{
    KT_REQUIRE_ROOT();
    cleanup_all(); /* a failed case before must not fail this one */
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = config();
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    struct kk_net_space sp;
    KT_ASSERT_OK(
            kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "files", NULL}, &sp, &err),
            &err);
    struct kk_net_cell_spec spec = {"r", "files", "st", "web"};
    struct kk_net_cell cell;
    KT_ASSERT_OK(kk_net_cell_ensure(net, &spec, &cell, &err), &err);
    _cleanup_free_ char *dir = kk_xasprintf("%s/cells/web", base_dir);
    const char *aliases[] = {"nginx", "sidecar", NULL};
    struct kk_net_hosts_spec hs = {.hostname = "web", .ip = cell.ip, .aliases = aliases};
    KT_ASSERT_OK(kk_net_write_cell_files(dir, &hs, &err), &err);
    /* The cell resolves its own names through the file. */
    _cleanup_free_ char *got = sh_out("getent -s files hosts sidecar 2>/dev/null; "
                                      "awk '$2 == \"web\"' %s/hosts",
                                      dir);
    _cleanup_free_ char *want = kk_xasprintf("%s\tweb nginx sidecar", cell.ip);
    KT_ASSERT_MSG(strstr(got, want), "%s", got);
    _cleanup_free_ char *hn = sh_out("cat %s/hostname", dir);
    KT_ASSERT_STREQ(hn, "web\n");
    _cleanup_free_ char *rc = sh_out("grep -c '^nameserver 127\\.' %s/resolv.conf || true", dir);
    KT_ASSERT_STREQ(rc, "0\n");
    KT_ASSERT_OK(kk_net_cell_remove(net, &spec, 0, &err), &err);
    KT_ASSERT_OK(kk_net_space_remove(net, "r", "files", &err), &err);
    ASSERT_NOTHING_LEFT();
}

/* A pool subnet never shadows a network the host already has. */
KT_CASE(host_networks_are_avoided)
{
    KT_REQUIRE_ROOT();
    cleanup_all();
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = config();
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    const char *p = pool; /* "10.N.0.0/16" */
    int n2 = atoi(strchr(p, '.') + 1);
    KT_ASSERT_EQ(sh("ip link add %s type bridge && ip addr add 10.%d.0.1/24 dev %s && "
                    "ip addr add 10.%d.1.7/24 dev %s",
                    foreign_link, n2, foreign_link, n2, foreign_link),
                 0);
    struct kk_net_space sp;
    KT_ASSERT_OK(
            kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "avoid", NULL}, &sp, &err),
            &err);
    _cleanup_free_ char *want = kk_xasprintf("10.%d.2.0/24", n2);
    KT_ASSERT_STREQ(sp.subnet, want);
    _cleanup_free_ char *taken = kk_xasprintf("10.%d.1.0/24", n2);
    KT_ASSERT(kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "clash", taken}, &sp,
                                  &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS);
    kk_error_freep(&err);
    KT_ASSERT_EQ(count_links(bridge_prefix), 1);
    KT_ASSERT_EQ(sh("ip link del %s", foreign_link), 0);
    KT_ASSERT_OK(kk_net_space_remove(net, "r", "avoid", &err), &err);
    KT_ASSERT_OK(kk_net_space_remove(net, "r", "clash", &err), &err);
    ASSERT_NOTHING_LEFT();
}

struct worker {
    struct kk_net *net;
    int id;
    struct kk_net_cell cells[3];
    kk_error *err;
};

static void *ensure_three(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 3 && !w->err; i++) {
        char name[16];
        snprintf(name, sizeof(name), "w%d-c%d", w->id, i);
        struct kk_net_cell_spec spec = {"r", "busy", "st", name};
        kk_net_cell_ensure(w->net, &spec, &w->cells[i], &w->err);
    }
    return NULL;
}

static void *remove_three(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 3 && !w->err; i++) {
        char name[16];
        snprintf(name, sizeof(name), "w%d-c%d", w->id, i);
        struct kk_net_cell_spec spec = {"r", "busy", "st", name};
        kk_net_cell_remove(w->net, &spec, 0, &w->err);
    }
    return NULL;
}

/* One struct kk_net, four threads, different cells of one space. */
KT_CASE(concurrent_cells)
{
    KT_REQUIRE_ROOT();
    cleanup_all();
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = config();
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    struct kk_net_space sp;
    KT_ASSERT_OK(
            kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "busy", NULL}, &sp, &err),
            &err);
    struct worker w[4];
    pthread_t tid[4];
    for (int k = 0; k < 4; k++) {
        w[k] = (struct worker){.net = net, .id = k};
        KT_ASSERT(pthread_create(&tid[k], NULL, ensure_three, &w[k]) == 0);
    }
    for (int k = 0; k < 4; k++)
        pthread_join(tid[k], NULL);
    for (int k = 0; k < 4; k++)
        KT_ASSERT_MSG(!w[k].err, "worker %d: %s", k, w[k].err->message);
    for (int a = 0; a < 12; a++)
        for (int b = 0; b < a; b++)
            KT_ASSERT_MSG(strcmp(w[a / 3].cells[a % 3].ip, w[b / 3].cells[b % 3].ip) != 0,
                          "%s handed out twice", w[a / 3].cells[a % 3].ip);
    KT_ASSERT_EQ(count_links(veth_prefix), 12);
    KT_ASSERT_EQ(owners_count("r", "busy"), 12);
    KT_ASSERT_EQ(ping_from(&w[0].cells[0], w[3].cells[2].ip), 0);
    for (int k = 0; k < 4; k++)
        KT_ASSERT(pthread_create(&tid[k], NULL, remove_three, &w[k]) == 0);
    for (int k = 0; k < 4; k++)
        pthread_join(tid[k], NULL);
    for (int k = 0; k < 4; k++)
        KT_ASSERT_MSG(!w[k].err, "worker %d: %s", k, w[k].err->message);
    KT_ASSERT_EQ(owners_count("r", "busy"), 0);
    KT_ASSERT_OK(kk_net_space_remove(net, "r", "busy", &err), &err);
    ASSERT_NOTHING_LEFT();
}

/* Last (cases run in file order): the run's own cleanup leaves no trace,
 * not even the shared mount of the namespace directory. */
KT_CASE(cleanup_leaves_nothing)
{
    KT_REQUIRE_ROOT();
    cleanup_all();
    ASSERT_NOTHING_LEFT();
    _cleanup_free_ char *m =
            sh_out("awk '$5 ~ \"^%s\" {n++} END {print n+0}' /proc/self/mountinfo", base_dir);
    KT_ASSERT_STREQ(m, "0\n");
    KT_ASSERT(access(base_dir, F_OK) < 0);
}
