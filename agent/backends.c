/* The real backends of the agent and the image resolver. */
#include "agent/backends.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "fsapi/log.h"
#include "runtime/oci/json.h"

#define IMAGE_JSON_MAX   (8u << 20)
#define IMAGE_LAYERS_MAX 128

void kk_agent_image_clear(struct kk_agent_image *img)
{
    free(img->config_json);
    free(img->chain_id);
    memset(img, 0, sizeof(*img));
}

static const char *host_arch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "386";
#elif defined(__arm__)
    return "arm";
#else
    return "unknown";
#endif
}

static void sha256_hex(const void *data, size_t len, char out[72])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    strcpy(out, "sha256:");
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

static int read_json(struct kk_ctd *c, const char *ns, const char *digest, struct kk_buf *raw,
                     struct kk_json **out, kk_error **err)
{
    if (kk_ctd_content_read(c, ns, digest, IMAGE_JSON_MAX, raw, err) < 0)
        return kk_error_wrap(err, "read %s", digest);
    if (kk_json_parse(raw->data, raw->len, out, err) < 0)
        return kk_error_wrap(err, "parse %s", digest);
    return 0;
}

static bool is_index(const char *mt)
{
    return mt && (strstr(mt, "image.index") || strstr(mt, "manifest.list"));
}

/* Picks the host platform's manifest digest out of an index. */
static const char *pick_manifest(const struct kk_json *index)
{
    const struct kk_json *ms = kk_json_get(index, "manifests");
    const char *first = NULL;
    for (size_t i = 0; i < kk_json_len(ms); i++) {
        const struct kk_json *m = kk_json_at(ms, i);
        const struct kk_json *plat = kk_json_get(m, "platform");
        const char *d = kk_json_str(kk_json_get(m, "digest"));
        if (!d)
            continue;
        if (!plat)
            first = first ? first : d;
        const char *os = kk_json_str(kk_json_get(plat, "os"));
        const char *arch = kk_json_str(kk_json_get(plat, "architecture"));
        if (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, host_arch()) == 0)
            return d;
    }
    return first;
}

int kk_agent_image_resolve_real(void *self, const char *ns, const char *ref,
                                struct kk_agent_image *out, kk_error **err)
{
    struct kk_ctd *c = self;
    struct kk_ctd_image img = {0};
    if (kk_ctd_image_get(c, ns, ref, &img, err) < 0) {
        if (kk_error_code(*err) == KK_E_NOT_FOUND) {
            kk_error_free(*err);
            *err = NULL;
            kk_error_set(err, KK_E_NOT_FOUND,
                         "image %s is not in containerd namespace %s (load it with `kuke image "
                         "load`)",
                         ref, ns);
            return kk_error_reason(err, "ImageNotFound");
        }
        return kk_error_wrap(err, "image %s", ref);
    }
    _cleanup_free_ char *digest = kk_xstrdup(img.digest);
    _cleanup_free_ char *mt = kk_xstrdup(img.media_type ? img.media_type : "");
    kk_ctd_image_clear(&img);

    _cleanup_buf_ struct kk_buf raw = KK_BUF_INIT;
    _cleanup_json_ struct kk_json *manifest = NULL;
    if (read_json(c, ns, digest, &raw, &manifest, err) < 0)
        return kk_error_wrap(err, "image %s", ref);
    if (is_index(mt) || kk_json_get(manifest, "manifests")) {
        const char *d = pick_manifest(manifest);
        if (!d)
            return kk_error_set(err, KK_E_NOT_FOUND, "image %s: no manifest for linux/%s", ref,
                                host_arch());
        _cleanup_free_ char *md = kk_xstrdup(d);
        kk_json_freep(&manifest);
        kk_buf_reset(&raw);
        if (read_json(c, ns, md, &raw, &manifest, err) < 0)
            return kk_error_wrap(err, "image %s", ref);
    }
    const char *cfg_digest = kk_json_str(kk_json_get(kk_json_get(manifest, "config"), "digest"));
    if (!cfg_digest)
        return kk_error_set(err, KK_E_INVALID, "image %s: manifest without config", ref);
    _cleanup_buf_ struct kk_buf cfg = KK_BUF_INIT;
    _cleanup_json_ struct kk_json *config = NULL;
    if (read_json(c, ns, cfg_digest, &cfg, &config, err) < 0)
        return kk_error_wrap(err, "image %s", ref);

