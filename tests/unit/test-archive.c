/* Unit tests: the tar reader and the archive → import plan step, on archives
 * built by GNU tar and contrib/mkimage/mkimage.sh (no root, no containerd). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsapi/buf.h"
#include "fsapi/json.h"
#include "runtime/image/archive.h"
#include "runtime/image/tar.h"
#include "tests/lib/kktest.h"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *cmd = NULL;
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    return system(cmd);
}

static const char *src_dir(void)
{
    const char *s = getenv("KUKEON_SRC");
    return s ? s : ".";
}

static int slurp(const char *path, struct kk_buf *b)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    return kk_buf_read_fd(b, fd, 1u << 30);
}

/* ---- tar ------------------------------------------------------------------ */

KT_CASE(tar_formats)
{
    const char *d = kt_tmpdir();
    _cleanup_free_ char *longdir = kk_xmalloc(300);
    /* Two components, so that ustar can split it into prefix + name. */
    memset(longdir, 'd', 121);
    longdir[60] = '/';
    longdir[121] = 0;
    static const char *const formats[] = {"gnu", "ustar", "posix", "v7"};
    for (size_t f = 0; f < KK_ARRAY_SIZE(formats); f++) {
        KT_ASSERT_EQ(sh("set -e; cd %s; rm -rf in a.tar; mkdir -p in/%s in/sub; "
                        "printf hello > in/%s/file.txt; printf '' > in/sub/empty; "
                        "ln -s ../sub/empty in/sub/link; "
                        "tar --format=%s -C in -cf a.tar $(cd in && ls -A) 2>/dev/null || "
                        "tar --format=%s -C in -cf a.tar sub",
                        d, longdir, longdir, formats[f], formats[f]),
                     0);
        _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
        _cleanup_free_ char *p = kk_xasprintf("%s/a.tar", d);
        KT_ASSERT_EQ(slurp(p, &b), 0);
        struct kk_tar t;
        struct kk_tar_entry e;
        _cleanup_error_ kk_error *err = NULL;
        int r, found_file = 0, found_link = 0, found_empty = 0;
        kk_tar_init(&t, b.data, b.len);
        _cleanup_free_ char *want = kk_xasprintf("%s/file.txt", longdir);
        while ((r = kk_tar_next(&t, &e, &err)) > 0) {
            KT_ASSERT(e.name[0] != '/' && strncmp(e.name, "./", 2) != 0);
            if (strcmp(e.name, want) == 0) {
                KT_ASSERT_EQ(e.type, KK_TAR_REG);
                KT_ASSERT_EQ(e.size, 5);
                KT_ASSERT(memcmp(e.data, "hello", 5) == 0);
                found_file = 1;
            } else if (strcmp(e.name, "sub/link") == 0) {
                KT_ASSERT_EQ(e.type, KK_TAR_SYMLINK);
                KT_ASSERT_STREQ(e.linkname, "../sub/empty");
                found_link = 1;
            } else if (strcmp(e.name, "sub/empty") == 0) {
                KT_ASSERT_EQ(e.size, 0);
                found_empty = 1;
            }
        }
        KT_ASSERT_MSG(r == 0, "format %s: %s", formats[f], err ? err->message : "?");
        KT_ASSERT(found_link && found_empty);
        /* v7 cannot store a 130-byte name: only the others must have it. */
        KT_ASSERT_MSG(found_file || strcmp(formats[f], "v7") == 0, "format %s: long name lost",
                      formats[f]);
    }
}

static int parse_all(const void *data, size_t len, kk_error **err)
{
    struct kk_tar t;
    struct kk_tar_entry e;
    int r;
    kk_tar_init(&t, data, len);
    while ((r = kk_tar_next(&t, &e, err)) > 0)
        ;
    return r;
}

