/* Registry pulls against Debian's docker-registry on loopback and a private
 * containerd: anonymous pulls (OCI and Docker schema 2, multi-layer gzip,
 * zstd), a multi-platform index, by digest, a second pull that downloads
 * nothing, the same result as an archive import, errors (unknown tag, a
 * corrupted blob leaving nothing behind), mirrors, the pull policies,
 * concurrent pulls; htpasswd Basic auth behind TLS with a test CA, the
 * Bearer flow against a token issuer the test runs, and `kuke image pull`. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "fsapi/log.h"
#include "runtime/containerd/containerd.h"
#include "runtime/image/image.h"
#include "runtime/registry/registry.h"
#include "tests/integration/test-registry-util.h"
#include "tests/lib/containerd-fixture.h"
#include "tests/lib/kktest.h"

static struct kt_ctd *fixture;
static struct kk_ctd *ctd;
static struct kt_registry *reg;
static char *index_json; /* mkindex.py's digests */

static void stop_all(void)
{
    kk_ctd_close(ctd);
    ctd = NULL;
    kt_ctd_destroy(fixture);
    fixture = NULL;
    kt_registry_stop(reg);
    reg = NULL;
}

/* Absolute: the setup runs commands from another directory. */
static char *src_dir(void)
{
    const char *s = getenv("KUKEON_SRC");
    char *abs = realpath(s ? s : ".", NULL);
    return abs ? abs : kk_xstrdup(".");
}

static char *workdir(void)
{
    return kk_xasprintf("%s/work", reg->dir);
}

/* containerd, the registry and the test images in it, once per binary. */
static int setup_once(kk_error **err)
{
    kt_atexit(stop_all);
    if (kt_ctd_start(&fixture, err) < 0 || kk_ctd_open(fixture->address, NULL, &ctd, err) < 0 ||
        kt_registry_start(NULL, NULL, NULL, &reg, err) < 0)
        return -1;
    _cleanup_free_ char *w = workdir();
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    _cleanup_free_ char *s = src_dir();
    int rc = kt_sh(&out,
                   "set -e; mkdir -p %s; cd %s; "
                   "%s/contrib/mkimage/mkimage.sh --layers 3 --gzip -o bb3.tar; "
                   "%s/contrib/mkimage/mkimage.sh --format docker --layers 2 --gzip -o bbd.tar; "
                   "skopeo copy -q --dest-tls-verify=false oci-archive:bb3.tar "
                   "docker://%s/busybox:latest; "
                   "skopeo copy -q --dest-tls-verify=false docker-archive:bbd.tar "
                   "docker://%s/team/bbdocker:v1; "
                   "/usr/bin/python3 %s/contrib/registry-test/mkindex.py bb3.tar multi latest "
                   ">index.json; "
                   "skopeo copy -q --all --dest-tls-verify=false oci:multi:latest "
                   "docker://%s/multi:latest; "
                   "/usr/bin/python3 %s/contrib/registry-test/mkzstd.py bb3.tar zst latest "
                   ">/dev/null; "
                   "skopeo copy -q --dest-tls-verify=false oci:zst:latest "
                   "docker://%s/bbzstd:latest",
                   w, w, s, s, reg->addr, reg->addr, s, reg->addr, s, reg->addr);
    if (rc != 0)
        return kk_error_set(err, KK_E_UNKNOWN, "pushing test images: %s", kk_buf_str(&out));
    _cleanup_free_ char *ij = kk_xasprintf("%s/index.json", w);
    index_json = NULL;
    FILE *f = fopen(ij, "re");
    if (f) {
        char line[1024] = "";
        if (fgets(line, sizeof(line), f))
            index_json = kk_xstrdup(line);
        fclose(f);
    }
    return index_json ? 0 : kk_error_set(err, KK_E_UNKNOWN, "mkindex.py printed nothing");
}

static int setup(kk_error **err)
{
    static int done, rc;
    static char *why;
    if (!done) {
        done = 1;
        rc = setup_once(err);
        if (rc < 0)
            why = kk_xstrdup((*err)->message);
        return rc;
    }
    return rc < 0 ? kk_error_set(err, KK_E_UNKNOWN, "setup failed earlier: %s", why) : 0;
}

/* The value of "key" in mkindex.py's one-line JSON. */
static char *index_digest(const char *key)
{
    _cleanup_free_ char *k = kk_xasprintf("\"%s\": \"", key);
    const char *p = index_json ? strstr(index_json, k) : NULL;
    return p ? kk_xstrndup(p + strlen(k), 71) : kk_xstrdup("?");
}

static char *ns_name(const char *tag)
{
    static int n;
    return kk_xasprintf("kkreg-%d-%s-%d", (int)getpid(), tag, n++);
}

