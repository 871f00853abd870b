/* kuke image pull — pull an image from its registry into a realm's
 * containerd namespace (runtime/registry/registry.h).
 *
 *   kuke image pull [OPTIONS] REF...
 *
 * The realm's registryCredentials come from its spec in the state tree
 * (<state>/<realm>/realm.yaml, if there is one); registries.yaml (mirrors,
 * CA files, insecure hosts, the auth file) from --registries-config, else
 * $KUKEON_REGISTRIES_CONFIG, else /etc/kukeon/registries.yaml (missing:
 * defaults). On a terminal, progress (blobs and bytes) is drawn on stderr;
 * otherwise only the result lines are printed. Exit codes: 0 success, 1 a
 * pull failed, 2 usage. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsapi/clock.h"
#include "fsapi/model.h"
#include "fsapi/validate.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "runtime/registry/registry.h"

struct pull_opts {
    const char *address, *ns, *config, *auth_file, *platform;
    bool quiet, no_unpack, tty;
    struct kuke_ctx ctx;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke image pull [OPTIONS] REF...\n"
            "options:\n"
            "  -r, --realm REALM            realm (default: default): its namespace as kukeond\n"
            "                               has it, else PREFIX+REALM; credentials from the\n"
            "                               realm's registryCredentials\n"
            "  -n, --namespace NS           containerd namespace (overrides --realm)\n"
            "      --namespace-prefix P     realm namespace prefix (default: the config's, "
            "else " KK_DEFAULT_NAMESPACE_PREFIX ")\n"
            "  -a, --containerd-address P   containerd socket (default: "
            "$KUKEON_CONTAINERD_ADDRESS, the config's, else " KK_DEFAULT_CONTAINERD_ADDRESS ")\n"
            "      --state DIR              state tree holding the realm (env KUKEON_STATE; "
            "else the config's)\n"
            "      --config FILE            settings shared with kukeond (env KUKEON_CONFIG; "
            "default " KK_AGENT_CONFIG_FILE ")\n"
            "      --registries-config F    registries.yaml (env KUKEON_REGISTRIES_CONFIG; "
            "default " KK_REGISTRY_CONFIG_PATH ")\n"
            "      --auth-file F            auth.json (default: the config's, "
            "else " KK_REGISTRY_AUTH_FILE ")\n"
            "      --platform OS/ARCH[/VAR] another platform than this host's\n"
            "      --no-unpack              fetch content only\n"
            "  -q, --quiet                  no progress\n");
}

/* OS/ARCH or OS/ARCH/VARIANT, no part empty. */
static bool platform_valid(const char *p)
{
    size_t parts = 1;
    for (const char *q = p; *q; q++)
        if (*q == '/') {
            if (q == p || q[1] == '/' || q[1] == '\0')
                return false;
            parts++;
        }
    return parts == 2 || parts == 3;
}

static void on_progress(const struct kk_registry_progress *p, void *userdata)
{
    (void)userdata;
    char done[32], total[32];
    kuke_human_size(p->bytes_done, done);
    kuke_human_size(p->bytes_total, total);
    if (strcmp(p->phase, "fetching") == 0)
        fprintf(stderr, "\r\033[K%s: fetching %zu/%zu blobs, %s / %s", p->ref, p->blobs_done,
                p->blobs_total, done, total);
    else
        fprintf(stderr, "\r\033[K%s: %s", p->ref, p->phase);
    if (strcmp(p->phase, "done") == 0)
        fputc('\n', stderr);
    fflush(stderr);
}

/* The realm's spec, when the state tree has it: its credentials. */
static int load_realm(struct pull_opts *o, struct kk_resource **out)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_key key;
    *out = NULL;
    if (kuke_open_state(&o->ctx, &err) < 0)
        return 0; /* no state tree: no realm credentials */
    if (kuke_named_key(&o->ctx, KK_KIND_REALM, o->ctx.realm, NULL, &key, &err) < 0 ||
        kuke_load_spec(&o->ctx, &key, KK_KIND_REALM, out, &err) < 0) {
        fprintf(stderr, "kuke image pull: realm %s: %s\n", o->ctx.realm, err->message);
        return -1;
    }
    return 0;
}

static int pull_all(struct pull_opts *o, struct kk_registry *reg, struct kk_ctd *ctd,
                    const struct kk_realm *realm, int argc, char **argv)
{
    _cleanup_free_ char *plat = o->platform ? kk_xstrdup(o->platform) : NULL;
    struct kk_registry_pull_opts po = {
            .no_unpack = o->no_unpack,
            .progress = o->tty && !o->quiet ? on_progress : NULL,
    };
    if (realm) {
        po.credentials = realm->registry_credentials;
        po.n_credentials = realm->n_registry_credentials;
    }
    if (plat) {
        char *save = NULL;
        po.platform.os = strtok_r(plat, "/", &save);
        po.platform.architecture = strtok_r(NULL, "/", &save);
        po.platform.variant = strtok_r(NULL, "/", &save);
        if (!po.platform.os || !po.platform.architecture) {
            return kuke_usage_error("image pull", "kuke image pull --platform linux/arm64 busybox",
                                    "--platform %s: not OS/ARCH[/VARIANT]", o->platform);
        }
    }
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        _cleanup_error_ kk_error *err = NULL;
        struct kk_registry_pull_result res = {0};
        int64_t t0 = kk_clock_mono_ns(NULL);
        if (kk_registry_pull(reg, ctd, o->ns, argv[i], &po, &res, &err) < 0) {
            if (po.progress)
                fputc('\n', stderr);
            fprintf(stderr, "kuke image pull: %s\n", err->message);
            rc = 1;
            continue;
        }
        printf("pulled %s (%s) into %s\n", res.name, res.digest, o->ns);
        if (!o->quiet) {
            char bytes[32];
            kuke_human_size(res.bytes_fetched, bytes);
            fprintf(stderr,
                    "%s: %zu blobs fetched (%s), %zu present; %zu layers unpacked, %zu present; "
                    "from %s in %.0f ms\n",
                    res.name, res.blobs_fetched, bytes, res.blobs_present, res.layers_unpacked,
                    res.layers_present, res.endpoint, kuke_elapsed_ms(t0));
        }
        kk_registry_pull_result_clear(&res);
    }
    return rc;
}

