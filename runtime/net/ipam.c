#include "runtime/net/ipam.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "fsapi/atomic.h"
#include "fsapi/fsutil.h"
#include "fsapi/hashmap.h"
#include "runtime/net/hostnets.h"
#include "runtime/net/net.h"

#define IPAM_SUFFIX     ".ipam"
#define IPAM_FILE_MAX   (32u << 20) /* a /16 full of 255-char owners */
#define OWNER_MAX       255
#define SUBNET_LEN_MIN  16
#define SUBNET_LEN_MAX  30
#define POOL_LEN_MIN    8
#define POOL_SUBNET_LEN 24

struct alloc {
    uint32_t ip;
    char *owner;
};

/* The parsed content of one <realm>_<space>.ipam file. */
struct space_state {
    struct kk_ipv4_net subnet;
    uint32_t next;
    struct alloc *allocs;
    size_t n, cap;
};

static void space_state_release(struct space_state *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->allocs[i].owner);
    free(s->allocs);
    *s = (struct space_state){0};
}

static inline uint32_t net_mask(uint8_t len)
{
    return len == 0 ? 0 : ~0u << (32 - len);
}

static inline uint32_t net_broadcast(const struct kk_ipv4_net *n)
{
    return n->addr | ~net_mask(n->len);
}

static bool net_contains(const struct kk_ipv4_net *n, uint32_t ip)
{
    return (ip & net_mask(n->len)) == n->addr;
}

static bool net_overlap(const struct kk_ipv4_net *a, const struct kk_ipv4_net *b)
{
    uint8_t len = a->len < b->len ? a->len : b->len;
    return ((a->addr ^ b->addr) & net_mask(len)) == 0;
}

/* An address a cell may get: not network, gateway or broadcast. */
static bool host_usable(const struct kk_ipv4_net *n, uint32_t ip)
{
    return net_contains(n, ip) && ip > kk_ipam_gateway(n) && ip < net_broadcast(n);
}

void kk_ipam_format_addr(uint32_t addr, char out[16])
{
    struct in_addr in = {htonl(addr)};
    inet_ntop(AF_INET, &in, out, 16);
}

void kk_ipam_format_cidr(const struct kk_ipv4_net *net, char out[19])
{
    char a[16];
    kk_ipam_format_addr(net->addr, a);
    snprintf(out, 19, "%s/%u", a, net->len > 32 ? 32u : net->len);
}

static int parse_addr(const char *s, uint32_t *out)
{
    struct in_addr in;
    /* inet_pton accepts exactly dotted-quad decimal: no octal, no short forms. */
    if (inet_pton(AF_INET, s, &in) != 1)
        return -1;
    *out = ntohl(in.s_addr);
    return 0;
}

int kk_ipam_parse_cidr(const char *s, uint8_t min_len, uint8_t max_len, struct kk_ipv4_net *out,
                       kk_error **err)
{
    char buf[KK_NET_CIDRSTRLEN];
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t digits = slash ? strlen(slash + 1) : 0;
    if (!slash || (size_t)(slash - s) >= sizeof(buf) || digits < 1 || digits > 2)
        return kk_error_set(err, KK_E_INVALID, "not an IPv4 CIDR: \"%.32s\"", s ? s : "");
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    uint32_t addr;
    unsigned len = 0;
    for (const char *p = slash + 1; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return kk_error_set(err, KK_E_INVALID, "not an IPv4 CIDR: \"%s\"", s);
        len = len * 10 + (unsigned)(*p - '0');
    }
    if (parse_addr(buf, &addr) < 0)
        return kk_error_set(err, KK_E_INVALID, "not an IPv4 CIDR: \"%s\"", s);
    if (len < min_len || len > max_len)
        return kk_error_set(err, KK_E_INVALID, "%s: prefix length must be %u..%u", s, min_len,
                            max_len);
    if (addr & ~net_mask((uint8_t)len))
        return kk_error_set(err, KK_E_INVALID, "%s: host bits set", s);
    *out = (struct kk_ipv4_net){addr, (uint8_t)len};
    return 0;
}

