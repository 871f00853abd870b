#include "kuke/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fsapi/clock.h"
#include "fsapi/fsutil.h"
#include "fsapi/manifest.h"
#include "runtime/containerd/containerd.h"

const char kuke_common_help[] =
        "  --config FILE     settings shared with kukeond (env KUKEON_CONFIG; "
        "default " KK_AGENT_CONFIG_FILE ")\n"
        "  --state DIR       state tree (env KUKEON_STATE; else the config's, "
        "default " KK_DEFAULT_STATE_DIR ")\n"
        "  --manifests DIR   inbox (env KUKEON_MANIFESTS; else the config's, "
        "default " KK_DEFAULT_MANIFESTS_DIR ")\n"
        "  --realm NAME, --space NAME, --stack NAME   parents (default \"default\")\n";

/* The process's configuration (kuke_config). kuke is one thread and one
 * command per process, so a global is the plain way to share it between
 * the verbs' option parsing and the helpers here; its memory stays
 * reachable until exit. */
static struct {
    bool loaded;
    const char *explicit_path; /* --config */
    const char *path;          /* the file read, NULL if none */
    struct kk_agent_config cfg;
    kk_error *err;
} config;

/* The veth prefix when none is set: the bridge prefix with its last letter
 * made 'v' ("kkb" -> "kkv"), as kk_agent_config_parse derives it (the agent
 * does it only in its flag parser, which kuke cannot call). */
static void derive_veth_prefix(struct kk_agent_config *cfg)
{
    if (cfg->veth_prefix || !cfg->bridge_prefix || !*cfg->bridge_prefix)
        return;
    cfg->veth_prefix = kk_xstrdup(cfg->bridge_prefix);
    char *last = cfg->veth_prefix + strlen(cfg->veth_prefix) - 1;
    *last = *last == 'v' ? 'w' : 'v';
}

static void config_load(void)
{
    const char *env = getenv("KUKEON_CONFIG");
    const char *path = config.explicit_path;
    bool must_exist = true;
    if (!path && env && *env)
        path = env;
    if (!path) {
        path = KK_AGENT_CONFIG_FILE;
        must_exist = false;
    }
    if (config.loaded)
        kk_agent_config_release(&config.cfg);
    kk_error_freep(&config.err);
    kk_agent_config_init(&config.cfg);
    config.loaded = true;
    config.path = must_exist || access(path, F_OK) == 0 ? path : NULL;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_agent_config_load_file(&config.cfg, path, must_exist, &err) < 0) {
        /* Half applied: back to the defaults, and every verb that needs a
         * setting fails with the reason (kuke_config_check). */
        kk_agent_config_release(&config.cfg);
        kk_agent_config_init(&config.cfg);
        kk_error_wrap(&err, "configuration");
        config.err = TAKE_PTR(err);
    }
    derive_veth_prefix(&config.cfg);
}

const struct kk_agent_config *kuke_config(void)
{
    if (!config.loaded)
        config_load();
    return &config.cfg;
}

void kuke_config_use(const char *path)
{
    config.explicit_path = path;
    config_load();
}

int kuke_config_check(kk_error **err)
{
    kuke_config();
    if (!config.err)
        return 0;
    return kk_error_set(err, kk_error_code(config.err), "%s", config.err->message);
}

const char *kuke_config_path(void)
{
    kuke_config();
    return config.path;
}

/* ctx's directories from the environment, else the configuration, unless
 * a flag set them. */
static void ctx_from_config(struct kuke_ctx *ctx)
{
    const struct kk_agent_config *cfg = kuke_config();
    if (!ctx->state_flag)
        ctx->state_dir = kuke_setting(NULL, "KUKEON_STATE", cfg->state);
    if (!ctx->inbox_flag)
        ctx->inbox_dir = kuke_setting(NULL, "KUKEON_MANIFESTS", cfg->manifests);
}

void kuke_ctx_init(struct kuke_ctx *ctx)
{
    *ctx = (struct kuke_ctx){
            .realm = KK_DEFAULT_NAME,
            .space = KK_DEFAULT_NAME,
            .stack = KK_DEFAULT_NAME,
            .rootfd = -1,
    };
    ctx_from_config(ctx);
}

void kuke_ctx_release(struct kuke_ctx *ctx)
{
    kk_closep(&ctx->rootfd);
    ctx->rootfd = -1;
}

bool kuke_common_option(struct kuke_ctx *ctx, int c, const char *arg)
{
    switch (c) {
    case KUKE_OPT_STATE:
        ctx->state_dir = arg;
        ctx->state_flag = true;
        return true;
    case KUKE_OPT_INBOX_DIR:
        ctx->inbox_dir = arg;
        ctx->inbox_flag = true;
        return true;
    case KUKE_OPT_CONFIG:
        kuke_config_use(arg);
        ctx_from_config(ctx);
        return true;
    case KUKE_OPT_REALM:
        ctx->realm = arg;
        return true;
    case KUKE_OPT_SPACE:
        ctx->space = arg;
        return true;
    case KUKE_OPT_STACK:
        ctx->stack = arg;
        return true;
    default:
        return false;
    }
}

