/* kukeond configuration: defaults, kukeond.yaml, flags (flags win). */
#include "agent/config.h"
#include "fsapi/contract.h"

#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>

#include "fsapi/buf.h"
#include "fsapi/log.h"
#include "fsapi/yaml.h"
#include "runtime/registry/registry.h"

#define CONFIG_FILE_MAX (64 * 1024)

struct setting {
    const char *name;
    size_t offset; /* of a char * in the config, or SIZE_MAX for numbers */
    bool path;     /* must be absolute */
    const char *help;
};

static const struct setting settings[] = {
        {"manifests", offsetof(struct kk_agent_config, manifests), true,
         "inbox of manifests (default " KK_DEFAULT_MANIFESTS_DIR ")"},
        {"state", offsetof(struct kk_agent_config, state), true,
         "state tree (default " KK_DEFAULT_STATE_DIR ")"},
        {"containerd-address", offsetof(struct kk_agent_config, containerd_address), true,
         "containerd socket (default " KK_DEFAULT_CONTAINERD_ADDRESS ")"},
        {"run-dir", offsetof(struct kk_agent_config, run_dir), true,
         "runtime files: netns, IPAM, hosts files (default " KK_DEFAULT_RUN_DIR ")"},
        {"cgroup-root", offsetof(struct kk_agent_config, cgroup_root), false,
         "cgroup subtree of the agent (default " KK_DEFAULT_CGROUP_ROOT ")"},
        {"bridge-prefix", offsetof(struct kk_agent_config, bridge_prefix), false,
         "prefix of bridge names (default " KK_DEFAULT_BRIDGE_PREFIX ")"},
        {"veth-prefix", offsetof(struct kk_agent_config, veth_prefix), false,
         "prefix of host veth names (default: the bridge prefix ending in v)"},
        {"subnet-pool", offsetof(struct kk_agent_config, subnet_pool), false,
         "pool of space subnets (default " KK_DEFAULT_SUBNET_POOL ")"},
        {"nft-table", offsetof(struct kk_agent_config, nft_table), false,
         "nftables table (inet) of the agent (default " KK_DEFAULT_NFT_TABLE ")"},
        {"namespace-prefix", offsetof(struct kk_agent_config, namespace_prefix), false,
         "containerd namespace prefix of realms (default " KK_DEFAULT_NAMESPACE_PREFIX ")"},
        {"registries-config", offsetof(struct kk_agent_config, registries_config), true,
         "registry settings: insecure hosts, CA files, mirrors (default "
         "/etc/kukeon/registries.yaml)"},
        {"workers", SIZE_MAX, false, "reconcile workers (default 4)"},
        {"resync", SIZE_MAX, false, "seconds between full resyncs (default 300)"},
        {"stop-timeout", SIZE_MAX, false, "seconds from SIGTERM to SIGKILL (default 10)"},
        {"log-level", SIZE_MAX, false, "error, warn, info or debug (default info)"},
        {"log-max-bytes", SIZE_MAX, false,
         "size at which a container log is rotated: bytes, or with K, M, G (default 10M)"},
        {"log-max-files", SIZE_MAX, false,
         "rotated container logs kept, <id>.log.1 to .N (default 1)"},
};

/* The keys of kukeond.yaml spelt as in a manifest, for the log settings
 * (issue 14 names them so); the flag spellings work in the file too. */
static const struct {
    const char *alias, *name;
} aliases[] = {
        {"logMaxBytes", "log-max-bytes"},
        {"logMaxFiles", "log-max-files"},
};

void kk_agent_config_init(struct kk_agent_config *cfg)
{
    *cfg = (struct kk_agent_config){
            .manifests = kk_xstrdup(KK_DEFAULT_MANIFESTS_DIR),
            .state = kk_xstrdup(KK_DEFAULT_STATE_DIR),
            .containerd_address = kk_xstrdup(KK_DEFAULT_CONTAINERD_ADDRESS),
            .run_dir = kk_xstrdup(KK_DEFAULT_RUN_DIR),
            .cgroup_root = kk_xstrdup(KK_DEFAULT_CGROUP_ROOT),
            .bridge_prefix = kk_xstrdup(KK_DEFAULT_BRIDGE_PREFIX),
            .veth_prefix = NULL,
            .subnet_pool = kk_xstrdup(KK_DEFAULT_SUBNET_POOL),
            .nft_table = kk_xstrdup(KK_DEFAULT_NFT_TABLE),
            .namespace_prefix = kk_xstrdup(KK_DEFAULT_NAMESPACE_PREFIX),
            .registries_config = kk_xstrdup(KK_REGISTRY_CONFIG_PATH),
            .workers = 4,
            .resync_s = 300,
            .log_level = KK_LOG_INFO,
            .stop_timeout_s = 10,
            .log_max_bytes = KK_AGENT_LOG_MAX_BYTES_DEFAULT,
            .log_max_files = 1,
    };
}

