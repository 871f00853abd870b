/* Names, rendering and planning of the kukeon nft table (see ruleset.h). */
#include "runtime/firewall/ruleset.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include "fsapi/sha256.h"

/* Base chains: hook, type, priority and the fixed rules, in order. Changing
 * a line here changes every host's table on the next change it sees. */
struct base_chain {
    const char *name;
    const char *spec;
    const char *rules[3];
};

static const struct base_chain base_chains[] = {
        {"prerouting",
         "type nat hook prerouting priority dstnat; policy accept;",
         {"fib daddr type local jump publish"}},
        /* The host's own connections, 127.0.0.1 included. */
        {"output",
         "type nat hook output priority -100; policy accept;",
         {"fib daddr type local jump publish"}},
        {"postrouting", "type nat hook postrouting priority srcnat; policy accept;", {"jump masq"}},
        {"forward",
         "type filter hook forward priority filter; policy accept;",
         {"ct state established,related accept", "ct status dnat jump published", "jump isolate"}},
        /* Before conntrack: loopback-addressed packets from a bridge. */
        {"raw-prerouting",
         "type filter hook prerouting priority raw; policy accept;",
         {"ip daddr 127.0.0.0/8 jump martians"}},
};

static const char *const dispatch_chains[] = {"publish", "published", "isolate", "masq",
                                              "martians"};

struct owned {
    const char *suffix;
    const char *dispatch;
};

/* Index order is the order of want->rules[]. */
static const struct owned space_owned[] = {
        {"fwd", "isolate"},
        {"post", "masq"},
        {"guard", "martians"},
};
static const struct owned cell_owned[] = {
        {"dnat", "publish"},
        {"fwd", "published"},
};

_Static_assert(KK_ARRAY_SIZE(space_owned) <= KK_FW_OWNED_MAX, "KK_FW_OWNED_MAX");
_Static_assert(KK_ARRAY_SIZE(cell_owned) <= KK_FW_OWNED_MAX, "KK_FW_OWNED_MAX");

static const struct owned *owned_of(enum kk_fw_kind kind)
{
    return kind == KK_FW_SPACE ? space_owned : cell_owned;
}

size_t kk_fw_owned_count(enum kk_fw_kind kind)
{
    return kind == KK_FW_SPACE ? KK_ARRAY_SIZE(space_owned) : KK_ARRAY_SIZE(cell_owned);
}

const char *kk_fw_owned_dispatch(enum kk_fw_kind kind, size_t i)
{
    return owned_of(kind)[i].dispatch;
}

void kk_fw_owned_chain(enum kk_fw_kind kind, const char *key, size_t i,
                       char out[KK_FW_CHAIN_NAME_SIZE])
{
    const char *prefix = kind == KK_FW_SPACE ? "space" : "cell";
    const char *suffix = owned_of(kind)[i].suffix;
    int n = snprintf(out, KK_FW_CHAIN_NAME_SIZE, "%s/%s/%s", prefix, key, suffix);
    if (n >= 0 && n < KK_FW_CHAIN_NAME_SIZE)
        return;

    char hex[KK_SHA256_HEX_SIZE];
    kk_sha256_hex(key, strlen(key), hex);
    snprintf(out, KK_FW_CHAIN_NAME_SIZE, "%s/_%.32s/%s", prefix, hex, suffix);
}

size_t kk_fw_chains_to_read(enum kk_fw_kind kind, const char *key,
                            char names[KK_FW_READ_MAX][KK_FW_CHAIN_NAME_SIZE])
{
    size_t n = 0;
    for (size_t i = 0; i < KK_ARRAY_SIZE(base_chains); i++)
        snprintf(names[n++], KK_FW_CHAIN_NAME_SIZE, "%s", base_chains[i].name);
    for (size_t i = 0; i < KK_ARRAY_SIZE(dispatch_chains); i++)
        snprintf(names[n++], KK_FW_CHAIN_NAME_SIZE, "%s", dispatch_chains[i]);
    for (size_t i = 0; key && i < kk_fw_owned_count(kind); i++)
        kk_fw_owned_chain(kind, key, i, names[n++]);
    return n;
}

_Static_assert(KK_ARRAY_SIZE(base_chains) + KK_ARRAY_SIZE(dispatch_chains) + KK_FW_OWNED_MAX <=
                       KK_FW_READ_MAX,
               "KK_FW_READ_MAX");