KT_CASE(tar_hostile)
{
    const char *d = kt_tmpdir();
    KT_ASSERT_EQ(sh("set -e; cd %s; mkdir in; head -c 3000 /dev/zero | tr '\\0' x > in/f; "
                    "tar --format=gnu -C in -cf a.tar f",
                    d),
                 0);
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    _cleanup_free_ char *p = kk_xasprintf("%s/a.tar", d);
    KT_ASSERT_EQ(slurp(p, &b), 0);
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(parse_all(b.data, b.len, &err), &err);

    /* Truncated inside the data. */
    KT_ASSERT(parse_all(b.data, 512 + 1000, &err) < 0);
    KT_ASSERT(strstr(err->message, "larger than the archive"));
    kk_error_freep(&err);
    /* Truncated inside a header. */
    KT_ASSERT(parse_all(b.data, 100, &err) < 0);
    kk_error_freep(&err);

    /* A corrupted header byte fails the checksum. */
    _cleanup_free_ char *copy = kk_xmalloc(b.len);
    memcpy(copy, b.data, b.len);
    copy[0] ^= 1;
    KT_ASSERT(parse_all(copy, b.len, &err) < 0);
    KT_ASSERT(strstr(err->message, "checksum"));
    kk_error_freep(&err);

    /* A huge size with a fixed-up checksum is refused, not followed. */
    memcpy(copy, b.data, b.len);
    memcpy(copy + 124, "77777777777", 11);
    unsigned sum = 0;
    memset(copy + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)copy[i];
    snprintf(copy + 148, 8, "%06o", sum);
    KT_ASSERT(parse_all(copy, b.len, &err) < 0);
    KT_ASSERT(strstr(err->message, "larger than the archive"));
    kk_error_freep(&err);

    /* Names: ".." is reported as unsafe. */
    KT_ASSERT(!kk_tar_name_safe("../etc/passwd"));
    KT_ASSERT(!kk_tar_name_safe("a/../../b"));
    KT_ASSERT(!kk_tar_name_safe(""));
    KT_ASSERT(kk_tar_name_safe("a/..b/c"));
    KT_ASSERT(kk_tar_name_safe("blobs/sha256/abc"));
}

/* ---- digests ---------------------------------------------------------------- */