static struct kk_registry *client(const char *yaml)
{
    _cleanup_(kk_registry_config_clear) struct kk_registry_config cfg = {0};
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *text = kk_xasprintf("authFile: /nonexistent/auth.json\n"
                                             "registries:\n"
                                             "  - host: %s\n    insecure: true\n%s",
                                             reg->addr, yaml ? yaml : "");
    if (kk_registry_config_parse("test", text, strlen(text), &cfg, &err) < 0) {
        kt_fail(__FILE__, __LINE__, "config: %s", err->message);
        return NULL;
    }
    struct kk_registry *r = NULL;
    if (kk_registry_new(&cfg, &r, &err) < 0)
        kt_fail(__FILE__, __LINE__, "new: %s", err->message);
    return r;
}

static char *image(const char *repo_tag)
{
    return kk_xasprintf("%s/%s", reg->addr, repo_tag);
}

/* What containerd holds for `name` after a pull: ctr agrees it is complete
 * and unpacked, the GC labels are ctr's, no lease is left. */
static void check_pulled(const char *ns, const char *name)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;

    KT_ASSERT_EQ(kt_sh(&out, "ctr -a %s -n %s images check", fixture->address, ns), 0);
    KT_ASSERT_MSG(strstr(out.data, name) && strstr(out.data, "complete") &&
                          strstr(out.data, " true"),
                  "ctr images check: %s", out.data);

    struct kk_image_info info;
    KT_ASSERT_OK(kk_image_resolve(ctd, ns, name, &info, &err), &err);
    struct kk_ctd_content_info ci = {0};
    int r = kk_ctd_content_info(ctd, ns, info.manifest_digest, &ci, &err);
    const char *cfg = r == 0 ? kk_image_label(ci.labels, KK_LABEL_GC_CONFIG) : NULL;
    bool man_ok = cfg && strcmp(cfg, info.config_digest) == 0;
    for (size_t i = 0; man_ok && i < info.n_layers; i++) {
        char key[64];
        snprintf(key, sizeof(key), KK_LABEL_GC_LAYER "%zu", i);
        const char *l = kk_image_label(ci.labels, key);
        man_ok = l && strcmp(l, info.layers[i].digest) == 0;
    }
    kk_ctd_content_info_clear(&ci);
    r = r == 0 ? kk_ctd_content_info(ctd, ns, info.config_digest, &ci, &err) : r;
    const char *snap = r == 0 ? kk_image_label(ci.labels, KK_LABEL_GC_SNAPSHOT "overlayfs") : NULL;
    bool cfg_ok = snap && strcmp(snap, info.chain_id) == 0;
    kk_ctd_content_info_clear(&ci);
    bool unpacked = false;
    int ru = kk_image_is_unpacked(ctd, ns, NULL, &info, &unpacked, &err);
    kk_image_info_clear(&info);
    KT_ASSERT_MSG(r == 0, "content info: %s", err ? err->message : "");
    KT_ASSERT_MSG(man_ok, "manifest GC labels missing or wrong");
    KT_ASSERT_MSG(cfg_ok, "config snapshot label missing or wrong");
    KT_ASSERT(ru == 0 && unpacked);

    _cleanup_strv_ char **leases = NULL;
    KT_ASSERT_OK(kk_ctd_lease_list(ctd, ns, &leases, &err), &err);
    KT_ASSERT_MSG(!leases || !leases[0], "lease %s left", leases[0]);
}

KT_CASE(anonymous_pull_matches_import)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("anon");
    _cleanup_free_ char *ref = image("busybox:latest");
    struct kk_registry_pull_result res = {0};

    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, NULL, &res, &err), &err);
    size_t fetched = res.blobs_fetched, unpacked = res.layers_unpacked;
    _cleanup_free_ char *manifest = kk_xstrdup(res.manifest_digest);
    bool http = res.endpoint && strncmp(res.endpoint, "http://", 7) == 0 &&
                strstr(res.endpoint, reg->addr) != NULL;
    kk_registry_pull_result_clear(&res);
    KT_ASSERT_EQ(fetched, 4); /* config + 3 layers */
    KT_ASSERT_EQ(unpacked, 3);
    KT_ASSERT(http);
    check_pulled(ns, ref);
    if (kt_failed())
        return;

    /* The archive the image was pushed from, imported: same manifest, same
     * chain, and nothing to write (the pull wrote exactly that). */
    _cleanup_free_ char *w = workdir();
    _cleanup_free_ char *archive = kk_xasprintf("%s/bb3.tar", w);
    struct kk_image_import_result ir = {0};
    KT_ASSERT_OK(kk_image_import(ctd, ns, archive, NULL, &ir, &err), &err);
    size_t written = ir.blobs_written, lunp = ir.layers_unpacked;
    kk_image_import_result_clear(&ir);
    KT_ASSERT_EQ(lunp, 0);
    /* the OCI layout's index.json is the importer's own top index, not
     * something a registry serves: at most that one blob is new */
    KT_ASSERT_MSG(written <= 1, "import wrote %zu blobs after the pull", written);
    struct kk_image_info info;
    KT_ASSERT_OK(kk_image_resolve(ctd, ns, "docker.io/library/busybox:latest", &info, &err), &err);
    bool same = strcmp(info.manifest_digest, manifest) == 0;
    kk_image_info_clear(&info);
    KT_ASSERT_MSG(same, "import and pull disagree on the manifest");
}