int kuke_open_state(struct kuke_ctx *ctx, kk_error **err)
{
    if (ctx->rootfd >= 0)
        return 0;
    if (kuke_config_check(err) < 0)
        return -1;
    int fd = kk_fs_open_root(ctx->state_dir, err);
    if (fd < 0)
        return kk_error_wrap(err, "state tree %s", ctx->state_dir);
    ctx->rootfd = fd;
    return 0;
}

int kuke_kind_parse(const char *word)
{
    static const struct {
        const char *singular, *plural;
        enum kk_kind kind;
    } words[] = {
            {"realm", "realms", KK_KIND_REALM},
            {"space", "spaces", KK_KIND_SPACE},
            {"stack", "stacks", KK_KIND_STACK},
            {"cell", "cells", KK_KIND_CELL},
            {"container", "containers", KK_KIND_CONTAINER},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(words); i++)
        if (strcasecmp(word, words[i].singular) == 0 || strcasecmp(word, words[i].plural) == 0)
            return (int)words[i].kind;
    return -1;
}

int kuke_named_key(const struct kuke_ctx *ctx, enum kk_kind kind, const char *name,
                   const char *cell, struct kk_key *key, kk_error **err)
{
    switch (kind) {
    case KK_KIND_REALM:
        return kk_key_init(key, KK_LEVEL_REALM, name, NULL, NULL, NULL, NULL, err);
    case KK_KIND_SPACE:
        return kk_key_init(key, KK_LEVEL_SPACE, ctx->realm, name, NULL, NULL, NULL, err);
    case KK_KIND_STACK:
        return kk_key_init(key, KK_LEVEL_STACK, ctx->realm, ctx->space, name, NULL, NULL, err);
    case KK_KIND_CELL:
        return kk_key_init(key, KK_LEVEL_CELL, ctx->realm, ctx->space, ctx->stack, name, NULL, err);
    case KK_KIND_CONTAINER:
        if (!cell)
            return kk_error_set(err, KK_E_INVALID, "a container is named within a cell: --cell");
        return kk_key_init(key, KK_LEVEL_CONTAINER, ctx->realm, ctx->space, ctx->stack, cell, name,
                           err);
    }
    return kk_error_set(err, KK_E_INVALID, "unknown kind");
}

int kuke_wait_readable(int fd)
{
    for (;;) {
        /* No events asked of stdout: POLLERR (a pipe without a reader) and
         * POLLHUP (a terminal hung up) are reported anyway; POLLNVAL (no stdout
         * at all) would otherwise wake poll forever. */
        struct pollfd p[] = {{.fd = fd, .events = POLLIN}, {.fd = STDOUT_FILENO}};
        if (poll(p, KK_ARRAY_SIZE(p), -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
            return 1;
        if (p[0].revents)
            return 0;
    }
}

int kuke_load_spec(const struct kuke_ctx *ctx, const struct kk_key *key, enum kk_kind kind,
                   struct kk_resource **out, kk_error **err)
{
    _cleanup_free_ char *rel = kk_tree_spec_path(key);
    _cleanup_free_ char *shown = kk_tree_join(ctx->state_dir, rel);
    _cleanup_error_ kk_error *open_err = NULL;
    _cleanup_close_ int fd = kk_fs_open_regular(ctx->rootfd, rel, &(struct stat){0}, &open_err);
    if (fd < 0) {
        if (kk_error_code(open_err) == KK_E_NOT_FOUND)
            return 1;
        *err = TAKE_PTR(open_err);
        return -1;
    }
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    if (kk_resource_load_fd(fd, shown, kind, out, &diags, err) < 0) {
        if (diags.n) {
            _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
            kk_diag_format(&diags.items[0], &b);
            return kk_error_set(err, KK_E_INVALID, "%s", kk_buf_str(&b));
        }
        return -1;
    }
    return 0;
}

int kuke_load_status(const struct kuke_ctx *ctx, const struct kk_key *key, struct kk_status **out)
{
    _cleanup_free_ char *rel = kk_tree_status_path(key);
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    if (!rel || kk_fs_read_file(ctx->rootfd, rel, 1024 * 1024, &data, &err) < 0)
        return 1;
    if (kk_status_load_buffer(rel, data.data, data.len, out, &diags, &err) < 0)
        return 1;
    return 0;
}

const char *kuke_spec_owner(const struct kk_resource *r)
{
    return kk_kvs_get(&r->meta.annotations, KK_ANNOTATION_SOURCE);
}

const char *kuke_setting(const char *opt, const char *env, const char *fallback)
{
    if (!opt)
        opt = getenv(env);
    return opt && *opt ? opt : fallback;
}

const char *kuke_containerd_address(const char *opt)
{
    return kuke_setting(opt, "KUKEON_CONTAINERD_ADDRESS", kuke_config()->containerd_address);
}

char *kuke_realm_namespace(const char *state_dir, const char *realm, const char *prefix)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_key key;
    _cleanup_close_ int rootfd = state_dir ? kk_fs_open_root(state_dir, &err) : -1;
    if (rootfd >= 0 &&
        kk_key_init(&key, KK_LEVEL_REALM, realm, NULL, NULL, NULL, NULL, &err) == 0) {
        struct kuke_ctx ctx = {.state_dir = state_dir, .rootfd = rootfd};
        _cleanup_(kk_status_freep) struct kk_status *st = NULL;
        if (kuke_load_status(&ctx, &key, &st) == 0 && st->namespace_)
            return kk_xstrdup(st->namespace_);
        _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
        _cleanup_free_ char *dflt = kk_xasprintf(KK_DEFAULT_NAMESPACE_PREFIX "%s", realm);
        if (kuke_load_spec(&ctx, &key, KK_KIND_REALM, &spec, &err) == 0 && spec->realm.namespace_ &&
            strcmp(spec->realm.namespace_, dflt) != 0)
            return kk_xstrdup(spec->realm.namespace_);
    }
    return kk_xasprintf("%s%s", prefix, realm);
}

/* Whether something accepts connections on the unix socket at path: a
 * socket file left by a containerd that died refuses them, and the client
 * would retry until its deadline. */
static int socket_listens(const char *path, kk_error **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return 0; /* the client says so */
    memcpy(sa.sun_path, path, strlen(path) + 1);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kk_error_errno(err, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED)
        return kk_error_set(err, KK_E_UNAVAILABLE,
                            "nothing listens on the containerd socket at %s; is containerd "
                            "running?",
                            path);
    return 0;
}

int kuke_ctd_open(const char *address, int timeout_ms, struct kk_ctd **out, kk_error **err)
{
    const char *path = strncmp(address, "unix://", 7) == 0 ? address + 7 : address;
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return kk_error_set(err, KK_E_UNAVAILABLE,
                                "no containerd socket at %s; is containerd running? "
                                "(--containerd-address, $KUKEON_CONTAINERD_ADDRESS or the "
                                "config's containerd-address name another)",
                                address);
        return kk_error_errno(err, "containerd socket %s", address);
    }
    if (!S_ISSOCK(st.st_mode))
        return kk_error_set(err, KK_E_UNAVAILABLE, "%s is not a socket (containerd's is)", address);
    if (socket_listens(path, err) < 0)
        return -1;
    struct kk_ctd_opts opts = {.timeout_ms = timeout_ms};
    return kk_ctd_open(address, &opts, out, err);
}

