/* registries.yaml (see registry.h and docs/registry.md), decoded with the
 * same table-driven codec as the manifests. */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "fsapi/yaml-codec.h"
#include "runtime/registry/registry.h"

static const struct kk_field host_fields[] = {
        {.name = "host", .type = KK_F_STR, .off = offsetof(struct kk_registry_host, host)},
        {.name = "insecure", .type = KK_F_BOOL, .off = offsetof(struct kk_registry_host, insecure)},
        {.name = "caFile", .type = KK_F_STR, .off = offsetof(struct kk_registry_host, ca_file)},
        {.name = "mirrors", .type = KK_F_STRV, .off = offsetof(struct kk_registry_host, mirrors)},
};
static const struct kk_schema host_schema = {"registry", sizeof(struct kk_registry_host),
                                             host_fields, KK_ARRAY_SIZE(host_fields)};

static const struct kk_field config_fields[] = {
        {.name = "authFile",
         .type = KK_F_STR,
         .off = offsetof(struct kk_registry_config, auth_file)},
        {.name = "tmpDir", .type = KK_F_STR, .off = offsetof(struct kk_registry_config, tmp_dir)},
        {.name = "maxConcurrentDownloads",
         .type = KK_F_U32,
         .off = offsetof(struct kk_registry_config, max_concurrent_downloads),
         .min = 1,
         .max = KK_REGISTRY_MAX_PARALLEL},
        {.name = "timeoutSeconds",
         .type = KK_F_U32,
         .off = offsetof(struct kk_registry_config, timeout_seconds),
         .min = 1,
         .max = 3600},
        {.name = "registries",
         .type = KK_F_LIST,
         .off = offsetof(struct kk_registry_config, registries),
         .count_off = offsetof(struct kk_registry_config, n_registries),
         .sub = &host_schema},
};
static const struct kk_schema config_schema = {"registries", sizeof(struct kk_registry_config),
                                               config_fields, KK_ARRAY_SIZE(config_fields)};

void kk_registry_config_clear(struct kk_registry_config *cfg)
{
    kk_codec_free(&config_schema, cfg);
    memset(cfg, 0, sizeof(*cfg));
}

const struct kk_registry_host *kk_registry_config_host(const struct kk_registry_config *cfg,
                                                       const char *host)
{
    _cleanup_free_ char *want = kk_registry_server_domain(host);
    for (size_t i = 0; cfg && i < cfg->n_registries; i++) {
        _cleanup_free_ char *h = kk_registry_server_domain(cfg->registries[i].host);
        if (strcmp(h, want) == 0)
            return &cfg->registries[i];
    }
    return NULL;
}

static bool abs_path_ok(const char *p)
{
    return !p || p[0] == '/';
}

/* Cross-field checks the codec cannot express. */
static void check(struct kk_dec *d, const struct kk_ynode *root, struct kk_registry_config *cfg)
{
    if (!abs_path_ok(cfg->auth_file))
        kk_dec_error(d, kk_ynode_get(root, "authFile"), "authFile: must be an absolute path");
    if (!abs_path_ok(cfg->tmp_dir))
        kk_dec_error(d, kk_ynode_get(root, "tmpDir"), "tmpDir: must be an absolute path");
    if (cfg->n_registries > KK_REGISTRY_MAX_HOSTS)
        kk_dec_error(d, kk_ynode_get(root, "registries"), "more than %d registries",
                     KK_REGISTRY_MAX_HOSTS);
    const struct kk_ynode *regs = kk_ynode_get(root, "registries");
    for (size_t i = 0; i < cfg->n_registries; i++) {
        const struct kk_registry_host *h = &cfg->registries[i];
        const struct kk_ynode *n = regs && i < regs->n ? regs->items[i] : regs;
        size_t mark = kk_dec_push_key(d, "registries");
        kk_dec_push_index(d, i);
        if (!h->host || strpbrk(h->host, "/ \t") || strlen(h->host) > 255)
            kk_dec_error(d, n, "host: required, a host[:port] without scheme or path");
        if (!abs_path_ok(h->ca_file))
            kk_dec_error(d, n, "caFile: must be an absolute path");
        if (h->mirrors.n > KK_REGISTRY_MAX_MIRRORS)
            kk_dec_error(d, n, "more than %d mirrors", KK_REGISTRY_MAX_MIRRORS);
        for (size_t k = 0; k < h->mirrors.n; k++) {
            const char *m = h->mirrors.v[k];
            if (strstr(m, "://") && strncmp(m, "http://", 7) != 0 && strncmp(m, "https://", 8) != 0)
                kk_dec_error(d, n, "mirrors[%zu]: not an http(s) URL or host", k);
        }
        for (size_t j = 0; j < i && h->host; j++)
            if (cfg->registries[j].host &&
                kk_registry_server_matches(cfg->registries[j].host, h->host))
                kk_dec_error(d, n, "host %s is listed twice", h->host);
        kk_dec_pop(d, mark);
    }
}

int kk_registry_config_parse(const char *file, const char *data, size_t len,
                             struct kk_registry_config *cfg, kk_error **err)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
    struct kk_dec d = {.file = file, .diags = &diags};

    memset(cfg, 0, sizeof(*cfg));
    kk_codec_init(&config_schema, cfg);
    if (kk_yaml_parse(file, data, len, &t, &diags) == 0) {
        if (t->ndocs > 1)
            kk_dec_error(&d, t->docs[1].root, "one document expected");
        const struct kk_ynode *root = t->ndocs ? t->docs[0].root : NULL;
        if (root && root->type != KK_YMAP && !kk_ynode_is_null(root))
            kk_dec_error(&d, root, "expected a mapping");
        else if (kk_codec_decode(&d, &config_schema, root, cfg) == 0)
            check(&d, root, cfg);
    }
    kk_buf_release(&d.path);
    if (diags.n == 0)
        return 0;
    _cleanup_buf_ struct kk_buf msg = KK_BUF_INIT;
    for (size_t i = 0; i < diags.n && i < 5; i++) {
        if (i)
            kk_buf_adds(&msg, "; ");
        kk_diag_format(&diags.items[i], &msg);
    }
    kk_registry_config_clear(cfg);
    return kk_error_set(err, KK_E_INVALID, "%s", kk_buf_str(&msg));
}

int kk_registry_config_load(const char *path, struct kk_registry_config *cfg, kk_error **err)
{
    memset(cfg, 0, sizeof(*cfg));
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        return kk_error_errno(err, "%s", path);
    }
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    int r = kk_buf_read_fd(&b, fd, KK_YAML_MAX_INPUT);
    if (r < 0)
        return kk_error_errnum(err, -r, "%s", path);
    return kk_registry_config_parse(path, kk_buf_str(&b), b.len, cfg, err);
}