KT_CASE(second_pull_downloads_nothing)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("again");
    _cleanup_free_ char *ref = image("busybox:latest");
    struct kk_registry_pull_result res = {0};

    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, NULL, &res, &err), &err);
    kk_registry_pull_result_clear(&res);
    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, NULL, &res, &err), &err);
    size_t fetched = res.blobs_fetched, present = res.blobs_present;
    size_t unpacked = res.layers_unpacked, lpresent = res.layers_present;
    int64_t bytes = res.bytes_fetched;
    kk_registry_pull_result_clear(&res);
    KT_ASSERT_EQ(fetched, 0);
    KT_ASSERT_EQ(bytes, 0);
    KT_ASSERT_EQ(present, 4);
    KT_ASSERT_EQ(unpacked, 0);
    KT_ASSERT_EQ(lpresent, 3);
    check_pulled(ns, ref);
}

KT_CASE(docker_schema2_multilayer)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("docker");
    _cleanup_free_ char *ref = image("team/bbdocker:v1");
    struct kk_registry_pull_result res = {0};

    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, NULL, &res, &err), &err);
    bool docker = res.media_type && strcmp(res.media_type, KK_MT_DOCKER_MANIF) == 0;
    size_t fetched = res.blobs_fetched;
    kk_registry_pull_result_clear(&res);
    KT_ASSERT_MSG(docker, "target is not a Docker schema 2 manifest");
    KT_ASSERT_EQ(fetched, 3);
    check_pulled(ns, ref);
}

/* zstd layers pass through to containerd's differ unchanged. */
KT_CASE(zstd_layers)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("zstd");
    _cleanup_free_ char *ref = image("bbzstd:latest");
    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, NULL, NULL, &err), &err);
    struct kk_image_info info;
    KT_ASSERT_OK(kk_image_resolve(ctd, ns, ref, &info, &err), &err);
    bool zstd = info.n_layers == 3 && strstr(info.layers[0].media_type, "+zstd");
    kk_image_info_clear(&info);
    KT_ASSERT_MSG(zstd, "layers are not zstd");
    check_pulled(ns, ref);
}