KT_CASE(chain_ids)
{
    char a[72] = "sha256:", b[72] = "sha256:", c[72] = "sha256:";
    memset(a + 7, 'a', 64);
    memset(b + 7, 'b', 64);
    memset(c + 7, 'c', 64);
    a[71] = b[71] = c[71] = 0;
    char *diff[] = {a, b, c, NULL};
    _cleanup_strv_ char **chain = kk_image_chain_ids(diff, 3);
    KT_ASSERT_STREQ(chain[0], a);
    KT_ASSERT_STREQ(chain[1],
                    "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
    KT_ASSERT_STREQ(chain[2],
                    "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588");
    KT_ASSERT(chain[3] == NULL);

    char d[72];
    kk_image_sha256("", 0, d);
    KT_ASSERT_STREQ(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    KT_ASSERT(kk_image_digest_valid(d));
    KT_ASSERT(!kk_image_digest_valid("sha256:E3B0"));
    KT_ASSERT(!kk_image_digest_valid("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca49599"
                                     "1b7852b855"));
}

/* ---- archives ------------------------------------------------------------------ */

static int mkimage(const char *out, const char *format, int layers, bool gzip)
{
    return sh("%s/contrib/mkimage/mkimage.sh --format %s --layers %d %s -o %s", src_dir(), format,
              layers, gzip ? "--gzip" : "", out);
}

static void check_plan(const struct kk_image_archive *a, int layers, bool gzip, bool docker)
{
    KT_ASSERT_EQ(a->format, docker ? KK_IMAGE_FORMAT_DOCKER : KK_IMAGE_FORMAT_OCI);
    KT_ASSERT_EQ(a->n_manifests, 1);
    KT_ASSERT_EQ(a->n_images, 1);
    KT_ASSERT_STREQ(a->images[0].name, "docker.io/library/busybox:latest");
    const struct kk_image_manifest *m = &a->manifests[0];
    KT_ASSERT_EQ(m->n_layers, layers);
    /* layers + config + manifest + index */
    KT_ASSERT_EQ(a->n_blobs, (size_t)layers + 3);

    /* Children before parents, each digest once, content matches digest. */
    for (size_t i = 0; i < a->n_blobs; i++) {
        const struct kk_image_blob *b = &a->blobs[i];
        KT_ASSERT(kk_image_digest_valid(b->digest));
        if (b->kind != KK_BLOB_LAYER || docker) {
            char d[72];
            kk_image_sha256(b->data, b->size, d);
            KT_ASSERT_STREQ(d, b->digest);
        }
        for (size_t j = 0; j < i; j++)
            KT_ASSERT(strcmp(a->blobs[j].digest, b->digest) != 0);
        for (size_t k = 0; b->labels && b->labels[k]; k += 2) {
            bool earlier = false;
            for (size_t j = 0; j < i; j++)
                earlier |= strcmp(a->blobs[j].digest, b->labels[k + 1]) == 0;
            KT_ASSERT_MSG(earlier, "%s labels %s before it is written", b->digest,
                          b->labels[k + 1]);
        }
    }
    const struct kk_image_blob *man = &a->blobs[m->blob];
    KT_ASSERT_EQ(man->kind, KK_BLOB_MANIFEST);
    KT_ASSERT_STREQ(man->media_type, docker ? KK_MT_DOCKER_MANIF : KK_MT_OCI_MANIFEST);
    KT_ASSERT_STREQ(kk_image_label(man->labels, KK_LABEL_GC_CONFIG), a->blobs[m->config].digest);
    for (size_t i = 0; i < m->n_layers; i++) {
        char key[64];
        snprintf(key, sizeof(key), KK_LABEL_GC_LAYER "%zu", i);
        const struct kk_image_blob *l = &a->blobs[m->layers[i]];
        KT_ASSERT_STREQ(kk_image_label(man->labels, key), l->digest);
        const char *want = docker ? (gzip ? KK_MT_DOCKER_LAYER_GZ : KK_MT_DOCKER_LAYER)
                                  : (gzip ? KK_MT_OCI_LAYER_GZ : KK_MT_OCI_LAYER);
        KT_ASSERT_STREQ(l->media_type, want);
        KT_ASSERT(kk_image_digest_valid(m->diff_ids[i]));
        if (!gzip)
            KT_ASSERT_STREQ(m->diff_ids[i], l->digest);
        else
            KT_ASSERT(strcmp(m->diff_ids[i], l->digest) != 0);
    }
    const struct kk_image_blob *idx = &a->blobs[a->n_blobs - 1];
    KT_ASSERT_EQ(idx->kind, KK_BLOB_INDEX);
    KT_ASSERT_STREQ(kk_image_label(idx->labels, KK_LABEL_GC_MANIFEST "0"), man->digest);

    /* The synthesized Docker manifest is valid JSON naming what we write. */
    if (docker) {
        _cleanup_json_ struct kk_json *j = NULL;
        _cleanup_error_ kk_error *err = NULL;
        KT_ASSERT_OK(kk_json_parse((const char *)man->data, man->size, &j, &err), &err);
        KT_ASSERT_STREQ(kk_json_str(kk_json_get(kk_json_get(j, "config"), "digest")),
                        a->blobs[m->config].digest);
        KT_ASSERT_EQ(kk_json_len(kk_json_get(j, "layers")), layers);
        /* Compact, key order as Go's encoding/json: same digest as ctr's. */
        KT_ASSERT(strncmp((const char *)man->data, "{\"schemaVersion\":2,\"mediaType\":", 31) == 0);
    }
}

KT_CASE(archive_plans)
{
    static const char *const formats[] = {"oci", "docker"};
    for (int f = 0; f < 2; f++)
        for (int layers = 1; layers <= 3; layers++)
            for (int gz = 0; gz <= 1; gz++) {
                _cleanup_free_ char *p =
                        kk_xasprintf("%s/%s-%d-%d.tar", kt_tmpdir(), formats[f], layers, gz);
                KT_ASSERT_EQ(mkimage(p, formats[f], layers, gz), 0);
                _cleanup_(kk_image_archive_freep) struct kk_image_archive *a = NULL;
                _cleanup_error_ kk_error *err = NULL;
                KT_ASSERT_OK(kk_image_archive_open(p, NULL, &a, &err), &err);
                check_plan(a, layers, gz, f == 1);
                if (kt_failed()) {
                    kt_fail(__FILE__, __LINE__, "in %s", p);
                    return;
                }
            }
}

KT_CASE(archive_platform_and_names)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/oci.tar", kt_tmpdir());
    KT_ASSERT_EQ(sh("%s/contrib/mkimage/mkimage.sh --format oci --name registry.local:5000/t/bb:v1 "
                    "-o %s",
                    src_dir(), p),
                 0);
    _cleanup_(kk_image_archive_freep) struct kk_image_archive *a = NULL;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(kk_image_archive_open(p, NULL, &a, &err), &err);
    KT_ASSERT_STREQ(a->images[0].name, "registry.local:5000/t/bb:v1");
    kk_image_archive_freep(&a);

    /* Another platform: nothing to import. */
    struct kk_image_archive_opts o = {.architecture = "s390x"};
    KT_ASSERT(kk_image_archive_open(p, &o, &a, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);

    /* Docker RepoTags are normalised. */
    _cleanup_free_ char *q = kk_xasprintf("%s/d.tar", kt_tmpdir());
    KT_ASSERT_EQ(sh("%s/contrib/mkimage/mkimage.sh --format docker --name docker.io/me/app:2 "
                    "-o %s",
                    src_dir(), q),
                 0);
    KT_ASSERT_OK(kk_image_archive_open(q, NULL, &a, &err), &err);
    KT_ASSERT_STREQ(a->images[0].name, "docker.io/me/app:2");
}

KT_CASE(archive_rejects_bad_archives)
{
    const char *d = kt_tmpdir();
    _cleanup_free_ char *good = kk_xasprintf("%s/good.tar", d);
    KT_ASSERT_EQ(mkimage(good, "oci", 2, false), 0);
    _cleanup_(kk_image_archive_freep) struct kk_image_archive *a = NULL;
    _cleanup_error_ kk_error *err = NULL;

    /* Not an image at all. */
    KT_ASSERT_EQ(
            sh("cd %s && mkdir -p x && echo hi > x/readme && tar -C x -cf plain.tar readme", d), 0);
    _cleanup_free_ char *plain = kk_xasprintf("%s/plain.tar", d);
    KT_ASSERT(kk_image_archive_open(plain, NULL, &a, &err) < 0);
    KT_ASSERT(strstr(err->message, "unrecognized"));
    kk_error_freep(&err);

    /* A missing blob. */
    KT_ASSERT_EQ(sh("set -e; cd %s; rm -rf u; mkdir u; tar -C u -xf good.tar; "
                    "rm u/blobs/sha256/$(ls -S u/blobs/sha256 | head -1); "
                    "tar -C u -cf missing.tar $(cd u && ls -A)",
                    d),
                 0);
    _cleanup_free_ char *missing = kk_xasprintf("%s/missing.tar", d);
    KT_ASSERT(kk_image_archive_open(missing, NULL, &a, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);

    /* A tampered config (same size, different bytes) fails its digest. */
    KT_ASSERT_EQ(sh("set -e; cd %s; rm -rf u; mkdir u; tar -C u -xf good.tar; "
                    "for f in u/blobs/sha256/*; do grep -q diff_ids $f && "
                    "sed -i 's/\"os\":\"linux\"/\"os\":\"LINUX\"/' $f; done; "
                    "tar -C u -cf tampered.tar $(cd u && ls -A)",
                    d),
                 0);
    _cleanup_free_ char *tampered = kk_xasprintf("%s/tampered.tar", d);
    KT_ASSERT(kk_image_archive_open(tampered, NULL, &a, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_DATA_LOSS);
    kk_error_freep(&err);

    /* A compressed archive gets a clear message. */
    KT_ASSERT_EQ(sh("gzip -c %s > %s/good.tar.gz", good, d), 0);
    _cleanup_free_ char *gz = kk_xasprintf("%s/good.tar.gz", d);
    KT_ASSERT(kk_image_archive_open(gz, NULL, &a, &err) < 0);
    KT_ASSERT(strstr(err->message, "compressed"));
    kk_error_freep(&err);

    /* Not a regular file; missing file. */
    KT_ASSERT(kk_image_archive_open(d, NULL, &a, &err) < 0);
    kk_error_freep(&err);
    KT_ASSERT(kk_image_archive_open("/nonexistent/x.tar", NULL, &a, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
}

/* index.json -> nested index -> {manifest for this machine, manifest for
 * s390x that is not even in the archive}: the other platform is skipped,
 * labels chain through both indexes, the top-level name applies. */
KT_CASE(archive_nested_index_and_platforms)
{
    const char *d = kt_tmpdir();
    _cleanup_free_ char *base = kk_xasprintf("%s/base.tar", d);
    KT_ASSERT_EQ(mkimage(base, "oci", 2, true), 0);
    KT_ASSERT_EQ(
            sh("set -e; cd %s; rm -rf u; mkdir u; tar -C u -xf base.tar; cd u; "
               "m=$(sed 's/.*\"manifests\":\\[\\(.*\\)\\]}$/\\1/' index.json | "
               "sed 's/,\"annotations\":{[^}]*}//'); "
               "other='{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":"
               "\"sha256:1111111111111111111111111111111111111111111111111111111111111111\","
               "\"size\":10,\"platform\":{\"architecture\":\"s390x\",\"os\":\"linux\"}}'; "
               "printf '{\"schemaVersion\":2,\"manifests\":[%%s,%%s]}' \"$other\" \"$m\" > nested; "
               "h=$(sha256sum nested | cut -c1-64); s=$(stat -c %%s nested); "
               "mv nested blobs/sha256/$h; "
               "printf '{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
               "\"application/vnd.oci.image.index.v1+json\",\"digest\":\"sha256:%%s\",\"size\":"
               "%%s,\"annotations\":{\"io.containerd.image.name\":\"example.com/nested:1\"}}]}' "
               "$h $s > index.json; tar -cf ../nested.tar $(ls -A)",
               d),
            0);
    _cleanup_free_ char *p = kk_xasprintf("%s/nested.tar", d);
    _cleanup_(kk_image_archive_freep) struct kk_image_archive *a = NULL;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(kk_image_archive_open(p, NULL, &a, &err), &err);
    KT_ASSERT_EQ(a->n_manifests, 1);
    KT_ASSERT_EQ(a->n_images, 1);
    KT_ASSERT_STREQ(a->images[0].name, "example.com/nested:1");
    KT_ASSERT_EQ(a->n_blobs, 2 + 1 + 1 + 2); /* layers, config, manifest, 2 indexes */
    const struct kk_image_blob *nested = &a->blobs[a->n_blobs - 2];
    const struct kk_image_blob *top = &a->blobs[a->n_blobs - 1];
    KT_ASSERT_EQ(nested->kind, KK_BLOB_INDEX);
    KT_ASSERT_STREQ(kk_image_label(nested->labels, KK_LABEL_GC_MANIFEST "0"),
                    a->blobs[a->manifests[0].blob].digest);
    KT_ASSERT(kk_image_label(nested->labels, KK_LABEL_GC_MANIFEST "1") == NULL);
    KT_ASSERT_STREQ(kk_image_label(top->labels, KK_LABEL_GC_MANIFEST "0"), nested->digest);

    /* Asking for s390x finds a descriptor whose blob is missing. */
    kk_image_archive_freep(&a);
    struct kk_image_archive_opts o = {.architecture = "s390x"};
    KT_ASSERT(kk_image_archive_open(p, &o, &a, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
}