static bool owner_valid(const char *owner)
{
    size_t len = strlen(owner);
    if (len == 0 || len > OWNER_MAX)
        return false;
    for (const char *p = owner; *p; p++)
        if (!isgraph((unsigned char)*p))
            return false;
    return true;
}

static int space_file(const char *realm, const char *space, char out[NAME_MAX + 1], kk_error **err)
{
    if (!kk_net_name_valid(realm))
        return kk_error_set(err, KK_E_INVALID, "invalid realm name \"%.64s\"", realm);
    if (!kk_net_name_valid(space))
        return kk_error_set(err, KK_E_INVALID, "invalid space name \"%.64s\"", space);
    snprintf(out, NAME_MAX + 1, "%s_%s" IPAM_SUFFIX, realm, space);
    return 0;
}

/* ---- lock ---------------------------------------------------------------- */

static int lock_take(struct kk_ipam *ipam, kk_error **err)
{
    int fd = openat(ipam->dirfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return kk_error_errno(err, "open IPAM lock");
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            kk_error_errno(err, "lock IPAM state");
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* ---- file format --------------------------------------------------------- */

static int parse_error(kk_error **err, const char *file, unsigned line, const char *what)
{
    return kk_error_set(err, KK_E_DATA_LOSS, "%s:%u: %s", file, line, what);
}

static void state_add(struct space_state *s, uint32_t ip, const char *owner)
{
    void *p = s->allocs;
    kk_xgrow(&p, &s->cap, s->n + 1, sizeof(*s->allocs));
    s->allocs = p;
    s->allocs[s->n++] = (struct alloc){ip, kk_xstrdup(owner)};
}

/* Drops allocation i: the last one takes its slot (the file's order does not
 * matter), and the slot the last one leaves is cleared so that no freed
 * owner stays reachable in the array. */
static void state_remove(struct space_state *s, size_t i)
{
    char *gone = s->allocs[i].owner;
    size_t last = s->n - 1;
    s->allocs[i] = s->allocs[last];
    s->allocs[last] = (struct alloc){0};
    s->n = last;
    free(gone);
}

/* The addresses and owners of a file being loaded, so a duplicate is found
 * in O(1) (a linear scan per line made a load quadratic in the cells of
 * the space). */
struct seen {
    struct kk_hashmap ips, owners;
};

static int parse_line(struct space_state *s, struct seen *seen, char *line, const char *file,
                      unsigned lineno, kk_error **err)
{
    char *save = NULL;
    char *kw = strtok_r(line, " ", &save);
    char *a1 = kw ? strtok_r(NULL, " ", &save) : NULL;
    char *a2 = a1 ? strtok_r(NULL, " ", &save) : NULL;
    if (!kw || kw[0] == '#')
        return 0;
    if (strtok_r(NULL, " ", &save))
        return parse_error(err, file, lineno, "trailing fields");
    if (strcmp(kw, "subnet") == 0 && a1 && !a2) {
        _cleanup_error_ kk_error *e = NULL;
        if (s->subnet.len ||
            kk_ipam_parse_cidr(a1, SUBNET_LEN_MIN, SUBNET_LEN_MAX, &s->subnet, &e) < 0)
            return parse_error(err, file, lineno, "bad subnet");
        return 0;
    }
    if (!s->subnet.len)
        return parse_error(err, file, lineno, "subnet must come first");
    uint32_t ip;
    if (strcmp(kw, "next") == 0 && a1 && !a2) {
        if (parse_addr(a1, &ip) < 0 || !net_contains(&s->subnet, ip))
            return parse_error(err, file, lineno, "bad next address");
        s->next = ip;
        return 0;
    }
    if (strcmp(kw, "alloc") == 0 && a1 && a2) {
        if (parse_addr(a1, &ip) < 0 || !host_usable(&s->subnet, ip))
            return parse_error(err, file, lineno, "bad allocated address");
        if (!owner_valid(a2))
            return parse_error(err, file, lineno, "bad owner");
        char ipkey[16];
        snprintf(ipkey, sizeof(ipkey), "%u", (unsigned)ip);
        if (kk_hashmap_has(&seen->ips, ipkey) || kk_hashmap_has(&seen->owners, a2))
            return parse_error(err, file, lineno, "duplicate allocation");
        kk_hashmap_put(&seen->ips, ipkey, NULL);
        kk_hashmap_put(&seen->owners, a2, NULL);
        state_add(s, ip, a2);
        return 0;
    }
    return parse_error(err, file, lineno, "unknown line");
}

/* Loads a space file; returns 0 if it does not exist (s->subnet.len == 0),
 * 1 if loaded. */
static int state_load(struct kk_ipam *ipam, const char *file, struct space_state *s, kk_error **err)
{
    *s = (struct space_state){0};
    _cleanup_close_ int fd = openat(ipam->dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return kk_error_errno(err, "open %s", file);
    }
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    int r = kk_buf_read_fd(&b, fd, IPAM_FILE_MAX);
    if (r < 0)
        return kk_error_errnum(err, -r, "read %s", file);
    if (b.len == 0)
        return parse_error(err, file, 0, "empty file");
    if (memchr(b.data, '\0', b.len))
        return parse_error(err, file, 0, "NUL byte");
    unsigned lineno = 0;
    char *save = NULL;
    struct seen seen = {KK_HASHMAP_INIT, KK_HASHMAP_INIT};
    int pr = 0;
    /* strtok_r skips empty lines, which the writer never produces anyway. */
    for (char *line = strtok_r(b.data, "\n", &save); line && pr == 0;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        pr = parse_line(s, &seen, line, file, lineno, err);
    }
    kk_hashmap_clear(&seen.ips, NULL);
    kk_hashmap_clear(&seen.owners, NULL);
    if (pr < 0) {
        space_state_release(s);
        return -1;
    }
    if (!s->subnet.len) {
        space_state_release(s);
        return parse_error(err, file, lineno, "no subnet line");
    }
    if (!net_contains(&s->subnet, s->next))
        s->next = s->subnet.addr;
    return 1;
}

static int state_store(struct kk_ipam *ipam, const char *file, const struct space_state *s,
                       kk_error **err)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    char cidr[KK_NET_CIDRSTRLEN], addr[KK_NET_ADDRSTRLEN];
    kk_ipam_format_cidr(&s->subnet, cidr);
    kk_ipam_format_addr(s->next, addr);
    kk_buf_printf(&b, "# kukeon IPAM state, written by kukeond\nsubnet %s\nnext %s\n", cidr, addr);
    for (size_t i = 0; i < s->n; i++) {
        kk_ipam_format_addr(s->allocs[i].ip, addr);
        kk_buf_printf(&b, "alloc %s %s\n", addr, s->allocs[i].owner);
    }
    if (kk_atomic_write(ipam->dirfd, file, b.data, b.len, 0644, err) < 0)
        return kk_error_wrap(err, "IPAM");
    return 0;
}

/* ---- public -------------------------------------------------------------- */

int kk_ipam_open(struct kk_ipam *ipam, const char *state_dir, const char *pool, kk_error **err)
{
    ipam->dirfd = -1;
    if (kk_ipam_parse_cidr(pool, POOL_LEN_MIN, POOL_SUBNET_LEN, &ipam->pool, err) < 0)
        return kk_error_wrap(err, "subnet pool");
    if (kk_fs_mkdir_p_abs(state_dir, 0700, err) < 0)
        return kk_error_wrap(err, "IPAM state directory");
    ipam->dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ipam->dirfd < 0)
        return kk_error_errno(err, "open %s", state_dir);
    return 0;
}