KT_CASE(multi_platform_index)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("multi");
    _cleanup_free_ char *ref = image("multi:latest");
    _cleanup_free_ char *idx = index_digest("index");
    _cleanup_free_ char *native = index_digest("native");
    _cleanup_free_ char *arm = index_digest("arm");
    struct kk_registry_pull_result res = {0};

    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, NULL, &res, &err), &err);
    bool target_ok = res.digest && strcmp(res.digest, idx) == 0 &&
                     strcmp(res.media_type, KK_MT_OCI_INDEX) == 0;
    bool manifest_ok = res.manifest_digest && strcmp(res.manifest_digest, native) == 0;
    kk_registry_pull_result_clear(&res);
    KT_ASSERT_MSG(target_ok, "image record does not target the index %s", idx);
    KT_ASSERT_MSG(manifest_ok, "wrong manifest: wanted %s", native);
    check_pulled(ns, ref);
    if (kt_failed())
        return;
    /* the index holds its manifest for the collector */
    struct kk_ctd_content_info ci = {0};
    KT_ASSERT_OK(kk_ctd_content_info(ctd, ns, idx, &ci, &err), &err);
    const char *m0 = kk_image_label(ci.labels, KK_LABEL_GC_MANIFEST "0");
    bool m0_ok = m0 && strcmp(m0, native) == 0;
    kk_ctd_content_info_clear(&ci);
    KT_ASSERT(m0_ok);

    /* Another platform: arm/v7 is chosen for arm (no variant = v7), and a
     * platform the index lacks is a clear NotFound. */
    _cleanup_free_ char *ns2 = ns_name("multi-arm");
    struct kk_registry_pull_opts o = {.platform = {.architecture = "arm"}, .no_unpack = true};
    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns2, ref, &o, &res, &err), &err);
    bool arm_ok = res.manifest_digest && strcmp(res.manifest_digest, arm) == 0;
    kk_registry_pull_result_clear(&res);
    KT_ASSERT_MSG(arm_ok, "arm: wrong manifest, wanted %s", arm);
    o.platform.architecture = "s390x";
    KT_ASSERT(kk_registry_pull(r, ctd, ns2, ref, &o, &res, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    KT_ASSERT_MSG(strstr(err->message, "no manifest for linux/s390x"), "%s", err->message);
    KT_ASSERT_STREQ(err->reason, "ImagePullFailed");
}

KT_CASE(pull_by_digest)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("digest");
    _cleanup_free_ char *native = index_digest("native");
    _cleanup_free_ char *ref = kk_xasprintf("%s/busybox@%s", reg->addr, native);
    struct kk_registry_pull_result res = {0};

    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, NULL, &res, &err), &err);
    bool ok = res.name && strcmp(res.name, ref) == 0 && strcmp(res.digest, native) == 0;
    kk_registry_pull_result_clear(&res);
    KT_ASSERT_MSG(ok, "record for %s", ref);
    check_pulled(ns, ref);
    if (kt_failed())
        return;

    /* a digest the repository does not have */
    _cleanup_free_ char *bad = kk_xasprintf("%s/busybox@sha256:%064d", reg->addr, 0);
    KT_ASSERT(kk_registry_pull(r, ctd, ns, bad, NULL, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    KT_ASSERT_STREQ(err->reason, "ImagePullFailed");
}

KT_CASE(unknown_tag_and_repository)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("unknown");
    _cleanup_free_ char *ref = image("busybox:nope");
    KT_ASSERT(kk_registry_pull(r, ctd, ns, ref, NULL, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    KT_ASSERT_STREQ(err->reason, "ImagePullFailed");
    KT_ASSERT_MSG(strstr(err->message, "manifest unknown"), "%s", err->message);
    kk_error_freep(&err);
    _cleanup_free_ char *ref2 = image("nothere/at-all:latest");
    KT_ASSERT(kk_registry_pull(r, ctd, ns, ref2, NULL, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    KT_ASSERT_MSG(strstr(err->message, "unknown"), "%s", err->message);
    kk_error_freep(&err);
    /* plain HTTP to a host not marked insecure: HTTPS is tried and fails */
    _cleanup_(kk_registry_freep) struct kk_registry *strict = NULL;
    KT_ASSERT_OK(kk_registry_new(NULL, &strict, &err), &err);
    KT_ASSERT(kk_registry_pull(strict, ctd, ns, ref, NULL, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAVAILABLE);
    KT_ASSERT_MSG(strstr(err->message, "https://"), "%s", err->message);
}

/* A layer corrupted in the registry's storage: DataLoss naming the digest,
 * and nothing of the pull is left in containerd. */
KT_CASE(corrupted_blob_leaves_nothing)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    _cleanup_free_ char *copy = kk_xasprintf("%s/corrupt-data", reg->dir);
    /* a copy of the storage with a byte flipped in each large layer */
    KT_ASSERT_MSG(kt_sh(&out,
                        "set -e; rm -rf %s; cp -a %s %s; "
                        "for f in $(find %s/docker/registry/v2/blobs -name data -size +100k); do "
                        "/usr/bin/python3 -c 'import sys; f=open(sys.argv[1],\"r+b\"); "
                        "f.seek(1000); b=f.read(1); f.seek(1000); f.write(bytes([b[0]^0xff]))' $f; "
                        "done",
                        copy, reg->storage, copy, copy) == 0,
                  "%s", kk_buf_str(&out));
    struct kt_registry *bad = NULL;
    KT_ASSERT_OK(kt_registry_start(copy, NULL, NULL, &bad, &err), &err);
    _cleanup_free_ char *text =
            kk_xasprintf("registries:\n  - host: %s\n    insecure: true\n", bad->addr);
    struct kk_registry_config cfg = {0};
    struct kk_registry *r = NULL;
    int rc = kk_registry_config_parse("t", text, strlen(text), &cfg, &err);
    if (rc == 0)
        rc = kk_registry_new(&cfg, &r, &err);
    kk_registry_config_clear(&cfg);
    _cleanup_free_ char *ns = ns_name("corrupt");
    _cleanup_free_ char *ref = kk_xasprintf("%s/busybox:latest", bad->addr);
    int pr = rc == 0 ? kk_registry_pull(r, ctd, ns, ref, NULL, NULL, &err) : 0;
    kk_registry_free(r);
    kt_registry_stop(bad);
    KT_ASSERT_OK(rc, &err);
    KT_ASSERT(pr < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_DATA_LOSS);
    KT_ASSERT_MSG(strstr(err->message, "digest mismatch"), "%s", err->message);
    KT_ASSERT_STREQ(err->reason, "ImagePullFailed");
    kk_error_freep(&err);

    /* nothing left: no blob, no image, no lease, no ingest */
    _cleanup_strv_ char **blobs = NULL, **leases = NULL;
    KT_ASSERT_OK(kk_ctd_content_list(ctd, ns, &blobs, &err), &err);
    KT_ASSERT_MSG(!blobs || !blobs[0], "blob %s left behind", blobs[0]);
    KT_ASSERT_OK(kk_ctd_lease_list(ctd, ns, &leases, &err), &err);
    KT_ASSERT_MSG(!leases || !leases[0], "lease %s left", leases[0]);
    struct kk_ctd_image *imgs = NULL;
    size_t n = 0;
    KT_ASSERT_OK(kk_ctd_image_list(ctd, ns, NULL, &imgs, &n, &err), &err);
    kk_ctd_image_list_free(imgs, n);
    KT_ASSERT_EQ(n, 0);
    kk_buf_reset(&out);
    KT_ASSERT_EQ(kt_sh(&out, "ctr -a %s -n %s content active", fixture->address, ns), 0);
    KT_ASSERT_MSG(!strstr(kk_buf_str(&out), "kukeon"), "ingest left: %s", out.data);
}

KT_CASE(mirrors_in_order)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    int dead = kt_free_port();
    /* registry.kukeon.invalid does not resolve: only its mirrors can serve */
    _cleanup_free_ char *yaml = kk_xasprintf("  - host: registry.kukeon.invalid\n"
                                             "    mirrors:\n"
                                             "      - http://127.0.0.1:%d\n"
                                             "      - http://%s\n",
                                             dead, reg->addr);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(yaml);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("mirror");
    const char *ref = "registry.kukeon.invalid/busybox:latest";
    struct kk_registry_pull_result res = {0};
    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, NULL, &res, &err), &err);
    _cleanup_free_ char *want = kk_xasprintf("http://%s", reg->addr);
    bool from_second = res.endpoint && strcmp(res.endpoint, want) == 0;
    kk_registry_pull_result_clear(&res);
    KT_ASSERT_MSG(from_second, "not pulled from the second mirror");
    check_pulled(ns, ref);
    if (kt_failed())
        return;

    /* the tag nowhere: the error names the last endpoint tried */
    KT_ASSERT(kk_registry_pull(r, ctd, ns, "registry.kukeon.invalid/busybox:nope", NULL, NULL,
                               &err) < 0);
    KT_ASSERT_MSG(strstr(err->message, "registry.kukeon.invalid"), "%s", err->message);
}

KT_CASE(pull_policies)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("policy");
    _cleanup_free_ char *ref = image("busybox:latest");
    bool pulled = true;

    KT_ASSERT(kk_registry_ensure_image(r, ctd, ns, ref, KK_PULL_NEVER, NULL, &pulled, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    KT_ASSERT_STREQ(err->reason, "ImagePullFailed");
    KT_ASSERT(!pulled);
    kk_error_freep(&err);
    KT_ASSERT_OK(
            kk_registry_ensure_image(r, ctd, ns, ref, KK_PULL_IF_NOT_PRESENT, NULL, &pulled, &err),
            &err);
    KT_ASSERT(pulled);
    KT_ASSERT_OK(
            kk_registry_ensure_image(r, ctd, ns, ref, KK_PULL_IF_NOT_PRESENT, NULL, &pulled, &err),
            &err);
    KT_ASSERT(!pulled);
    KT_ASSERT_OK(kk_registry_ensure_image(r, ctd, ns, ref, KK_PULL_NEVER, NULL, &pulled, &err),
                 &err);
    KT_ASSERT(!pulled);
    KT_ASSERT_OK(
            kk_registry_real_ops.ensure_image(r, ctd, ns, ref, KK_PULL_ALWAYS, NULL, &pulled, &err),
            &err);
    KT_ASSERT(pulled);
    check_pulled(ns, ref);
}

struct concurrent {
    struct kk_registry *r;
    const char *ns, *ref;
    struct kk_registry_pull_result res;
    int rc;
    char *why;
};

static void *pull_thread(void *arg)
{
    struct concurrent *x = arg;
    kk_error *err = NULL;
    x->rc = kk_registry_pull(x->r, ctd, x->ns, x->ref, NULL, &x->res, &err);
    if (err)
        x->why = kk_xstrdup(err->message);
    kk_error_free(err);
    return NULL;
}

/* Two cells starting with the same image at once: one download. */
KT_CASE(concurrent_pulls_download_once)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_(kk_registry_freep) struct kk_registry *r = client(NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("concurrent");
    _cleanup_free_ char *ref = image("busybox:latest");
    struct concurrent x[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        x[i] = (struct concurrent){.r = r, .ns = ns, .ref = ref};
        KT_ASSERT(pthread_create(&t[i], NULL, pull_thread, &x[i]) == 0);
    }
    size_t fetched = 0, ok = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        if (x[i].rc == 0)
            ok++;
        else
            kt_fail(__FILE__, __LINE__, "pull %d: %s", i, x[i].why);
        fetched += x[i].res.blobs_fetched;
        kk_registry_pull_result_clear(&x[i].res);
        free(x[i].why);
    }
    KT_ASSERT_EQ(ok, 3);
    KT_ASSERT_EQ(fetched, 4);
    check_pulled(ns, ref);
}

/* ---- authentication and TLS ---------------------------------------------- */

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *p = kk_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "we");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

