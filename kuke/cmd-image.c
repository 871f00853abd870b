/* kuke image load|ls|rm — the only kuke verbs that talk to containerd.
 *
 *   kuke image load [--realm R] FILE...   import OCI / docker-save archives
 *   kuke image ls   [--realm R] [-q]      list the realm's images
 *   kuke image rm   [--realm R] REF...    delete image records (GC frees content)
 *   kuke image pull [--realm R] REF...    pull from a registry (cmd-pull.c)
 *
 * Common options: --containerd-address PATH (default: $KUKEON_CONTAINERD_ADDRESS,
 * else the configuration's, else /run/containerd/containerd.sock), --namespace
 * NS (default: the realm's namespace as kukeond chose it, kuke_realm_namespace,
 * with --namespace-prefix or the configuration's prefix; realm default
 * "default"). The namespace is created on load.
 * Exit codes: 0 success, 1 failure, 2 usage. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fsapi/clock.h"
#include "fsapi/model.h"
#include "fsapi/validate.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "runtime/image/image.h"

struct image_opts {
    const char *address;
    const char *realm;
    const char *ns;
    bool quiet;
    bool no_unpack;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke image load [OPTIONS] FILE...\n"
            "       kuke image ls   [OPTIONS] [-q]\n"
            "       kuke image rm   [OPTIONS] REF...\n"
            "       kuke image pull [OPTIONS] REF...   (see kuke image pull --help)\n"
            "options:\n"
            "  -r, --realm REALM            realm (default: default); its namespace as\n"
            "                               kukeond has it (status.yaml), else PREFIX+REALM\n"
            "  -n, --namespace NS           containerd namespace (overrides --realm)\n"
            "      --namespace-prefix P     realm namespace prefix (default: the config's, "
            "else " KK_DEFAULT_NAMESPACE_PREFIX ")\n"
            "  -a, --containerd-address P   containerd socket (default: "
            "$KUKEON_CONTAINERD_ADDRESS, the config's, else " KK_DEFAULT_CONTAINERD_ADDRESS ")\n"
            "      --state DIR              state tree holding the realm (env KUKEON_STATE)\n"
            "      --config FILE            settings shared with kukeond (env KUKEON_CONFIG; "
            "default " KK_AGENT_CONFIG_FILE ")\n"
            "      --no-unpack              load: import content only\n"
            "  -q, --quiet                  ls: names only\n");
}

static int cmd_load(struct kk_ctd *c, const struct image_opts *o, int argc, char **argv)
{
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        _cleanup_error_ kk_error *err = NULL;
        struct kk_image_import_result res = {0};
        struct kk_image_import_opts io = {.no_unpack = o->no_unpack};
        int64_t t0 = kk_clock_mono_ns(NULL);
        if (kk_image_import(c, o->ns, argv[i], &io, &res, &err) < 0) {
            fprintf(stderr, "kuke image load: %s\n", err->message);
            rc = 1;
            continue;
        }
        for (size_t k = 0; res.names && res.names[k]; k++)
            printf("loaded %s into %s\n", res.names[k], o->ns);
        if (!o->quiet)
            fprintf(stderr,
                    "%s: %zu blobs written, %zu present; %zu layers unpacked, %zu present "
                    "(%.0f ms)\n",
                    argv[i], res.blobs_written, res.blobs_present, res.layers_unpacked,
                    res.layers_present, kuke_elapsed_ms(t0));
        kk_image_import_result_clear(&res);
    }
    return rc;
}

static int cmd_ls(struct kk_ctd *c, const struct image_opts *o)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_ctd_image *imgs = NULL;
    size_t n = 0;
    if (kk_image_list(c, o->ns, &imgs, &n, &err) < 0) {
        fprintf(stderr, "kuke image ls: %s\n", err->message);
        return 1;
    }
    if (!o->quiet)
        printf("%-50s %-12s %-10s %s\n", "NAME", "DIGEST", "SIZE", "UNPACKED");
    for (size_t i = 0; i < n; i++) {
        if (o->quiet) {
            printf("%s\n", imgs[i].name);
            continue;
        }
        struct kk_image_info info;
        char size[32] = "-";
        const char *unpacked = "-";
        bool up = false;
        if (kk_image_resolve(c, o->ns, imgs[i].name, &info, &err) == 0) {
            kuke_human_size(info.size, size);
            if (kk_image_is_unpacked(c, o->ns, NULL, &info, &up, &err) == 0)
                unpacked = up ? "true" : "false";
            kk_image_info_clear(&info);
        }
        kk_error_freep(&err);
        const char *d = imgs[i].digest;
        if (strncmp(d, "sha256:", 7) == 0)
            d += 7;
        printf("%-50s %-12.12s %-10s %s\n", imgs[i].name, d, size, unpacked);
    }
    kk_ctd_image_list_free(imgs, n);
    return 0;
}

static int cmd_rm(struct kk_ctd *c, const struct image_opts *o, int argc, char **argv)
{
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        _cleanup_error_ kk_error *err = NULL;
        const char *why = NULL;
        _cleanup_free_ char *ref = kk_image_normalize(argv[i], &why);
        if (!ref) {
            fprintf(stderr, "kuke image rm: %s: %s\n", argv[i], why);
            rc = 1;
            continue;
        }
        if (kk_image_remove(c, o->ns, ref, false, &err) < 0) {
            fprintf(stderr, "kuke image rm: %s\n", err->message);
            rc = 1;
            continue;
        }
        printf("removed %s\n", ref);
    }
    return rc;
}

int kuke_cmd_image(int argc, char **argv)
{
    enum { OPT_NS_PREFIX = 0x100, OPT_STATE, OPT_CONFIG };
    static const struct option opts[] = {
            {"realm", required_argument, NULL, 'r'},
            {"namespace", required_argument, NULL, 'n'},
            {"namespace-prefix", required_argument, NULL, OPT_NS_PREFIX},
            {"containerd-address", required_argument, NULL, 'a'},
            {"state", required_argument, NULL, OPT_STATE},
            {"config", required_argument, NULL, OPT_CONFIG},
            {"no-unpack", no_argument, NULL, 'U'},
            {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct image_opts o = {.realm = "default"};
    const char *prefix = NULL, *state = NULL;
    _cleanup_free_ char *ns = NULL, *verb_name = NULL;
    const char *why = NULL;
    int c;

    if (argc < 2)
        return kuke_usage_error("image", "kuke image ls", "missing command (load, ls, rm or pull)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "pull") == 0)
        return kuke_image_pull(argc - 1, argv + 1);
    bool load = strcmp(verb, "load") == 0,
         ls = strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0,
         rm = strcmp(verb, "rm") == 0 || strcmp(verb, "remove") == 0;
    if (!load && !ls && !rm)
        return kuke_usage_error("image", "kuke image ls",
                                "unknown command '%s' (load, ls, rm or pull)", verb);
    verb_name = kk_xasprintf("image %s", verb);
    argc--, argv++;
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, ":r:n:a:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o.realm = optarg;
            break;
        case 'n':
            o.ns = optarg;
            break;
        case OPT_NS_PREFIX:
            prefix = optarg;
            break;
        case 'a':
            o.address = optarg;
            break;
        case OPT_STATE:
            state = optarg;
            break;
        case OPT_CONFIG:
            kuke_config_use(optarg);
            break;
        case 'U':
            o.no_unpack = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return kuke_bad_option(verb_name, NULL, c, argv);
        }
    }
    if (!kk_name_valid(o.realm, &why))
        return kuke_usage_error(verb_name, NULL, "realm \"%s\": %s", o.realm, why);
    if (load && optind >= argc)
        return kuke_usage_error(verb_name, "kuke image load busybox.tar", "no archive given");
    if (rm && optind >= argc)
        return kuke_usage_error(verb_name, "kuke image rm docker.io/library/busybox:latest",
                                "no image given");
    if (ls && optind < argc)
        return kuke_usage_error(verb_name, "kuke image ls", "unexpected argument '%s'",
                                argv[optind]);

    _cleanup_error_ kk_error *err = NULL;
    if (kuke_config_check(&err) < 0)
        return kuke_fail(verb_name, err);
    if (!o.ns) {
        /* The realm's namespace as the agent chose it; the prefix from the
         * flag, else the configuration shared with kukeond. */
        const struct kk_agent_config *cfg = kuke_config();
        ns = kuke_realm_namespace(kuke_setting(state, "KUKEON_STATE", cfg->state), o.realm,
                                  prefix ? prefix : cfg->namespace_prefix);
        o.ns = ns;
    }
    o.address = kuke_containerd_address(o.address);

    _cleanup_(kk_ctd_closep) struct kk_ctd *ctd = NULL;
    if (kuke_ctd_open(o.address, 120000, &ctd, &err) < 0) {
        if (strstr(err->message, o.address)) /* it names the socket already */
            return kuke_fail(verb_name, err);
        fprintf(stderr, "kuke %s: containerd at %s: %s\n", verb_name, o.address, err->message);
        return 1;
    }
    if (load)
        return cmd_load(ctd, &o, argc - optind, argv + optind);
    if (ls)
        return cmd_ls(ctd, &o);
    return cmd_rm(ctd, &o, argc - optind, argv + optind);
}