void kk_ipam_close(struct kk_ipam *ipam)
{
    if (ipam->dirfd >= 0)
        close(ipam->dirfd);
    ipam->dirfd = -1;
}

/* Every other space's subnet, for overlap checks and the lowest-free scan. */
static int other_subnets(struct kk_ipam *ipam, const char *self, struct kk_ipv4_net **out,
                         size_t *n_out, kk_error **err)
{
    int fd = openat(ipam->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kk_error_errno(err, "open IPAM state directory");
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return kk_error_errno(err, "open IPAM state directory");
    }
    _cleanup_free_ struct kk_ipv4_net *nets = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= strlen(IPAM_SUFFIX) ||
            strcmp(de->d_name + len - strlen(IPAM_SUFFIX), IPAM_SUFFIX) != 0 ||
            strcmp(de->d_name, self) == 0)
            continue;
        struct space_state s;
        if (state_load(ipam, de->d_name, &s, err) < 0)
            return -1;
        if (s.subnet.len) {
            void *p = nets;
            kk_xgrow(&p, &cap, n + 1, sizeof(*nets));
            nets = p;
            nets[n++] = s.subnet;
        }
        space_state_release(&s);
    }
    if (errno)
        return kk_error_errno(err, "read IPAM state directory");
    *out = TAKE_PTR(nets);
    *n_out = n;
    return 0;
}