int kuke_image_pull(int argc, char **argv)
{
    enum { OPT_CONFIG = 0x2000, OPT_AUTH, OPT_PLATFORM, OPT_NO_UNPACK, OPT_NS_PREFIX };
    static const struct option opts[] = {
            {"realm", required_argument, NULL, 'r'},
            {"namespace", required_argument, NULL, 'n'},
            {"containerd-address", required_argument, NULL, 'a'},
            {"namespace-prefix", required_argument, NULL, OPT_NS_PREFIX},
            {"state", required_argument, NULL, KUKE_OPT_STATE},
            {"config", required_argument, NULL, KUKE_OPT_CONFIG},
            {"registries-config", required_argument, NULL, OPT_CONFIG},
            {"auth-file", required_argument, NULL, OPT_AUTH},
            {"platform", required_argument, NULL, OPT_PLATFORM},
            {"no-unpack", no_argument, NULL, OPT_NO_UNPACK},
            {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct pull_opts o = {.tty = isatty(STDERR_FILENO)};
    _cleanup_free_ char *ns = NULL;
    const char *why = NULL, *prefix = NULL;
    int c;

    kuke_ctx_init(&o.ctx);
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, ":r:n:a:qh", opts, NULL)) != -1) {
        if (c == KUKE_OPT_STATE || c == KUKE_OPT_CONFIG) {
            kuke_common_option(&o.ctx, c, optarg);
            continue;
        }
        switch (c) {
        case 'r':
            o.ctx.realm = optarg;
            break;
        case 'n':
            o.ns = optarg;
            break;
        case 'a':
            o.address = optarg;
            break;
        case OPT_NS_PREFIX:
            prefix = optarg;
            break;
        case OPT_CONFIG:
            o.config = optarg;
            break;
        case OPT_AUTH:
            o.auth_file = optarg;
            break;
        case OPT_PLATFORM:
            o.platform = optarg;
            break;
        case OPT_NO_UNPACK:
            o.no_unpack = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return kuke_bad_option("image pull", "kuke image pull busybox", c, argv);
        }
    }
    if (optind >= argc)
        return kuke_usage_error("image pull", "kuke image pull docker.io/library/busybox:latest",
                                "no image given");
    if (!kk_name_valid(o.ctx.realm, &why))
        return kuke_usage_error("image pull", NULL, "realm \"%s\": %s", o.ctx.realm, why);
    if (o.platform && !platform_valid(o.platform))
        return kuke_usage_error("image pull", "kuke image pull --platform linux/arm64 busybox",
                                "--platform %s: not OS/ARCH[/VARIANT]", o.platform);

    _cleanup_error_ kk_error *err = NULL;
    if (kuke_config_check(&err) < 0)
        return kuke_fail("image pull", err);
    const struct kk_agent_config *kcfg = kuke_config();
    if (!o.ns) {
        ns = kuke_realm_namespace(o.ctx.state_dir, o.ctx.realm,
                                  prefix ? prefix : kcfg->namespace_prefix); /* freed on return */
        o.ns = ns;
    }
    o.address = kuke_containerd_address(o.address);
    /* registries.yaml: the flag, $KUKEON_REGISTRIES_CONFIG, else kukeond's. */
    o.config = kuke_setting(o.config, "KUKEON_REGISTRIES_CONFIG", kcfg->registries_config);

    _cleanup_(kk_registry_config_clear) struct kk_registry_config cfg = {0};
    if (kk_registry_config_load(o.config, &cfg, &err) < 0) {
        fprintf(stderr, "kuke image pull: %s\n", err->message);
        return 1;
    }
    if (o.auth_file) {
        free(cfg.auth_file);
        cfg.auth_file = kk_xstrdup(o.auth_file);
    }
    _cleanup_(kk_resource_freep) struct kk_resource *realm = NULL;
    int rc = load_realm(&o, &realm);
    kuke_ctx_release(&o.ctx);
    if (rc < 0)
        return 1;

    _cleanup_(kk_registry_freep) struct kk_registry *reg = NULL;
    _cleanup_(kk_ctd_closep) struct kk_ctd *ctd = NULL;
    if (kk_registry_new(&cfg, &reg, &err) < 0 || kuke_ctd_open(o.address, 120000, &ctd, &err) < 0) {
        fprintf(stderr, "kuke image pull: %s\n", err->message);
        return 1;
    }
    return pull_all(&o, reg, ctd, realm ? &realm->realm : NULL, argc - optind, argv + optind);
}