/* --- validation ---------------------------------------------------------- */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool kk_fw_table_valid(const char *table)
{
    size_t len = strnlen(table, KK_FW_TABLE_MAX + 1);
    if (len == 0 || len > KK_FW_TABLE_MAX)
        return false;
    if (!((table[0] >= 'a' && table[0] <= 'z') || (table[0] >= 'A' && table[0] <= 'Z')))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = table[i];
        if (!is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') && c != '_' && c != '-')
            return false;
    }
    return true;
}

bool kk_fw_key_valid(const char *key)
{
    size_t len = strnlen(key, KK_FW_KEY_MAX + 1);
    if (len == 0 || len > KK_FW_KEY_MAX)
        return false;
    size_t seg = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = key[i];
        if (c == '/' || c == '\0') {
            if (seg == 0 || seg > 63 || key[i - 1] == '-' || key[i - seg] == '-')
                return false;
            seg = 0;
        } else if (is_lower_alnum(c) || c == '-') {
            seg++;
        } else {
            return false;
        }
    }
    return true;
}

bool kk_fw_ifname_valid(const char *ifname)
{
    size_t len = strnlen(ifname, 16);
    if (len == 0 || len > 15 || strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = ifname[i];
        if (!is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') && c != '_' && c != '.' && c != '-')
            return false;
    }
    return true;
}

/* Parses a strict dotted quad and writes it back canonically. */
static int parse_ipv4(const char *s, struct in_addr *a, char out[KK_FW_ADDRSTRLEN])
{
    if (inet_pton(AF_INET, s, a) != 1)
        return -1;
    inet_ntop(AF_INET, a, out, KK_FW_ADDRSTRLEN);
    return 0;
}

static int parse_cidr(const char *s, char out[KK_FW_ADDRSTRLEN + 3])
{
    char addr[KK_FW_ADDRSTRLEN], canon[KK_FW_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof(addr))
        return -1;
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';

    const char *p = slash + 1;
    if (p[0] < '0' || p[0] > '9' || strlen(p) > 2 || (p[1] && (p[1] < '0' || p[1] > '9')))
        return -1;
    unsigned len = (unsigned)atoi(p);
    if (len < 1 || len > 32)
        return -1;

    struct in_addr a;
    if (parse_ipv4(addr, &a, canon) < 0)
        return -1;
    uint32_t mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
    if (ntohl(a.s_addr) & ~mask)
        return -1;
    snprintf(out, KK_FW_ADDRSTRLEN + 3, "%s/%u", canon, len);
    return 0;
}

/* --- rendering ----------------------------------------------------------- */

void kk_fw_want_release(struct kk_fw_want *want)
{
    for (size_t i = 0; i < KK_FW_OWNED_MAX; i++)
        kk_buf_release(&want->rules[i]);
}

int kk_fw_render_space(const struct kk_fw_space *space, struct kk_fw_want *want, kk_error **err)
{
    char subnet[KK_FW_ADDRSTRLEN + 3];
    const char *br = space->bridge;

    *want = (struct kk_fw_want){.kind = KK_FW_SPACE, .key = space->key};
    if (!space->key || !kk_fw_key_valid(space->key))
        return kk_error_set(err, KK_E_INVALID, "space key \"%.64s\" is not valid",
                            space->key ? space->key : "");
    if (!br || !kk_fw_ifname_valid(br))
        return kk_error_set(err, KK_E_INVALID, "space %s: bridge name \"%s\" is not valid",
                            space->key, br ? br : "");
    if (!space->subnet || parse_cidr(space->subnet, subnet) < 0)
        return kk_error_set(err, KK_E_INVALID, "space %s: subnet \"%s\" is not an IPv4 network",
                            space->key, space->subnet ? space->subnet : "");

    /* fwd: new flows into the bridge from anywhere else (another space, an
     * uplink) are dropped; replies and published flows were accepted before
     * the forward chain got here. Bridge-local traffic stays on the bridge. */
    kk_buf_printf(&want->rules[0], "oifname \"%s\" iifname != \"%s\" drop\n", br, br);
    /* post: egress, then 127.0.0.0/8 (the host's localhost) and the space
     * itself (hairpin) reaching a published port of a cell on this bridge;
     * the cell's reply must come back through the host to be un-NATed. */
    kk_buf_printf(&want->rules[1], "ip saddr %s oifname != \"%s\" masquerade\n", subnet, br);
    kk_buf_printf(&want->rules[1],
                  "oifname \"%s\" ct status dnat ip saddr 127.0.0.0/8 masquerade\n", br);
    kk_buf_printf(&want->rules[1], "oifname \"%s\" ct status dnat ip saddr %s masquerade\n", br,
                  subnet);
    /* guard: route_localnet=1 on the bridge must not let a cell address the
     * host's loopback services (the kube-proxy CVE-2020-8558 fix). */
    kk_buf_printf(&want->rules[2], "iifname \"%s\" drop\n", br);
    return 0;
}

static const char *proto_name(enum kk_fw_proto proto)
{
    return proto == KK_FW_UDP ? "udp" : "tcp";
}

/* A port with its host address parsed (0: every local address, for "" and
 * for "0.0.0.0" alike). */
static int check_port(const struct kk_fw_port *p, struct in_addr *host)
{
    host->s_addr = 0;
    if (p->host_port == 0 || p->container_port == 0 ||
        (p->proto != KK_FW_TCP && p->proto != KK_FW_UDP))
        return -1;
    return p->host_ip[0] && inet_pton(AF_INET, p->host_ip, host) != 1 ? -1 : 0;
}

/* Every port valid, and no host port published twice: the same protocol and
 * port on the same address, or on every address and any other. */
static int check_ports(const struct kk_fw_cell *cell, kk_error **err)
{
    for (size_t i = 0; i < cell->n_ports; i++) {
        const struct kk_fw_port *p = &cell->ports[i];
        struct in_addr hi, hj;
        if (check_port(p, &hi) < 0)
            return kk_error_set(err, KK_E_INVALID, "cell %s: port %zu is not valid", cell->key, i);
        for (size_t j = 0; j < i; j++) {
            const struct kk_fw_port *q = &cell->ports[j];
            check_port(q, &hj);
            if (p->proto == q->proto && p->host_port == q->host_port &&
                (!hi.s_addr || !hj.s_addr || hi.s_addr == hj.s_addr))
                return kk_error_set(err, KK_E_INVALID, "cell %s: host port %u/%s published twice",
                                    cell->key, p->host_port, proto_name(p->proto));
        }
    }
    return 0;
}

int kk_fw_render_cell(const struct kk_fw_cell *cell, struct kk_fw_want *want, kk_error **err)
{
    char ip[KK_FW_ADDRSTRLEN], host_ip[KK_FW_ADDRSTRLEN];
    struct in_addr a;

    *want = (struct kk_fw_want){.kind = KK_FW_CELL, .key = cell->key};
    if (!cell->key || !kk_fw_key_valid(cell->key))
        return kk_error_set(err, KK_E_INVALID, "cell key \"%.64s\" is not valid",
                            cell->key ? cell->key : "");
    if (cell->n_ports > KK_FW_PORTS_MAX)
        return kk_error_set(err, KK_E_INVALID, "cell %s: %zu ports, at most %d", cell->key,
                            cell->n_ports, KK_FW_PORTS_MAX);
    if (cell->n_ports == 0)
        return 0;
    if (!cell->ip || parse_ipv4(cell->ip, &a, ip) < 0)
        return kk_error_set(err, KK_E_INVALID, "cell %s: address \"%s\" is not IPv4", cell->key,
                            cell->ip ? cell->ip : "");
    if (check_ports(cell, err) < 0)
        return -1;

    for (size_t i = 0; i < cell->n_ports; i++) {
        const struct kk_fw_port *p = &cell->ports[i];
        const char *proto = proto_name(p->proto);
        check_port(p, &a);
        if (a.s_addr) {
            inet_ntop(AF_INET, &a, host_ip, sizeof(host_ip));
            kk_buf_printf(&want->rules[0], "ip daddr %s ", host_ip);
        } else {
            kk_buf_adds(&want->rules[0], "meta nfproto ipv4 ");
        }
        kk_buf_printf(&want->rules[0], "%s dport %u dnat ip to %s:%u\n", proto, p->host_port, ip,
                      p->container_port);

        /* Two host ports may lead to one container port: one accept will do. */
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= cell->ports[j].proto == p->proto &&
                    cell->ports[j].container_port == p->container_port;
        if (!seen)
            kk_buf_printf(&want->rules[1], "ip daddr %s %s dport %u accept\n", ip, proto,
                          p->container_port);
    }
    return 0;
}

/* --- planning ------------------------------------------------------------ */

void kk_fw_plan_base(const char *table, struct kk_buf *cmds)
{
    kk_buf_printf(cmds, "add table inet %s\n", table);
    for (size_t i = 0; i < KK_ARRAY_SIZE(base_chains); i++)
        kk_buf_printf(cmds, "add chain inet %s %s { %s }\n", table, base_chains[i].name,
                      base_chains[i].spec);
    for (size_t i = 0; i < KK_ARRAY_SIZE(dispatch_chains); i++)
        kk_buf_printf(cmds, "add chain inet %s %s\n", table, dispatch_chains[i]);
    for (size_t i = 0; i < KK_ARRAY_SIZE(base_chains); i++) {
        const struct base_chain *b = &base_chains[i];
        kk_buf_printf(cmds, "flush chain inet %s %s\n", table, b->name);
        for (size_t j = 0; j < KK_ARRAY_SIZE(b->rules) && b->rules[j]; j++)
            kk_buf_printf(cmds, "add rule inet %s %s %s\n", table, b->name, b->rules[j]);
    }
}

/* Deletes every `jump <chain>` of the dispatch chain but the first `keep`. */
static size_t plan_unjump(const char *table, const struct kk_fw_state *cur, const char *dispatch,
                          const char *chain, size_t keep, struct kk_buf *cmds)
{
    const struct kk_fw_chain *d = kk_fw_state_chain(cur, dispatch);
    size_t found = 0;
    for (size_t i = 0; d && i < d->n_rules; i++) {
        const char *t = d->rules[i].text;
        if (strncmp(t, "jump ", 5) != 0 || strcmp(t + 5, chain) != 0)
            continue;
        if (found++ >= keep)
            kk_buf_printf(cmds, "delete rule inet %s %s handle %" PRIu64 "\n", table, dispatch,
                          d->rules[i].handle);
    }
    return found;
}

static void plan_remove_chain(const char *table, const struct kk_fw_state *cur,
                              const char *dispatch, const char *chain, struct kk_buf *cmds)
{
    plan_unjump(table, cur, dispatch, chain, 0, cmds);
    if (kk_fw_state_chain(cur, chain)) {
        kk_buf_printf(cmds, "flush chain inet %s %s\n", table, chain);
        kk_buf_printf(cmds, "delete chain inet %s %s\n", table, chain);
    }
}

/* Whether chain c holds exactly the '\n'-terminated rule lines of text. */
static bool chain_holds(const struct kk_fw_chain *c, const char *text)
{
    size_t i = 0;
    for (const char *line = text; *line; i++) {
        const char *nl = strchr(line, '\n');
        size_t len = (size_t)(nl - line);
        if (i >= c->n_rules || strlen(c->rules[i].text) != len ||
            memcmp(c->rules[i].text, line, len) != 0)
            return false;
        line = nl + 1;
    }
    return i == c->n_rules;
}

static size_t count_jumps(const struct kk_fw_state *cur, const char *dispatch, const char *chain)
{
    const struct kk_fw_chain *d = kk_fw_state_chain(cur, dispatch);
    size_t n = 0;
    for (size_t i = 0; d && i < d->n_rules; i++)
        n += strncmp(d->rules[i].text, "jump ", 5) == 0 && strcmp(d->rules[i].text + 5, chain) == 0;
    return n;
}

static bool base_in_sync(const struct kk_fw_state *cur)
{
    if (!cur->exists)
        return false;
    for (size_t i = 0; i < KK_ARRAY_SIZE(base_chains); i++) {
        const struct base_chain *b = &base_chains[i];
        const struct kk_fw_chain *c = kk_fw_state_chain(cur, b->name);
        if (!c || !c->hook || strcmp(c->hook, b->spec) != 0)
            return false;
        size_t n = 0;
        while (n < KK_ARRAY_SIZE(b->rules) && b->rules[n])
            n++;
        if (c->n_rules != n)
            return false;
        for (size_t j = 0; j < n; j++)
            if (strcmp(c->rules[j].text, b->rules[j]) != 0)
                return false;
    }
    for (size_t i = 0; i < KK_ARRAY_SIZE(dispatch_chains); i++)
        if (!kk_fw_state_chain(cur, dispatch_chains[i]))
            return false;
    return true;
}

static bool object_in_sync(const struct kk_fw_state *cur, const struct kk_fw_want *want)
{
    char chain[KK_FW_CHAIN_NAME_SIZE];
    for (size_t i = 0; i < kk_fw_owned_count(want->kind); i++) {
        const char *dispatch = kk_fw_owned_dispatch(want->kind, i);
        kk_fw_owned_chain(want->kind, want->key, i, chain);
        const struct kk_fw_chain *c = kk_fw_state_chain(cur, chain);
        size_t jumps = count_jumps(cur, dispatch, chain);
        if (want->rules[i].len == 0
                    ? (c || jumps)
                    : (!c || c->hook || jumps != 1 || !chain_holds(c, want->rules[i].data)))
            return false;
    }
    return true;
}

void kk_fw_plan_apply(const char *table, const struct kk_fw_state *cur,
                      const struct kk_fw_want *want, struct kk_buf *cmds)
{
    char chain[KK_FW_CHAIN_NAME_SIZE];

    if (base_in_sync(cur) && object_in_sync(cur, want))
        return;
    kk_fw_plan_base(table, cmds);
    for (size_t i = 0; i < kk_fw_owned_count(want->kind); i++) {
        const char *dispatch = kk_fw_owned_dispatch(want->kind, i);
        const struct kk_buf *rules = &want->rules[i];
        kk_fw_owned_chain(want->kind, want->key, i, chain);
        if (rules->len == 0) {
            plan_remove_chain(table, cur, dispatch, chain, cmds);
            continue;
        }
        kk_buf_printf(cmds, "add chain inet %s %s\n", table, chain);
        kk_buf_printf(cmds, "flush chain inet %s %s\n", table, chain);
        for (const char *line = rules->data; *line;) {
            const char *nl = strchr(line, '\n');
            kk_buf_printf(cmds, "add rule inet %s %s %.*s\n", table, chain, (int)(nl - line), line);
            line = nl + 1;
        }
        if (plan_unjump(table, cur, dispatch, chain, 1, cmds) == 0)
            kk_buf_printf(cmds, "add rule inet %s %s jump %s\n", table, dispatch, chain);
    }
}

void kk_fw_plan_remove(const char *table, const struct kk_fw_state *cur, enum kk_fw_kind kind,
                       const char *key, struct kk_buf *cmds)
{
    char chain[KK_FW_CHAIN_NAME_SIZE];
    for (size_t i = 0; i < kk_fw_owned_count(kind); i++) {
        kk_fw_owned_chain(kind, key, i, chain);
        plan_remove_chain(table, cur, kk_fw_owned_dispatch(kind, i), chain, cmds);
    }
}

/* Whether a chain name has the shape of an owned chain, "<kind>/<middle>/<suffix>",
 * and if so which kind and which owned chain. */
static bool owned_shape(const char *name, enum kk_fw_kind *kind, size_t *idx)
{
    static const char *const prefixes[] = {"space/", "cell/"};
    size_t len = strlen(name);
    for (int k = KK_FW_SPACE; k <= KK_FW_CELL; k++) {
        size_t plen = strlen(prefixes[k]);
        if (strncmp(name, prefixes[k], plen) != 0)
            continue;
        for (size_t i = 0; i < kk_fw_owned_count((enum kk_fw_kind)k); i++) {
            const char *suffix = owned_of((enum kk_fw_kind)k)[i].suffix;
            size_t slen = strlen(suffix);
            if (len > plen + slen + 1 && name[len - slen - 1] == '/' &&
                strcmp(name + len - slen, suffix) == 0) {
                *kind = (enum kk_fw_kind)k;
                *idx = i;
                return true;
            }
        }
    }
    return false;
}

static bool owned_by_one_of(enum kk_fw_kind kind, size_t idx, const char *name,
                            const char *const *keys)
{
    char want[KK_FW_CHAIN_NAME_SIZE];
    for (; keys && *keys; keys++) {
        if (!kk_fw_key_valid(*keys))
            continue;
        kk_fw_owned_chain(kind, *keys, idx, want);
        if (strcmp(want, name) == 0)
            return true;
    }
    return false;
}

size_t kk_fw_plan_prune(const char *table, const struct kk_fw_state *cur,
                        const char *const *live_spaces, const char *const *live_cells,
                        struct kk_buf *cmds)
{
    size_t removed = 0;
    for (size_t i = 0; i < cur->n_chains; i++) {
        const char *name = cur->chains[i].name;
        enum kk_fw_kind kind;
        size_t idx;
        if (!owned_shape(name, &kind, &idx) ||
            owned_by_one_of(kind, idx, name, kind == KK_FW_SPACE ? live_spaces : live_cells))
            continue;
        plan_remove_chain(table, cur, kk_fw_owned_dispatch(kind, idx), name, cmds);
        removed++;
    }
    return removed;
}