/* The first of the n networks in `nets` that overlaps `net`, or NULL. */
static const struct kk_ipv4_net *overlapping(const struct kk_ipv4_net *net,
                                             const struct kk_ipv4_net *nets, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (net_overlap(net, &nets[i]))
            return &nets[i];
    return NULL;
}

static int pick_subnet(struct kk_ipam *ipam, const char *self, const char *want,
                       const struct kk_ipv4_net *avoid, size_t n_avoid, struct kk_ipv4_net *out,
                       kk_error **err)
{
    _cleanup_free_ struct kk_ipv4_net *others = NULL;
    size_t n = 0;
    if (other_subnets(ipam, self, &others, &n, err) < 0)
        return -1;
    if (want) {
        if (kk_ipam_parse_cidr(want, SUBNET_LEN_MIN, SUBNET_LEN_MAX, out, err) < 0)
            return -1;
        const struct kk_ipv4_net *o = overlapping(out, others, n);
        const struct kk_ipv4_net *h = overlapping(out, avoid, n_avoid);
        if (o || h) {
            char c[KK_NET_CIDRSTRLEN];
            kk_ipam_format_cidr(o ? o : h, c);
            return kk_error_set(err, KK_E_EXISTS, "subnet %s overlaps %s %s", want, c,
                                o ? "of another space" : "on the host");
        }
        return 0;
    }
    uint32_t step = 1u << (32 - POOL_SUBNET_LEN);
    uint64_t end = (uint64_t)net_broadcast(&ipam->pool) + 1;
    for (uint64_t a = ipam->pool.addr; a < end; a += step) {
        struct kk_ipv4_net cand = {(uint32_t)a, POOL_SUBNET_LEN};
        if (!overlapping(&cand, others, n) && !overlapping(&cand, avoid, n_avoid)) {
            *out = cand;
            return 0;
        }
    }
    char c[KK_NET_CIDRSTRLEN];
    kk_ipam_format_cidr(&ipam->pool, c);
    return kk_error_set(err, KK_E_EXHAUSTED, "no free /%u left in pool %s", POOL_SUBNET_LEN, c);
}