void kk_agent_config_release(struct kk_agent_config *cfg)
{
    for (size_t i = 0; i < KK_ARRAY_SIZE(settings); i++)
        if (settings[i].offset != SIZE_MAX)
            free(*(char **)((char *)cfg + settings[i].offset));
    memset(cfg, 0, sizeof(*cfg));
}

static int parse_uint(const char *name, const char *value, unsigned min, unsigned max,
                      unsigned *out, kk_error **err)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(value, &end, 10);
    if (errno || end == value || *end || value[0] == '-' || v < min || v > max)
        return kk_error_set(err, KK_E_INVALID, "%s: expected a number in %u..%u, got \"%s\"", name,
                            min, max, value);
    *out = (unsigned)v;
    return 0;
}

/* "10485760", "512K", "10M", "10MiB", "1G": binary multiples. */
static int parse_size(const char *name, const char *value, uint64_t min, uint64_t max,
                      uint64_t *out, kk_error **err)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0}, {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (!errno && end != value && value[0] != '-') {
        for (size_t i = 0; i < KK_ARRAY_SIZE(units); i++) {
            if (strcmp(end, units[i].suffix) != 0 || v > (max >> units[i].shift))
                continue;
            v <<= units[i].shift;
            if (v < min)
                break;
            *out = v;
            return 0;
        }
    }
    return kk_error_set(err, KK_E_INVALID,
                        "%s: expected a size from %llu to %llu bytes (a number, or with K, M, G), "
                        "got \"%s\"",
                        name, (unsigned long long)min, (unsigned long long)max, value);
}

int kk_agent_config_set(struct kk_agent_config *cfg, const char *name, const char *value,
                        kk_error **err)
{
    if (!value || strlen(value) > PATH_MAX)
        return kk_error_set(err, KK_E_INVALID, "%s: missing or overlong value", name);
    for (size_t i = 0; i < KK_ARRAY_SIZE(aliases); i++)
        if (strcmp(name, aliases[i].alias) == 0)
            name = aliases[i].name;
    if (strcmp(name, "log-max-bytes") == 0)
        return parse_size(name, value, KK_AGENT_LOG_MAX_BYTES_MIN, KK_AGENT_LOG_MAX_BYTES_MAX,
                          &cfg->log_max_bytes, err);
    if (strcmp(name, "log-max-files") == 0)
        return parse_uint(name, value, 1, KK_AGENT_LOG_MAX_FILES_MAX, &cfg->log_max_files, err);
    if (strcmp(name, "workers") == 0)
        return parse_uint(name, value, 1, KK_AGENT_WORKERS_MAX, &cfg->workers, err);
    if (strcmp(name, "resync") == 0)
        return parse_uint(name, value, 1, KK_AGENT_RESYNC_MAX_S, &cfg->resync_s, err);
    if (strcmp(name, "stop-timeout") == 0)
        return parse_uint(name, value, 0, 3600, &cfg->stop_timeout_s, err);
    if (strcmp(name, "log-level") == 0) {
        int level = kk_log_parse_level(value);
        if (level < 0)
            return kk_error_set(err, KK_E_INVALID, "log-level: unknown level \"%s\"", value);
        cfg->log_level = level;
        return 0;
    }
    for (size_t i = 0; i < KK_ARRAY_SIZE(settings); i++) {
        const struct setting *s = &settings[i];
        if (s->offset == SIZE_MAX || strcmp(s->name, name) != 0)
            continue;
        if (!*value)
            return kk_error_set(err, KK_E_INVALID, "%s: empty value", name);
        if (s->path && value[0] != '/')
            return kk_error_set(err, KK_E_INVALID, "%s: \"%s\" is not an absolute path", name,
                                value);
        char **field = (char **)((char *)cfg + s->offset);
        free(*field);
        *field = kk_xstrdup(value);
        return 0;
    }
    return kk_error_set(err, KK_E_INVALID, "unknown setting \"%s\"", name);
}

