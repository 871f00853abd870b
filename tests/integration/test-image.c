/* Images against a private containerd: import of OCI and Docker archives
 * (1-3 layers, plain and gzip, whiteouts) checked with ctr itself, GC
 * labels, idempotent re-import, a container run from the image with the
 * spec builder, errors, removal, and `kuke image` end to end. */
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsapi/log.h"
#include "runtime/containerd/containerd.h"
#include "runtime/image/image.h"
#include "runtime/oci/spec.h"
#include "tests/lib/containerd-fixture.h"
#include "tests/lib/kktest.h"

static struct kt_ctd *fixture;
static struct kk_ctd *ctd;

static void stop_fixture(void)
{
    kk_ctd_close(ctd);
    ctd = NULL;
    kt_ctd_destroy(fixture);
    fixture = NULL;
}

static int setup(kk_error **err)
{
    if (fixture)
        return 0;
    kt_atexit(stop_fixture);
    if (kt_ctd_start(&fixture, err) < 0)
        return -1;
    return kk_ctd_open(fixture->address, NULL, &ctd, err);
}

/* Runs a shell command, capturing stdout+stderr; returns its exit status. */
static int run(struct kk_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(struct kk_buf *out, const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *cmd = NULL;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    _cleanup_free_ char *full = kk_xasprintf("(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        if (out)
            kk_buf_add(out, buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *src_dir(void)
{
    const char *s = getenv("KUKEON_SRC");
    return s ? s : ".";
}

static char *mkimage(const char *format, int layers, bool gzip)
{
    char *p = kk_xasprintf("%s/%s-%d%s.tar", kt_tmpdir(), format, layers, gzip ? "-gz" : "");
    if (access(p, F_OK) == 0)
        return p;
    if (run(NULL, "%s/contrib/mkimage/mkimage.sh --format %s --layers %d %s -o %s", src_dir(),
            format, layers, gzip ? "--gzip" : "", p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static char *ns_name(const char *tag)
{
    static int n;
    return kk_xasprintf("kkimg-%d-%s-%d", (int)getpid(), tag, n++);
}

static const char *const IMAGE = "docker.io/library/busybox:latest";

/* Checks what containerd holds for IMAGE in ns after an import. */
static void check_imported(const char *ns, const char *archive)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;

    /* containerd's own tool agrees: complete and unpacked. */
    KT_ASSERT_EQ(run(&out, "ctr -a %s -n %s images check", fixture->address, ns), 0);
    KT_ASSERT_MSG(strstr(out.data, IMAGE) && strstr(out.data, "complete") &&
                          strstr(out.data, " true"),
                  "ctr images check: %s", out.data);
    kk_buf_reset(&out);
    KT_ASSERT_EQ(run(&out, "ctr -a %s -n %s images ls -q", fixture->address, ns), 0);
    KT_ASSERT_MSG(strstr(out.data, IMAGE), "ctr images ls: %s", out.data);

    /* Resolve: chain ID, config; GC labels as ctr sets them. */
    struct kk_image_info info;
    KT_ASSERT_OK(kk_image_resolve(ctd, ns, IMAGE, &info, &err), &err);
    struct kk_ctd_content_info ci = {0};
    int r = kk_ctd_content_info(ctd, ns, info.manifest_digest, &ci, &err);
    bool man_ok = r == 0 && kk_image_label(ci.labels, KK_LABEL_GC_CONFIG) &&
                  strcmp(kk_image_label(ci.labels, KK_LABEL_GC_CONFIG), info.config_digest) == 0 &&
                  kk_image_label(ci.labels, KK_LABEL_GC_LAYER "0");
    kk_ctd_content_info_clear(&ci);
    r = r == 0 ? kk_ctd_content_info(ctd, ns, info.config_digest, &ci, &err) : r;
    const char *snap = r == 0 ? kk_image_label(ci.labels, KK_LABEL_GC_SNAPSHOT "overlayfs") : NULL;
    bool cfg_ok = snap && strcmp(snap, info.chain_id) == 0;
    bool unpacked = false;
    int ru = kk_image_is_unpacked(ctd, ns, NULL, &info, &unpacked, &err);
    kk_ctd_content_info_clear(&ci);

    /* The same archive through `ctr images import` gives the same manifest
     * digest (our Docker manifest synthesis is byte-compatible). */
    _cleanup_free_ char *cns = kk_xasprintf("%s-ctr", ns);
    kk_buf_reset(&out);
    int rc = run(&out, "ctr -a %s -n %s images import %s >/dev/null && ctr -a %s -n %s images ls",
                 fixture->address, cns, archive, fixture->address, cns);
    bool same_digest = rc == 0 && strstr(out.data, info.manifest_digest);
    kk_image_info_clear(&info);
    KT_ASSERT_MSG(r == 0, "content info: %s", err ? err->message : "");
    KT_ASSERT_MSG(man_ok, "manifest GC labels missing");
    KT_ASSERT_MSG(cfg_ok, "config snapshot label missing or wrong");
    KT_ASSERT(ru == 0 && unpacked);
    KT_ASSERT_MSG(same_digest, "ctr import differs: %s", out.data);

    /* No lease left behind. */
    _cleanup_strv_ char **leases = NULL;
    KT_ASSERT_OK(kk_ctd_lease_list(ctd, ns, &leases, &err), &err);
    KT_ASSERT_MSG(!leases || !leases[0], "lease %s left", leases[0]);
}

KT_CASE(import_matrix)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    static const char *const formats[] = {"oci", "docker"};
    for (int f = 0; f < 2; f++)
        for (int layers = 1; layers <= 3; layers++)
            for (int gz = 0; gz <= 1; gz++) {
                _cleanup_free_ char *archive = mkimage(formats[f], layers, gz);
                KT_ASSERT(archive);
                _cleanup_free_ char *ns = ns_name(formats[f]);
                _cleanup_(kk_image_import_result_clear) struct kk_image_import_result res = {0};
                KT_ASSERT_OK(kk_image_import(ctd, ns, archive, NULL, &res, &err), &err);
                bool named = res.names && res.names[0] && strcmp(res.names[0], IMAGE) == 0;
                size_t written = res.blobs_written, unpacked = res.layers_unpacked;
                kk_image_import_result_clear(&res);
                KT_ASSERT_MSG(named, "%s: no image name", archive);
                KT_ASSERT_EQ(written, (size_t)layers + 3);
                KT_ASSERT_EQ(unpacked, (size_t)layers);
                check_imported(ns, archive);
                if (kt_failed()) {
                    kt_fail(__FILE__, __LINE__, "with %s", archive);
                    return;
                }
            }
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

KT_CASE(reimport_is_idempotent)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *archive = mkimage("docker", 3, true);
    _cleanup_free_ char *ns = ns_name("again");
    _cleanup_(kk_image_import_result_clear) struct kk_image_import_result res = {0};

    double t0 = now_ms();
    KT_ASSERT_OK(kk_image_import(ctd, ns, archive, NULL, &res, &err), &err);
    double first = now_ms() - t0;
    kk_image_import_result_clear(&res);

    t0 = now_ms();
    KT_ASSERT_OK(kk_image_import(ctd, ns, archive, NULL, &res, &err), &err);
    double second = now_ms() - t0;
    /* Only the index may be written again: no image record holds it, so
     * the collector may have taken it once the first import's lease went
     * (ctr's import behaves the same). */
    KT_ASSERT_MSG(res.blobs_written <= 1, "%zu blobs written again", res.blobs_written);
    KT_ASSERT_EQ(res.blobs_present + res.blobs_written, 6);
    KT_ASSERT_EQ(res.layers_unpacked, 0);
    KT_ASSERT_EQ(res.layers_present, 3);
    kk_image_import_result_clear(&res);
    kk_log_info("import: first %.1f ms, second %.1f ms", first, second);
    KT_ASSERT_MSG(second < first, "second import (%.1f ms) not faster than first (%.1f ms)", second,
                  first);

    /* ctr over ours, then ours over ctr's: still one complete image. */
    KT_ASSERT_EQ(run(NULL, "ctr -a %s -n %s images import %s", fixture->address, ns, archive), 0);
    KT_ASSERT_OK(kk_image_import(ctd, ns, archive, NULL, &res, &err), &err);
    kk_image_import_result_clear(&res);
    check_imported(ns, archive);
}

static int read_file(const char *path, struct kk_buf *b)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -1 : kk_buf_read_fd(b, fd, 1 << 20);
}

KT_CASE(container_runs_from_image)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *archive = mkimage("docker", 3, true);
    _cleanup_free_ char *ns = ns_name("run");
    KT_ASSERT_OK(kk_image_import(ctd, ns, archive, NULL, NULL, &err), &err);

    struct kk_image_info img;
    KT_ASSERT_OK(kk_image_resolve(ctd, ns, IMAGE, &img, &err), &err);
    /* The user name is resolved through the image's own /etc/passwd. */
    _cleanup_buf_ struct kk_buf passwd = KK_BUF_INIT, group = KK_BUF_INIT;
    KT_ASSERT_OK(kk_image_read_file(ctd, ns, NULL, &img, "/etc/passwd", 1 << 20, &passwd, &err),
                 &err);
    KT_ASSERT_OK(kk_image_read_file(ctd, ns, NULL, &img, "etc/group", 1 << 20, &group, &err), &err);
    KT_ASSERT(strstr(kk_buf_str(&passwd), "kuke:x:1000:1000"));
    /* Symlinks resolve inside the image: bin/sh -> /bin/busybox, 2 MB,
     * over the 64-byte limit (the host's /bin/sh would be a short link
     * target too, but /bin/busybox only exists in the image here). */
    _cleanup_buf_ struct kk_buf sh = KK_BUF_INIT;
    KT_ASSERT(kk_image_read_file(ctd, ns, NULL, &img, "/bin/sh", 64, &sh, &err) < 0);
    KT_ASSERT_MSG(kk_error_code(err) == KK_E_EXHAUSTED, "%s", err->message);
    kk_error_freep(&err);
    _cleanup_buf_ struct kk_buf none = KK_BUF_INIT;
    KT_ASSERT(kk_image_read_file(ctd, ns, NULL, &img, "/etc/kk-removed", 4096, &none, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    const char *id = "kkimg-run";
    _cleanup_free_ char *vol_ro = kk_xasprintf("%s/vol-ro", kt_tmpdir());
    _cleanup_free_ char *vol_rw = kk_xasprintf("%s/vol-rw", kt_tmpdir());
    KT_ASSERT_EQ(run(NULL, "mkdir -p %s %s && echo from-volume > %s/f && chmod 777 %s %s", vol_ro,
                     vol_rw, vol_ro, vol_ro, vol_rw),
                 0);
    /* Both world-writable: only the read-only mount may stop the write. */
    const struct kk_oci_bind binds[] = {{vol_ro, "/data", true}, {vol_rw, "/scratch", false}};
    _cleanup_free_ char *cg = kk_xasprintf("/%s/%s", fixture->cgroup_parent, id);
    _cleanup_free_ char *log = kk_xasprintf("%s/%s.log", kt_tmpdir(), id);
    struct kk_oci_spec_config sc = {
            .image = &img.config,
            .command =
                    (const char *[]){"sh", "-c",
                                     "echo hello-from-kukeon; cat /www/index.html; "
                                     "test -e /etc/kk-removed || echo whiteout-ok; "
                                     "cat /etc/kk-layer3; echo opq: $(ls /opq); id; "
                                     "echo to-stderr >&2; echo host: $(hostname); "
                                     "echo env: $GREETING $HOME; cat /data/f; "
                                     "touch /data/x 2>/dev/null || echo volume-ro; "
                                     "touch /scratch/x && echo volume-rw; "
                                     "echo mem: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                                     "/sys/fs/cgroup/memory.max 2>/dev/null); "
                                     "echo pids: $(cat /sys/fs/cgroup/pids/pids.max "
                                     "/sys/fs/cgroup/pids.max 2>/dev/null)",
                                     NULL},
            .user = "kuke",
            .passwd_text = kk_buf_str(&passwd),
            .group_text = kk_buf_str(&group),
            .hostname = id,
            .cgroups_path = cg,
            .env = (const char *[]){"GREETING=hi", NULL},
            .binds = binds,
            .n_binds = KK_ARRAY_SIZE(binds),
            .resources = {.memory_limit = 64 << 20, .pids_limit = 42},
    };
    _cleanup_buf_ struct kk_buf spec = KK_BUF_INIT;
    int r = kk_oci_spec_build(&sc, &spec, &err);
    kk_image_info_clear(&img);
    KT_ASSERT_OK(r, &err);

    /* Lease the window between the snapshot and the container record. */
    _cleanup_free_ char *lease = kk_xasprintf("kkimg-run-%d", (int)getpid());
    KT_ASSERT_OK(kk_ctd_lease_create(ctd, ns, lease, 600, &err), &err);
    struct kk_ctd *lc = NULL;
    KT_ASSERT_OK(kk_ctd_with_lease(ctd, lease, &lc, &err), &err);
    r = kk_image_prepare_rootfs(lc, ns, NULL, IMAGE, id, NULL, &err);
    struct kk_ctd_container_spec cs = {
            .id = id,
            .image = IMAGE,
            .spec_json = spec.data,
            .spec_len = spec.len,
            .snapshot_key = id,
    };
    if (r == 0)
        r = kk_ctd_container_create(lc, ns, &cs, &err);
    kk_ctd_close(lc);
    _cleanup_error_ kk_error *lerr = NULL;
    kk_ctd_lease_delete(ctd, ns, lease, false, &lerr);
    KT_ASSERT_OK(r, &err);

    uint32_t status = 99;
    r = kk_ctd_task_create(ctd, ns, id, NULL, log, NULL, &err);
    if (r == 0)
        r = kk_ctd_task_start(ctd, ns, id, NULL, &err);
    if (r == 0)
        r = kk_ctd_task_wait(ctd, ns, id, 20000, &status, &err);
    _cleanup_error_ kk_error *rerr = NULL;
    int rr = kk_ctd_container_remove_safely(ctd, ns, id, 2000, &rerr);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT_OK(rr, &rerr);
    KT_ASSERT_EQ(status, 0);

    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    KT_ASSERT_EQ(read_file(log, &out), 0);
    KT_ASSERT_MSG(strstr(kk_buf_str(&out), "hello-from-kukeon"), "log: %s", kk_buf_str(&out));
    KT_ASSERT(strstr(out.data, "hello from kukeon busybox image"));
    KT_ASSERT_MSG(strstr(out.data, "whiteout-ok"), "whiteout ignored: %s", out.data);
    KT_ASSERT(strstr(out.data, "layer 3"));
    KT_ASSERT_MSG(strstr(out.data, "opq: from-layer3\n"), "opaque whiteout ignored: %s", out.data);
    KT_ASSERT(strstr(out.data, "uid=1000(kuke)"));
    KT_ASSERT(strstr(out.data, "to-stderr"));
    KT_ASSERT(strstr(out.data, "host: kkimg-run\n"));
    KT_ASSERT(strstr(out.data, "env: hi /home/kuke\n"));
    KT_ASSERT(strstr(out.data, "from-volume"));
    KT_ASSERT_MSG(strstr(out.data, "volume-ro") && strstr(out.data, "volume-rw"), "volumes: %s",
                  out.data);
    KT_ASSERT_MSG(strstr(out.data, "mem: 67108864\n"), "memory limit: %s", out.data);
    KT_ASSERT_MSG(strstr(out.data, "pids: 42\n"), "pids limit: %s", out.data);

    /* The rootfs snapshot went with the container. */
    struct kk_ctd_snapshot_info si = {0};
    KT_ASSERT(kk_ctd_snapshot_stat(ctd, ns, NULL, id, &si, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
}

KT_CASE(errors_and_removal)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *ns = ns_name("err");
    struct kk_image_info info;

    /* An image that is not there. */
    KT_ASSERT_OK(kk_ctd_namespace_create(ctd, ns, NULL, true, &err), &err);
    KT_ASSERT(kk_image_resolve(ctd, ns, IMAGE, &info, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    KT_ASSERT(kk_image_remove(ctd, ns, IMAGE, true, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);

    /* A broken archive (a layer cut short) leaves nothing behind. */
    _cleanup_free_ char *good = mkimage("oci", 2, false);
    _cleanup_free_ char *bad = kk_xasprintf("%s/bad.tar", kt_tmpdir());
    KT_ASSERT_EQ(run(NULL,
                     "set -e; d=%s/bad; rm -rf $d; mkdir $d; tar -C $d -xf %s; "
                     "f=$d/blobs/sha256/$(ls -S $d/blobs/sha256 | head -1); "
                     "printf x | dd of=$f bs=1 seek=1000 conv=notrunc 2>/dev/null; "
                     "tar -C $d -cf %s $(cd $d && ls -A)",
                     kt_tmpdir(), good, bad),
                 0);
    KT_ASSERT(kk_image_import(ctd, ns, bad, NULL, NULL, &err) < 0);
    KT_ASSERT_MSG(kk_error_code(err) == KK_E_PRECONDITION || kk_error_code(err) == KK_E_DATA_LOSS ||
                          kk_error_code(err) == KK_E_INVALID,
                  "unexpected: %s (%s)", err->message, kk_code_name(kk_error_code(err)));
    kk_error_freep(&err);
    _cleanup_strv_ char **leases = NULL;
    KT_ASSERT_OK(kk_ctd_lease_list(ctd, ns, &leases, &err), &err);
    KT_ASSERT(!leases || !leases[0]);
    struct kk_ctd_image *imgs = NULL;
    size_t n = 0;
    KT_ASSERT_OK(kk_image_list(ctd, ns, &imgs, &n, &err), &err);
    kk_ctd_image_list_free(imgs, n);
    KT_ASSERT_EQ(n, 0);

    /* Remove (GC in the background) and import again at once, several
     * times: what the import finds present must not be collected under it. */
    KT_ASSERT_OK(kk_image_import(ctd, ns, good, NULL, NULL, &err), &err);
    for (int i = 0; i < 5; i++) {
        KT_ASSERT_OK(kk_image_remove(ctd, ns, IMAGE, false, &err), &err);
        KT_ASSERT_OK(kk_image_import(ctd, ns, good, NULL, NULL, &err), &err);
    }
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    KT_ASSERT_EQ(run(&out, "ctr -a %s -n %s images check", fixture->address, ns), 0);
    KT_ASSERT_MSG(strstr(out.data, "complete") && strstr(out.data, " true"), "%s", out.data);

    /* Remove: GC takes content and snapshots. */
    KT_ASSERT_OK(kk_image_remove(ctd, ns, IMAGE, true, &err), &err);
    _cleanup_strv_ char **blobs = NULL;
    KT_ASSERT_OK(kk_ctd_content_list(ctd, ns, &blobs, &err), &err);
    KT_ASSERT_MSG(!blobs || !blobs[0], "blob %s survived removal", blobs[0]);
    struct kk_ctd_snapshot_info *snaps = NULL;
    KT_ASSERT_OK(kk_ctd_snapshot_list(ctd, ns, NULL, &snaps, &n, &err), &err);
    kk_ctd_snapshot_list_free(snaps, n);
    KT_ASSERT_EQ(n, 0);
}

static char netns_name[64];

static void delete_netns(void)
{
    if (netns_name[0])
        run(NULL, "ip netns delete %s", netns_name);
    netns_name[0] = 0;
}

/* Runs one container from the image; returns its task's exit status via
 * *status (wait_ms < 0: do not wait, leave it running). */
static int run_container(const char *ns, const char *id, const char *netns,
                         const char *const *command, int wait_ms, uint32_t *status, const char *log,
                         kk_error **err)
{
    struct kk_image_info img;
    if (kk_image_resolve(ctd, ns, IMAGE, &img, err) < 0)
        return -1;
    _cleanup_free_ char *cg = kk_xasprintf("/%s/%s", fixture->cgroup_parent, id);
    struct kk_oci_spec_config sc = {
            .image = &img.config,
            .command = command,
            .netns_path = netns,
            .cgroups_path = cg,
    };
    _cleanup_buf_ struct kk_buf spec = KK_BUF_INIT;
    int r = kk_oci_spec_build(&sc, &spec, err);
    kk_image_info_clear(&img);
    if (r < 0)
        return -1;
    struct kk_ctd_container_spec cs = {
            .id = id,
            .image = IMAGE,
            .spec_json = spec.data,
            .spec_len = spec.len,
            .snapshot_key = id,
    };
    /* An active snapshot that no container holds yet is garbage to the
     * collector: lease the window. */
    _cleanup_free_ char *lease = kk_xasprintf("%s-%d", id, (int)getpid());
    struct kk_ctd *lc = NULL;
    _cleanup_error_ kk_error *lerr = NULL;
    if (kk_ctd_lease_create(ctd, ns, lease, 600, err) < 0)
        return -1;
    r = kk_ctd_with_lease(ctd, lease, &lc, err);
    if (r == 0) {
        r = kk_image_prepare_rootfs(lc, ns, NULL, IMAGE, id, NULL, err);
        if (r == 0)
            r = kk_ctd_container_create(lc, ns, &cs, err);
        kk_ctd_close(lc);
    }
    kk_ctd_lease_delete(ctd, ns, lease, false, &lerr);
    if (r < 0 || kk_ctd_task_create(ctd, ns, id, NULL, log, NULL, err) < 0 ||
        kk_ctd_task_start(ctd, ns, id, NULL, err) < 0)
        return -1;
    return wait_ms < 0 ? 0 : kk_ctd_task_wait(ctd, ns, id, wait_ms, status, err);
}

/* Two containers in one network namespace joined by path: a busybox httpd
 * and a wget of it over 127.0.0.1. */
KT_CASE(containers_share_a_netns_by_path)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *archive = mkimage("oci", 1, true);
    _cleanup_free_ char *ns = ns_name("net");
    KT_ASSERT_OK(kk_image_import(ctd, ns, archive, NULL, NULL, &err), &err);

    snprintf(netns_name, sizeof(netns_name), "kkimg-%d", (int)getpid());
    kt_atexit(delete_netns);
    KT_ASSERT_EQ(run(NULL, "ip netns add %s && ip netns exec %s ip link set lo up", netns_name,
                     netns_name),
                 0);
    _cleanup_free_ char *path = kk_xasprintf("/var/run/netns/%s", netns_name);
    _cleanup_free_ char *log_web = kk_xasprintf("%s/web.log", kt_tmpdir());
    _cleanup_free_ char *log_get = kk_xasprintf("%s/get.log", kt_tmpdir());
    uint32_t status = 99;

    int r = run_container(ns, "kkimg-web", path,
                          (const char *[]){"httpd", "-f", "-p", "8080", "-h", "/www", NULL}, -1,
                          NULL, log_web, &err);
    if (r == 0)
        r = run_container(ns, "kkimg-get", path,
                          (const char *[]){"sh", "-c",
                                           "for i in 1 2 3 4 5 6 7 8 9 10; do "
                                           "wget -qO- http://127.0.0.1:8080/ && exit 0; "
                                           "sleep 0.2; done; exit 1",
                                           NULL},
                          20000, &status, log_get, &err);
    _cleanup_error_ kk_error *e1 = NULL, *e2 = NULL;
    /* httpd as PID 1 ignores SIGTERM: the short timeout ends in SIGKILL. */
    int r1 = kk_ctd_container_remove_safely(ctd, ns, "kkimg-web", 500, &e1);
    int r2 = kk_ctd_container_remove_safely(ctd, ns, "kkimg-get", 500, &e2);
    delete_netns();
    KT_ASSERT_OK(r, &err);
    KT_ASSERT_OK(r1, &e1);
    KT_ASSERT_OK(r2, &e2);
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    KT_ASSERT_EQ(read_file(log_get, &out), 0);
    KT_ASSERT_MSG(status == 0 && strstr(kk_buf_str(&out), "hello from kukeon busybox image"),
                  "status %u, log: %s", status, kk_buf_str(&out));
}

/* Imported without unpacking, the rootfs helper unpacks on demand (under
 * the caller's lease) and is idempotent. */
KT_CASE(rootfs_unpacks_on_demand)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *archive = mkimage("oci", 3, false);
    _cleanup_free_ char *ns = ns_name("lazy");
    struct kk_image_import_opts io = {.no_unpack = true};
    _cleanup_(kk_image_import_result_clear) struct kk_image_import_result res = {0};
    KT_ASSERT_OK(kk_image_import(ctd, ns, archive, &io, &res, &err), &err);
    KT_ASSERT_EQ(res.layers_unpacked + res.layers_present, 0);
    kk_image_import_result_clear(&res);

    struct kk_image_info info;
    bool unpacked = true;
    KT_ASSERT_OK(kk_image_resolve(ctd, ns, IMAGE, &info, &err), &err);
    int r = kk_image_is_unpacked(ctd, ns, NULL, &info, &unpacked, &err);
    kk_image_info_clear(&info);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT(!unpacked);

    _cleanup_free_ char *lease = kk_xasprintf("kkimg-lazy-%d", (int)getpid());
    KT_ASSERT_OK(kk_ctd_lease_create(ctd, ns, lease, 600, &err), &err);
    struct kk_ctd *lc = NULL;
    KT_ASSERT_OK(kk_ctd_with_lease(ctd, lease, &lc, &err), &err);
    struct kk_ctd_mounts m1 = {0}, m2 = {0};
    r = kk_image_prepare_rootfs(lc, ns, NULL, IMAGE, "lazy-rootfs", &m1, &err);
    if (r == 0)
        r = kk_image_prepare_rootfs(lc, ns, NULL, IMAGE, "lazy-rootfs", &m2, &err);
    bool same = r == 0 && m1.n == 1 && m2.n == 1 && strcmp(m1.v[0].type, "overlay") == 0 &&
                strcmp(m1.v[0].type, m2.v[0].type) == 0;
    kk_ctd_mounts_clear(&m1);
    kk_ctd_mounts_clear(&m2);
    kk_ctd_close(lc);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT_MSG(same, "rootfs mounts differ between calls");

    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    KT_ASSERT_EQ(run(&out, "ctr -a %s -n %s images check", fixture->address, ns), 0);
    KT_ASSERT_MSG(strstr(out.data, "complete") && strstr(out.data, " true"), "%s", out.data);
    KT_ASSERT_OK(kk_ctd_snapshot_remove(ctd, ns, NULL, "lazy-rootfs", &err), &err);
    KT_ASSERT_OK(kk_ctd_lease_delete(ctd, ns, lease, false, &err), &err);
}

/* $KUKEON_BIN/kuke, else the kuke of this test's own build tree. */
static char *kuke_path(void)
{
    const char *bin = getenv("KUKEON_BIN");
    if (bin) {
        char *p = kk_xasprintf("%s/kuke", bin);
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return kk_xstrdup("kuke");
    self[n] = 0;
    /* BUILD/tests/integration/test-image -> BUILD/bin/kuke */
    return kk_xasprintf("%s/../../bin/kuke", dirname(self));
}

KT_CASE(kuke_image_cli)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *kuke = kuke_path();
    _cleanup_free_ char *archive = mkimage("oci", 2, true);
    _cleanup_free_ char *realm = kk_xasprintf("kkimg-%d", (int)getpid());
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    const char *a = fixture->address;

    KT_ASSERT_MSG(access(kuke, X_OK) == 0, "%s not built", kuke);
    KT_ASSERT_EQ(run(&out, "%s image load --realm %s --containerd-address %s %s", kuke, realm, a,
                     archive),
                 0);
    KT_ASSERT_MSG(strstr(out.data, "loaded docker.io/library/busybox:latest"), "%s", out.data);
    kk_buf_reset(&out);
    KT_ASSERT_EQ(run(&out, "ctr -a %s -n kukeon-%s images check", a, realm), 0);
    KT_ASSERT_MSG(strstr(out.data, "complete") && strstr(out.data, " true"), "%s", out.data);

    /* The address from the environment; ls shows it unpacked. */
    kk_buf_reset(&out);
    KT_ASSERT_EQ(run(&out, "KUKEON_CONTAINERD_ADDRESS=%s %s image ls --realm %s", a, kuke, realm),
                 0);
    KT_ASSERT_MSG(strstr(out.data, IMAGE) && strstr(out.data, "true"), "%s", out.data);

    /* rm takes the short form and normalises it. */
    kk_buf_reset(&out);
    KT_ASSERT_EQ(run(&out, "%s image rm -r %s -a %s busybox", kuke, realm, a), 0);
    KT_ASSERT_MSG(strstr(out.data, "removed docker.io/library/busybox:latest"), "%s", out.data);
    kk_buf_reset(&out);
    KT_ASSERT_EQ(run(&out, "%s image ls -q -r %s -a %s", kuke, realm, a), 0);
    KT_ASSERT_MSG(!strstr(out.data, "busybox"), "still listed: %s", out.data);

    /* Failures: missing image, missing file, bad realm, unknown verb. */
    KT_ASSERT_EQ(run(NULL, "%s image rm -r %s -a %s busybox", kuke, realm, a), 1);
    KT_ASSERT_EQ(run(NULL, "%s image load -r %s -a %s /nonexistent.tar", kuke, realm, a), 1);
    KT_ASSERT_EQ(run(NULL, "%s image ls -r Bad_Realm -a %s", kuke, a), 2);
    KT_ASSERT_EQ(run(NULL, "%s image frob", kuke), 2);
}

/* Last: tearing the fixture down leaves no daemon, shim, mount, cgroup or
 * directory behind, and no view mount of kk_image_read_file either. */
KT_CASE(zz_leaves_nothing_behind)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *dir = kk_xstrdup(fixture->dir);
    _cleanup_free_ char *cg = kk_xstrdup(fixture->cgroup_parent);
    pid_t pids[64];
    kt_ctd_pids(fixture, pids, 64);
    stop_fixture();
    _cleanup_buf_ struct kk_buf why = KK_BUF_INIT;
    KT_ASSERT_MSG(kt_ctd_leftovers_none(dir, cg, pids, &why), "left behind:%s", kk_buf_str(&why));
    _cleanup_buf_ struct kk_buf mounts = KK_BUF_INIT;
    KT_ASSERT_EQ(run(&mounts, "grep -c kukeon-view- /proc/self/mountinfo || true"), 0);
    KT_ASSERT_MSG(atoi(kk_buf_str(&mounts)) == 0, "view mounts left: %s", mounts.data);
}