int kk_ipam_space_ensure(struct kk_ipam *ipam, const char *realm, const char *space,
                         const char *subnet, const struct kk_ipv4_net *avoid, size_t n_avoid,
                         struct kk_ipv4_net *out, kk_error **err)
{
    char file[NAME_MAX + 1];
    if (space_file(realm, space, file, err) < 0)
        return -1;
    _cleanup_close_ int lock = lock_take(ipam, err);
    if (lock < 0)
        return -1;
    struct space_state s = {0};
    int r = state_load(ipam, file, &s, err);
    if (r < 0)
        return kk_error_wrap(err, "space %s/%s", realm, space);
    if (r > 0) {
        struct kk_ipv4_net have = s.subnet;
        space_state_release(&s);
        if (subnet) {
            struct kk_ipv4_net want;
            if (kk_ipam_parse_cidr(subnet, SUBNET_LEN_MIN, SUBNET_LEN_MAX, &want, err) < 0)
                return kk_error_wrap(err, "space %s/%s", realm, space);
            if (want.addr != have.addr || want.len != have.len) {
                char c[KK_NET_CIDRSTRLEN];
                kk_ipam_format_cidr(&have, c);
                return kk_error_set(err, KK_E_PRECONDITION,
                                    "space %s/%s already has subnet %s, not %s", realm, space, c,
                                    subnet);
            }
        }
        *out = have;
        return 0;
    }
    if (pick_subnet(ipam, file, subnet, avoid, n_avoid, &s.subnet, err) < 0)
        return kk_error_wrap(err, "space %s/%s", realm, space);
    s.next = s.subnet.addr;
    if (state_store(ipam, file, &s, err) < 0)
        return -1;
    *out = s.subnet;
    return 0;
}