static struct kk_registry *client_for(const char *host, const char *ca, bool insecure,
                                      const char *auth_file)
{
    _cleanup_free_ char *text = kk_xasprintf(
            "authFile: %s\nregistries:\n  - host: %s\n    insecure: %s\n%s%s%s",
            auth_file ? auth_file : "/nonexistent/auth.json", host, insecure ? "true" : "false",
            ca ? "    caFile: " : "", ca ? ca : "", ca ? "\n" : "");
    struct kk_registry_config cfg = {0};
    struct kk_registry *r = NULL;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_registry_config_parse("t", text, strlen(text), &cfg, &err) < 0 ||
        kk_registry_new(&cfg, &r, &err) < 0)
        kt_fail(__FILE__, __LINE__, "client: %s", err->message);
    kk_registry_config_clear(&cfg);
    return r;
}

static struct kt_registry *auth_reg;
static void stop_auth_reg(void)
{
    kt_registry_stop(auth_reg);
    auth_reg = NULL;
}

/* htpasswd Basic auth behind TLS with a test CA: success only with the
 * right credentials (realm or auth file) and the CA. */
KT_CASE(basic_auth_over_tls)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    _cleanup_free_ char *dir = kk_xasprintf("%s/basic", reg->dir);
    _cleanup_free_ char *src = src_dir();
    KT_ASSERT_MSG(kt_sh(&out,
                        "set -e; mkdir -p %s; %s/contrib/registry-test/gen-certs.sh %s/certs; "
                        "htpasswd -Bbn kuke s3cret >%s/htpasswd",
                        dir, src, dir, dir) == 0,
                  "%s", kk_buf_str(&out));
    _cleanup_free_ char *extra = kk_xasprintf(
            "auth:\n  htpasswd:\n    realm: kukeon-test\n    path: %s/htpasswd\n", dir);
    _cleanup_free_ char *certs = kk_xasprintf("%s/certs", dir);
    _cleanup_free_ char *ca = kk_xasprintf("%s/certs/ca.pem", dir);
    kt_atexit(stop_auth_reg);
    KT_ASSERT_OK(kt_registry_start(reg->storage, extra, certs, &auth_reg, &err), &err);
    _cleanup_free_ char *ref = kk_xasprintf("%s/busybox:latest", auth_reg->addr);
    _cleanup_free_ char *ns = ns_name("basic");
    struct kk_registry_pull_result res = {0};

    /* no credentials */
    _cleanup_(kk_registry_freep) struct kk_registry *r =
            client_for(auth_reg->addr, ca, false, NULL);
    KT_ASSERT(r);
    KT_ASSERT(kk_registry_pull(r, ctd, ns, ref, NULL, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAUTHENTICATED);
    KT_ASSERT_MSG(strstr(err->message, "no credentials"), "%s", err->message);
    KT_ASSERT_STREQ(err->reason, "ImagePullFailed");
    kk_error_freep(&err);

    /* a wrong password (from a passwordFile), and a credential for
     * another registry (not sent: anonymous) */
    _cleanup_free_ char *pwfile = write_file(dir, "wrong", "nope\n");
    struct kk_registry_credential creds[] = {
            {.username = "kuke", .password_file = pwfile, .server_address = auth_reg->addr},
    };
    struct kk_registry_pull_opts o = {.credentials = creds, .n_credentials = 1};
    KT_ASSERT(kk_registry_pull(r, ctd, ns, ref, &o, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAUTHENTICATED);
    KT_ASSERT_MSG(strstr(err->message, "refused"), "%s", err->message);
    kk_error_freep(&err);
    creds[0] = (struct kk_registry_credential){
            .username = "kuke", .password = "s3cret", .server_address = "other.example.com"};
    KT_ASSERT(kk_registry_pull(r, ctd, ns, ref, &o, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAUTHENTICATED);
    kk_error_freep(&err);

    /* the realm's credential (https:// prefix and all) */
    _cleanup_free_ char *server = kk_xasprintf("https://%s/", auth_reg->addr);
    _cleanup_free_ char *goodfile = write_file(dir, "good", "s3cret\n");
    creds[0] = (struct kk_registry_credential){
            .username = "kuke", .password_file = goodfile, .server_address = server};
    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, &o, &res, &err), &err);
    bool https = res.endpoint && strncmp(res.endpoint, "https://", 8) == 0;
    kk_registry_pull_result_clear(&res);
    KT_ASSERT(https);
    check_pulled(ns, ref);
    if (kt_failed())
        return;

    /* the auth file instead: {"auths": {"host": {"auth": base64}}} */
    kk_buf_reset(&out);
    KT_ASSERT_EQ(kt_sh(&out, "printf kuke:s3cret | base64 -w0"), 0);
    _cleanup_free_ char *json =
            kk_xasprintf("{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", auth_reg->addr, out.data);
    _cleanup_free_ char *authfile = write_file(dir, "auth.json", json);
    _cleanup_(kk_registry_freep) struct kk_registry *r2 =
            client_for(auth_reg->addr, ca, false, authfile);
    KT_ASSERT(r2);
    _cleanup_free_ char *ns2 = ns_name("authfile");
    KT_ASSERT_OK(kk_registry_pull(r2, ctd, ns2, ref, NULL, NULL, &err), &err);
    check_pulled(ns2, ref);
    if (kt_failed())
        return;

    /* without the CA: the certificate is not trusted */
    _cleanup_(kk_registry_freep) struct kk_registry *r3 =
            client_for(auth_reg->addr, NULL, false, authfile);
    KT_ASSERT(r3);
    KT_ASSERT(kk_registry_pull(r3, ctd, ns2, ref, NULL, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAVAILABLE);
    KT_ASSERT_MSG(strstr(err->message, "certificate"), "%s", err->message);
    stop_auth_reg();
}

static pid_t issuer_pid;
static void stop_issuer(void)
{
    if (issuer_pid > 0) {
        kill(issuer_pid, SIGTERM);
        waitpid(issuer_pid, NULL, 0);
    }
    issuer_pid = 0;
}

static int start_issuer(const char *dir, int *port, kk_error **err)
{
    _cleanup_free_ char *src = src_dir();
    _cleanup_free_ char *script = kk_xasprintf("%s/contrib/registry-test/token-issuer.py", src);
    _cleanup_free_ char *portfile = kk_xasprintf("%s/port", dir);
    pid_t pid = fork();
    if (pid < 0)
        return kk_error_errno(err, "fork");
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", script, "--dir", dir, "--user", "kuke", "--password",
              "tokpass", (char *)NULL);
        _exit(127);
    }
    issuer_pid = pid;
    kt_atexit(stop_issuer);
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "re");
        if (f) {
            int ok = fscanf(f, "%d", port);
            fclose(f);
            if (ok == 1)
                return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            issuer_pid = 0;
            break;
        }
        usleep(50 * 1000);
    }
    return kk_error_set(err, KK_E_UNAVAILABLE, "token issuer did not start");
}