    const struct kk_json *diffs = kk_json_get(kk_json_get(config, "rootfs"), "diff_ids");
    size_t n = kk_json_len(diffs);
    if (n == 0 || n > IMAGE_LAYERS_MAX)
        return kk_error_set(err, KK_E_INVALID, "image %s: %zu layers", ref, n);
    char chain[72] = "";
    for (size_t i = 0; i < n; i++) {
        const char *d = kk_json_str(kk_json_at(diffs, i));
        if (!d || strlen(d) != 71)
            return kk_error_set(err, KK_E_INVALID, "image %s: bad diff_id %zu", ref, i);
        if (i == 0) {
            strcpy(chain, d);
        } else {
            char joined[72 * 2];
            snprintf(joined, sizeof(joined), "%s %s", chain, d);
            sha256_hex(joined, strlen(joined), chain);
        }
    }
    struct kk_ctd_snapshot_info info = {0};
    if (kk_ctd_snapshot_stat(c, ns, NULL, chain, &info, err) < 0) {
        if (kk_error_code(*err) == KK_E_NOT_FOUND) {
            kk_error_free(*err);
            *err = NULL;
            kk_error_set(err, KK_E_NOT_FOUND,
                         "image %s in namespace %s is not unpacked (snapshot %s missing; "
                         "load it with `kuke image load`)",
                         ref, ns, chain);
            return kk_error_reason(err, "ImageNotFound");
        }
        return kk_error_wrap(err, "image %s", ref);
    }
    kk_ctd_snapshot_info_clear(&info);
    out->config_json = kk_buf_detach(&cfg, &out->config_len);
    out->chain_id = kk_xstrdup(chain);
    return 0;
}

int kk_agent_backends_open_real(const struct kk_agent_config *cfg, struct kk_agent_backends *out,
                                kk_error **err)
{
    struct kk_agent_backends be = {.ctd = &kk_ctd_real_ops,
                                   .image_resolve = kk_agent_image_resolve_real};
    if (kk_ctd_open(cfg->containerd_address, NULL, &be.client, err) < 0)
        return kk_error_wrap(err, "containerd %s", cfg->containerd_address);
    be.ctd_self = be.client;
    be.image_self = be.client;

    struct kk_cg_config cgc = {.root = cfg->cgroup_root};
    if (kk_cg_open_real(&cgc, &be.cg, err) < 0) {
        kk_agent_backends_close(&be);
        return kk_error_wrap(err, "cgroups");
    }
    _cleanup_free_ char *netns = kk_xasprintf("%s/netns", cfg->run_dir);
    _cleanup_free_ char *ipam = kk_xasprintf("%s/net", cfg->run_dir);
    struct kk_net_config nc = {
            .bridge_prefix = cfg->bridge_prefix,
            .veth_prefix = cfg->veth_prefix,
            .netns_dir = netns,
            .state_dir = ipam,
            .subnet_pool = cfg->subnet_pool,
    };
    if (kk_net_new(&nc, &be.net, err) < 0) {
        kk_agent_backends_close(&be);
        return kk_error_wrap(err, "network");
    }
    struct kk_fw_config fc = {.table = cfg->nft_table};
    if (kk_fw_new(&fc, &be.fw, err) < 0) {
        kk_agent_backends_close(&be);
        return kk_error_wrap(err, "firewall");
    }
    *out = be;
    return 0;
}

void kk_agent_backends_close(struct kk_agent_backends *be)
{
    kk_fw_free(be->fw);
    kk_net_free(be->net);
    kk_cg_close(be->cg);
    kk_ctd_close(be->client);
    memset(be, 0, sizeof(*be));
}