void kuke_human_size(int64_t n, char buf[32])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < KK_ARRAY_SIZE(units)) {
        v /= 1024;
        u++;
    }
    snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

double kuke_elapsed_ms(int64_t t0_ns)
{
    return (double)(kk_clock_mono_ns(NULL) - t0_ns) / 1e6;
}

int kuke_fail(const char *verb, const kk_error *err)
{
    fprintf(stderr, "kuke %s: %s\n", verb, err ? err->message : "unknown error");
    return 1;
}

int kuke_usage_error(const char *verb, const char *try_, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kuke %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (try_)
        fprintf(stderr, "; try '%s' or 'kuke %s --help'\n", try_, verb);
    else
        fprintf(stderr, "; try 'kuke %s --help'\n", verb);
    return 2;
}

/* Whether getopt_long's error was about a short option inside argv[optind]
 * (a cluster such as "-xq" whose scan has not moved past it): else it was
 * about the element just passed, argv[optind - 1]. */
static bool short_in_cluster(char **argv)
{
    const char *cur = argv[optind];
    return optopt > 0 && optopt < 0x80 && cur && cur[0] == '-' && cur[1] && cur[1] != '-' &&
           strchr(cur + 1, optopt);
}

int kuke_bad_option(const char *verb, const char *try_, int c, char **argv)
{
    /* getopt_long names its long options only through argv: optopt is 0
     * for an unknown one, the option's value for one missing or refusing a
     * value. A short one is named by optopt. */
    const char *last = optind > 0 ? argv[optind - 1] : NULL;
    if (last && strncmp(last, "--", 2) == 0 && !short_in_cluster(argv)) {
        int len = (int)strcspn(last, "=");
        if (optopt == 0)
            return kuke_usage_error(verb, try_, "unknown option '%.*s'", len, last);
        if (last[len] == '=')
            return kuke_usage_error(verb, try_, "option '%.*s' takes no value", len, last);
        return kuke_usage_error(verb, try_, "option '%s' needs a value", last);
    }
    if (optopt <= 0 || optopt >= 0x80)
        return kuke_usage_error(verb, try_, "unknown option '%s'", last ? last : "?");
    if (c == ':')
        return kuke_usage_error(verb, try_, "option '-%c' needs a value", optopt);
    return kuke_usage_error(verb, try_, "unknown option '-%c'", optopt);
}

void kuke_getopt_reset(void)
{
    optind = 1;
    opterr = 0;
}

const char *kuke_kind_word(enum kk_kind kind)
{
    static const char *const words[] = {"realm", "space", "stack", "cell", "container"};
    return (unsigned)kind < KK_ARRAY_SIZE(words) ? words[kind] : "resource";
}