static int count_lines(const char *path)
{
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    if (kt_sh(&out, "wc -l <%s", path) != 0)
        return -1;
    return atoi(out.data);
}

/* The Bearer flow: the registry (auth: token) sends clients to a token
 * issuer the test runs; tokens are cached across requests and pulls. */
KT_CASE(bearer_token_flow)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *dir = kk_xasprintf("%s/token", reg->dir);
    KT_ASSERT_EQ(kt_sh(NULL, "mkdir -p %s", dir), 0);
    int tport = 0;
    KT_ASSERT_OK(start_issuer(dir, &tport, &err), &err);
    _cleanup_free_ char *extra =
            kk_xasprintf("auth:\n  token:\n    realm: http://127.0.0.1:%d/token\n"
                         "    service: kukeon-test-registry\n    issuer: kukeon-test-issuer\n"
                         "    rootcertbundle: %s/token.pem\n",
                         tport, dir);
    kt_atexit(stop_auth_reg);
    KT_ASSERT_OK(kt_registry_start(reg->storage, extra, NULL, &auth_reg, &err), &err);
    _cleanup_free_ char *ref = kk_xasprintf("%s/busybox:latest", auth_reg->addr);
    _cleanup_free_ char *requests = kk_xasprintf("%s/requests", dir);
    _cleanup_(kk_registry_freep) struct kk_registry *r =
            client_for(auth_reg->addr, NULL, true, NULL);
    KT_ASSERT(r);
    _cleanup_free_ char *ns = ns_name("bearer");

    /* anonymous and a wrong password: the issuer says no */
    KT_ASSERT(kk_registry_pull(r, ctd, ns, ref, NULL, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAUTHENTICATED);
    kk_error_freep(&err);
    struct kk_registry_credential cred = {.username = "kuke", .password = "wrong"};
    struct kk_registry_pull_opts o = {.credentials = &cred, .n_credentials = 1};
    KT_ASSERT(kk_registry_pull(r, ctd, ns, ref, &o, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAUTHENTICATED);
    KT_ASSERT_MSG(strstr(err->message, "invalid username or password"), "%s", err->message);
    KT_ASSERT_STREQ(err->reason, "ImagePullFailed");
    kk_error_freep(&err);
    int before = count_lines(requests);

    /* the right one (a realm credential without serverAddress applies to
     * any registry) */
    cred.password = "tokpass";
    struct kk_registry_pull_result res = {0};
    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns, ref, &o, &res, &err), &err);
    size_t fetched = res.blobs_fetched;
    kk_registry_pull_result_clear(&res);
    KT_ASSERT_EQ(fetched, 4);
    check_pulled(ns, ref);
    if (kt_failed())
        return;
    /* one token for the whole pull (HEAD, GET, 4 blobs), and the cached
     * one for a second pull */
    _cleanup_free_ char *ns2 = ns_name("bearer2");
    KT_ASSERT_OK(kk_registry_pull(r, ctd, ns2, ref, &o, NULL, &err), &err);
    KT_ASSERT_EQ(count_lines(requests) - before, 1);
    stop_auth_reg();
    stop_issuer();
}