int kk_agent_config_load_file(struct kk_agent_config *cfg, const char *path, bool must_exist,
                              kk_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && !must_exist)
            return 0;
        return kk_error_errno(err, "open %s", path);
    }
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    int r = kk_buf_read_fd(&data, fd, CONFIG_FILE_MAX);
    if (r < 0)
        return kk_error_errnum(err, -r, "read %s", path);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
    if (kk_yaml_parse(path, data.data, data.len, &t, &diags) < 0) {
        _cleanup_buf_ struct kk_buf msg = KK_BUF_INIT;
        if (diags.n > 0)
            kk_diag_format(&diags.items[0], &msg);
        return kk_error_set(err, KK_E_INVALID, "%s", kk_buf_str(&msg));
    }
    if (t->ndocs == 0)
        return 0;
    if (t->ndocs > 1 || t->docs[0].root->type != KK_YMAP)
        return kk_error_set(err, KK_E_INVALID, "%s: expected one mapping of settings", path);
    const struct kk_ynode *map = t->docs[0].root;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct kk_ynode *k = map->items[i], *v = map->items[i + 1];
        if (v->type != KK_YSCALAR)
            return kk_error_set(err, KK_E_INVALID, "%s:%u:%u: %s: expected a scalar", path, v->line,
                                v->col, k->value);
        if (kk_agent_config_set(cfg, k->value, v->value, err) < 0)
            return kk_error_wrap(err, "%s:%u:%u", path, k->line, k->col);
    }
    return 0;
}

void kk_agent_config_usage(FILE *out)
{
    fprintf(out, "usage: kukeond [--config FILE] [--once] [OPTION VALUE]...\n\n"
                 "Watches the inbox and the state tree and makes the host match them.\n"
                 "Settings (also keys of " KK_AGENT_CONFIG_FILE "; flags win):\n");
    for (size_t i = 0; i < KK_ARRAY_SIZE(settings); i++)
        fprintf(out, "  --%-20s %s\n", settings[i].name, settings[i].help);
}

int kk_agent_config_parse(struct kk_agent_config *cfg, int argc, char **argv, kk_error **err)
{
    enum { OPT_CONFIG = 1000, OPT_ONCE, OPT_HELP, OPT_VERSION, OPT_SETTING };
    struct option opts[KK_ARRAY_SIZE(settings) + 5];
    size_t n = 0;
    for (size_t i = 0; i < KK_ARRAY_SIZE(settings); i++)
        opts[n++] =
                (struct option){settings[i].name, required_argument, NULL, OPT_SETTING + (int)i};
    opts[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    opts[n++] = (struct option){"once", no_argument, NULL, OPT_ONCE};
    opts[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    opts[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    opts[n] = (struct option){0};

    /* Pass 1: only --config, --help, --version, so the file is applied
     * before any flag. */
    const char *file = NULL;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == OPT_CONFIG)
            file = optarg;
        else if (c == OPT_HELP) {
            kk_agent_config_usage(stdout);
            return 1;
        } else if (c == OPT_VERSION) {
            printf("kukeond %s\n", KUKEON_VERSION);
            return 1;
        } else if (c == '?' || c == ':')
            return kk_error_set(err, KK_E_INVALID, "unknown option or missing value: %s",
                                argv[optind - 1]);
    }
    if (optind < argc)
        return kk_error_set(err, KK_E_INVALID, "unexpected argument \"%s\"", argv[optind]);
    if (kk_agent_config_load_file(cfg, file ? file : KK_AGENT_CONFIG_FILE, file != NULL, err) < 0)
        return -1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == OPT_ONCE)
            cfg->once = true;
        else if (c >= OPT_SETTING &&
                 kk_agent_config_set(cfg, settings[c - OPT_SETTING].name, optarg, err) < 0)
            return -1;
    }
    if (!cfg->veth_prefix) {
        /* The bridge prefix with its last letter made 'v' ("kkb" -> "kkv"):
         * same length, and neither prefix is a prefix of the other. */
        cfg->veth_prefix = kk_xstrdup(cfg->bridge_prefix);
        char *last = cfg->veth_prefix + strlen(cfg->veth_prefix) - 1;
        *last = *last == 'v' ? 'w' : 'v';
    }
    return 0;
}