int kk_ipam_space_get(struct kk_ipam *ipam, const char *realm, const char *space,
                      struct kk_ipv4_net *out, kk_error **err)
{
    char file[NAME_MAX + 1];
    if (space_file(realm, space, file, err) < 0)
        return -1;
    _cleanup_close_ int lock = lock_take(ipam, err);
    if (lock < 0)
        return -1;
    struct space_state s;
    int r = state_load(ipam, file, &s, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return kk_error_set(err, KK_E_NOT_FOUND, "space %s/%s has no subnet", realm, space);
    *out = s.subnet;
    space_state_release(&s);
    return 0;
}

int kk_ipam_space_remove(struct kk_ipam *ipam, const char *realm, const char *space, kk_error **err)
{
    char file[NAME_MAX + 1];
    if (space_file(realm, space, file, err) < 0)
        return -1;
    _cleanup_close_ int lock = lock_take(ipam, err);
    if (lock < 0)
        return -1;
    if (unlinkat(ipam->dirfd, file, 0) < 0 && errno != ENOENT)
        return kk_error_errno(err, "remove %s", file);
    if (fsync(ipam->dirfd) < 0)
        return kk_error_errno(err, "fsync IPAM state directory");
    return 0;
}

/* The next free usable address at or after s->next (wrapping), or 0. */
static uint32_t find_free(const struct space_state *s)
{
    uint32_t first = s->subnet.addr + 2, last = net_broadcast(&s->subnet) - 1;
    if (last < first)
        return 0;
    size_t span = (size_t)(last - first) + 1;
    _cleanup_free_ uint8_t *used = kk_xcalloc((span + 7) / 8, 1);
    for (size_t i = 0; i < s->n; i++) {
        uint32_t off = s->allocs[i].ip - first;
        used[off / 8] |= (uint8_t)(1u << (off % 8));
    }
    uint32_t start = host_usable(&s->subnet, s->next) ? s->next - first : 0;
    for (size_t k = 0; k < span; k++) {
        uint32_t off = (uint32_t)((start + k) % span);
        if (!(used[off / 8] & (1u << (off % 8))))
            return first + off;
    }
    return 0;
}

int kk_ipam_alloc(struct kk_ipam *ipam, const char *realm, const char *space, const char *owner,
                  uint32_t *out, kk_error **err)
{
    char file[NAME_MAX + 1];
    if (space_file(realm, space, file, err) < 0)
        return -1;
    if (!owner_valid(owner))
        return kk_error_set(err, KK_E_INVALID, "invalid IPAM owner \"%.64s\"", owner);
    _cleanup_close_ int lock = lock_take(ipam, err);
    if (lock < 0)
        return -1;
    _cleanup_(space_state_release) struct space_state s = {0};
    int r = state_load(ipam, file, &s, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return kk_error_set(err, KK_E_PRECONDITION, "space %s/%s has no subnet", realm, space);
    for (size_t i = 0; i < s.n; i++) {
        if (strcmp(s.allocs[i].owner, owner) == 0) {
            *out = s.allocs[i].ip;
            return 0;
        }
    }
    uint32_t ip = find_free(&s);
    if (!ip) {
        char c[KK_NET_CIDRSTRLEN];
        kk_ipam_format_cidr(&s.subnet, c);
        return kk_error_set(err, KK_E_EXHAUSTED, "subnet %s of space %s/%s is full", c, realm,
                            space);
    }
    state_add(&s, ip, owner);
    s.next = ip + 1;
    if (state_store(ipam, file, &s, err) < 0)
        return -1;
    *out = ip;
    return 0;
}

int kk_ipam_release(struct kk_ipam *ipam, const char *realm, const char *space, const char *owner,
                    kk_error **err)
{
    char file[NAME_MAX + 1];
    if (space_file(realm, space, file, err) < 0)
        return -1;
    _cleanup_close_ int lock = lock_take(ipam, err);
    if (lock < 0)
        return -1;
    _cleanup_(space_state_release) struct space_state s = {0};
    int r = state_load(ipam, file, &s, err);
    if (r <= 0)
        return r;
    for (size_t i = 0; i < s.n; i++) {
        if (strcmp(s.allocs[i].owner, owner) == 0) {
            state_remove(&s, i);
            return state_store(ipam, file, &s, err);
        }
    }
    return 0;
}

int kk_ipam_owners(struct kk_ipam *ipam, const char *realm, const char *space, char ***out,
                   kk_error **err)
{
    char file[NAME_MAX + 1];
    if (space_file(realm, space, file, err) < 0)
        return -1;
    _cleanup_close_ int lock = lock_take(ipam, err);
    if (lock < 0)
        return -1;
    _cleanup_(space_state_release) struct space_state s = {0};
    int r = state_load(ipam, file, &s, err);
    if (r < 0)
        return -1;
    char **v = kk_xcalloc(s.n + 1, sizeof(*v));
    for (size_t i = 0; i < s.n; i++)
        v[i] = kk_xstrdup(s.allocs[i].owner);
    *out = v;
    return 0;
}

void kk_ipam_format_hostnet(const struct kk_hostnet *hn, char out[KK_IPAM_HOSTNET_STRLEN])
{
    char c[KK_NET_CIDRSTRLEN];
    kk_ipam_format_cidr(&hn->net, c);
    snprintf(out, KK_IPAM_HOSTNET_STRLEN, "%s (%s%s%s)", c, hn->route ? "route" : "address",
             hn->dev[0] ? " on " : "", hn->dev);
}

size_t kk_ipam_overlaps(const struct kk_ipv4_net *pool, const struct kk_hostnet *nets, size_t n,
                        kk_ipam_overlap_fn fn, void *ctx)
{
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        if (!net_overlap(pool, &nets[i].net))
            continue;
        hits++;
        if (fn)
            fn(ctx, pool, &nets[i]);
    }
    return hits;
}

int kk_ipam_host_overlaps_from(const struct kk_hostnets_source *src, const char *pool,
                               const char *skip_prefix, kk_ipam_overlap_fn fn, void *ctx,
                               kk_error **err)
{
    struct kk_ipv4_net p;
    if (kk_ipam_parse_cidr(pool, POOL_LEN_MIN, POOL_SUBNET_LEN, &p, err) < 0)
        return kk_error_wrap(err, "subnet pool");
    _cleanup_free_ struct kk_hostnet *nets = NULL;
    size_t n = 0;
    if (src->list(src->ctx, skip_prefix, &nets, &n, err) < 0)
        return -1;
    return (int)kk_ipam_overlaps(&p, nets, n, fn, ctx);
}

int kk_ipam_host_overlaps(const char *pool, const char *skip_prefix, kk_ipam_overlap_fn fn,
                          void *ctx, kk_error **err)
{
    return kk_ipam_host_overlaps_from(&kk_hostnets_netlink, pool, skip_prefix, fn, ctx, err);
}