static char *kuke_path(void)
{
    const char *bin = getenv("KUKEON_BIN");
    if (bin)
        return kk_xasprintf("%s/kuke", bin);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return kk_xstrdup("kuke");
    self[n] = 0;
    /* BUILD/tests/integration/test-registry -> BUILD/bin/kuke */
    char *slash = strrchr(self, '/');
    *slash = 0;
    return kk_xasprintf("%s/../../bin/kuke", self);
}

/* `kuke image pull`: the realm's credentials from its spec in the state
 * tree, registries.yaml, quiet off a terminal, progress on one. */
KT_CASE(kuke_image_pull_cli)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *kuke = kuke_path();
    KT_ASSERT_MSG(access(kuke, X_OK) == 0, "%s not built", kuke);
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    _cleanup_free_ char *dir = kk_xasprintf("%s/cli", reg->dir);
    KT_ASSERT_EQ(
            kt_sh(&out, "mkdir -p %s/state && htpasswd -Bbn kuke clipass >%s/htpasswd", dir, dir),
            0);
    _cleanup_free_ char *extra = kk_xasprintf(
            "auth:\n  htpasswd:\n    realm: kukeon-test\n    path: %s/htpasswd\n", dir);
    kt_atexit(stop_auth_reg);
    KT_ASSERT_OK(kt_registry_start(reg->storage, extra, NULL, &auth_reg, &err), &err);
    _cleanup_free_ char *realm = kk_xasprintf("kkreg%d", (int)getpid());
    _cleanup_free_ char *yaml = kk_xasprintf("authFile: /nonexistent/auth.json\n"
                                             "registries:\n  - host: %s\n    insecure: true\n",
                                             auth_reg->addr);
    _cleanup_free_ char *cfg = write_file(dir, "registries.yaml", yaml);
    _cleanup_free_ char *common =
            kk_xasprintf("%s image pull -r %s -a %s --state %s/state --registries-config %s", kuke,
                         realm, fixture->address, dir, cfg);
    _cleanup_free_ char *ref = kk_xasprintf("%s/busybox:latest", auth_reg->addr);

    /* no realm spec: anonymous, refused */
    KT_ASSERT_EQ(kt_sh(&out, "%s %s </dev/null", common, ref), 1);
    KT_ASSERT_MSG(strstr(out.data, "authentication required"), "%s", out.data);

    /* the realm's spec names the credentials */
    _cleanup_free_ char *rdir = kk_xasprintf("%s/state/%s", dir, realm);
    _cleanup_free_ char *spec = kk_xasprintf("apiVersion: v1beta1\nkind: Realm\nmetadata:\n"
                                             "  name: %s\nspec:\n  registryCredentials:\n"
                                             "    - username: kuke\n      password: clipass\n"
                                             "      serverAddress: %s\n",
                                             realm, auth_reg->addr);
    KT_ASSERT_EQ(kt_sh(NULL, "mkdir -p %s", rdir), 0);
    free(write_file(rdir, "realm.yaml", spec));
    kk_buf_reset(&out);
    KT_ASSERT_EQ(kt_sh(&out, "%s %s 2>/dev/null", common, ref), 0);
    _cleanup_free_ char *want = kk_xasprintf("pulled %s (sha256:", ref);
    KT_ASSERT_MSG(strstr(out.data, want) && strstr(out.data, "into kukeon-"), "%s", out.data);
    KT_ASSERT_MSG(!strchr(out.data, '\r'), "progress off a terminal: %s", out.data);
    kk_buf_reset(&out);
    KT_ASSERT_EQ(kt_sh(&out, "ctr -a %s -n kukeon-%s images check", fixture->address, realm), 0);
    KT_ASSERT_MSG(strstr(out.data, "complete") && strstr(out.data, " true"), "%s", out.data);

    /* on a terminal: progress and the summary */
    kk_buf_reset(&out);
    KT_ASSERT_EQ(kt_sh(&out, "script -qec '%s -n kkreg-cli-%d %s' /dev/null", common, (int)getpid(),
                       ref),
                 0);
    KT_ASSERT_MSG(strstr(out.data, "fetching 4/4 blobs") && strstr(out.data, "4 blobs fetched"),
                  "%s", out.data);

    /* usage errors and an unknown tag */
    KT_ASSERT_EQ(kt_sh(NULL, "%s", common), 2);
    KT_ASSERT_EQ(kt_sh(NULL, "%s --platform linux %s", common, ref), 2);
    kk_buf_reset(&out);
    KT_ASSERT_EQ(kt_sh(&out, "%s -q %s/busybox:nope", common, auth_reg->addr), 1);
    KT_ASSERT_MSG(strstr(out.data, "manifest unknown"), "%s", out.data);
    stop_auth_reg();
}
