/* The containerd client against a private containerd: version, namespaces,
 * content, leases, image records, snapshots, Diff.Apply, drain. Tasks,
 * events and restarts are in test-containerd-tasks.c. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "fsapi/clock.h"
#include "tests/integration/test-containerd-util.h"
#include "tests/lib/kktest.h"

static struct kt_ctd *fixture;
static struct kk_ctd *client;
static char ns[64];

static void teardown(void)
{
    kk_ctd_close(client);
    client = NULL;
    kt_ctd_destroy(fixture);
    fixture = NULL;
}

/* One containerd and one client for the whole binary. */
static int setup(kk_error **err)
{
    kt_atexit(teardown);
    if (client)
        return 0;
    snprintf(ns, sizeof(ns), "kktest-%d", (int)getpid());
    if (kt_ctd_start(&fixture, err) < 0)
        return -1;
    return kk_ctd_open(fixture->address, NULL, &client, err);
}

static bool has(char **v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0)
            return true;
    return false;
}

static const char *label(char **kv, const char *key)
{
    for (; kv && kv[0] && kv[1]; kv += 2)
        if (strcmp(kv[0], key) == 0)
            return kv[1];
    return NULL;
}

KT_CASE(version)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *v = NULL, *rev = NULL;
    KT_ASSERT_OK(kk_ctd_version(client, &v, &rev, &err), &err);
    KT_ASSERT_MSG(strncmp(v, "1.", 2) == 0, "version %s", v);
}

KT_CASE(namespaces)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char *labels[] = {"kukeon.io/realm", "main", NULL};
    _cleanup_free_ char *name = kk_xasprintf("%s-ns", ns);
    KT_ASSERT_OK(kk_ctd_namespace_create(client, name, labels, false, &err), &err);
    KT_ASSERT_OK(kk_ctd_namespace_create(client, name, labels, true, &err), &err);
    KT_ASSERT(kk_ctd_namespace_create(client, name, labels, false, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS);
    kk_error_freep(&err);
    KT_ASSERT(kk_ctd_namespace_create(client, "bad name!", NULL, false, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    kk_error_freep(&err);

    _cleanup_strv_ char **names = NULL;
    KT_ASSERT_OK(kk_ctd_namespace_list(client, &names, &err), &err);
    KT_ASSERT(has(names, name));

    /* Not empty (an image record, which no garbage collection takes):
     * FailedPrecondition until drained. */
    _cleanup_free_ char *d = kt_sha256("m", 1);
    struct kk_ctd_desc target = {"application/vnd.oci.image.manifest.v1+json", d, 1};
    KT_ASSERT_OK(kk_ctd_image_put(client, name, "kktest/ns:1", &target, NULL, &err), &err);
    KT_ASSERT(kk_ctd_namespace_delete(client, name, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_PRECONDITION);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_ctd_namespace_drain(client, name, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_namespace_delete(client, name, &err), &err);
    kk_strv_free(names);
    names = NULL;
    KT_ASSERT_OK(kk_ctd_namespace_list(client, &names, &err), &err);
    KT_ASSERT(!has(names, name));
}

KT_CASE(not_found_is_distinguishable)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    /* A namespace that does not exist reads as empty. */
    KT_ASSERT(kk_ctd_container_get(client, "kktest-missing-ns", "c1", NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    KT_ASSERT(kk_ctd_image_get(client, ns, "docker.io/library/nope:latest", NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    KT_ASSERT_MSG(strstr(err->message, "nope"), "%s", err->message);
    kk_error_freep(&err);
    struct kk_ctd_task_state st;
    KT_ASSERT(kk_ctd_task_get(client, ns, "nope", &st, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    KT_ASSERT(kk_ctd_content_info(client, ns,
                                  "sha256:0000000000000000000000000000000000000000"
                                  "000000000000000000000000",
                                  NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    KT_ASSERT(kk_ctd_snapshot_stat(client, ns, NULL, "nope", NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
}

KT_CASE(content_small_and_streamed)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char small[] = "{\"hello\":\"content\"}";
    _cleanup_free_ char *ds = kt_sha256(small, strlen(small));
    const char *labels[] = {"kukeon.io/test", "small", NULL};
    /* Held by a lease so that the garbage collector leaves it alone. */
    KT_ASSERT_OK(kk_ctd_lease_create(client, ns, "kktest-content", 600, &err), &err);
    _cleanup_ctd_ struct kk_ctd *leased = NULL;
    KT_ASSERT_OK(kk_ctd_with_lease(client, "kktest-content", &leased, &err), &err);
    KT_ASSERT_EQ(kk_ctd_content_write_mem(leased, ns, NULL, ds, small, strlen(small), labels, &err),
                 0);
    KT_ASSERT_EQ(kk_ctd_content_write_mem(leased, ns, NULL, ds, small, strlen(small), labels, &err),
                 1);
    struct kk_ctd_content_info info = {0};
    KT_ASSERT_OK(kk_ctd_content_info(client, ns, ds, &info, &err), &err);
    int64_t size = info.size;
    const char *l = label(info.labels, "kukeon.io/test");
    bool label_ok = l && strcmp(l, "small") == 0;
    kk_ctd_content_info_clear(&info);
    KT_ASSERT_EQ(size, strlen(small));
    KT_ASSERT(label_ok);

    /* 3 MiB + 17: four Write messages, the last one a COMMIT. */
    size_t big_len = (3u << 20) + 17;
    _cleanup_free_ char *big = kk_xmalloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 7 + i / 4096);
    _cleanup_free_ char *db = kt_sha256(big, big_len);
    KT_ASSERT_EQ(kk_ctd_content_write_mem(leased, ns, NULL, db, big, big_len, NULL, &err), 0);
    _cleanup_buf_ struct kk_buf back = KK_BUF_INIT;
    KT_ASSERT_OK(kk_ctd_content_read(client, ns, db, 8u << 20, &back, &err), &err);
    KT_ASSERT_EQ(back.len, big_len);
    KT_ASSERT(memcmp(back.data, big, big_len) == 0);
    kk_buf_reset(&back);
    KT_ASSERT(kk_ctd_content_read(client, ns, db, 1u << 20, &back, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_OUT_OF_RANGE);
    kk_error_freep(&err);

    /* Labels: set one, remove another. */
    const char *relabel[] = {"containerd.io/gc.ref.snapshot.overlayfs", "sha256:abc",
                             "kukeon.io/test", "", NULL};
    KT_ASSERT_OK(kk_ctd_content_update_labels(client, ns, ds, relabel, &err), &err);
    KT_ASSERT_OK(kk_ctd_content_info(client, ns, ds, &info, &err), &err);
    bool set = label(info.labels, "containerd.io/gc.ref.snapshot.overlayfs") != NULL;
    bool gone = label(info.labels, "kukeon.io/test") == NULL;
    kk_ctd_content_info_clear(&info);
    KT_ASSERT(set);
    KT_ASSERT(gone);

    /* A wrong digest is refused and leaves no ingest behind: the same ref
     * then writes the right blob. */
    const char other[] = "other bytes";
    KT_ASSERT(kk_ctd_content_write_mem(leased, ns, "kktest-ref", ds, other, strlen(other), NULL,
                                       &err) == 1); /* ds exists: nothing sent */
    _cleanup_free_ char *wrong = kt_sha256("x", 1);
    KT_ASSERT(kk_ctd_content_write_mem(leased, ns, "kktest-ref", wrong, other, strlen(other), NULL,
                                       &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_PRECONDITION);
    kk_error_freep(&err);
    _cleanup_free_ char *dother = kt_sha256(other, strlen(other));
    KT_ASSERT_EQ(kk_ctd_content_write_mem(leased, ns, "kktest-ref", dother, other, strlen(other),
                                          NULL, &err),
                 0);

    _cleanup_strv_ char **all = NULL;
    KT_ASSERT_OK(kk_ctd_content_list(client, ns, &all, &err), &err);
    KT_ASSERT(has(all, ds) && has(all, db) && has(all, dother));

    KT_ASSERT_OK(kk_ctd_content_delete(client, ns, db, &err), &err);
    KT_ASSERT(kk_ctd_content_info(client, ns, db, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_ctd_lease_delete(client, ns, "kktest-content", true, &err), &err);
}

struct writer_arg {
    struct kk_ctd *c;
    const char *digest, *data;
    size_t len;
    int rc;
    kk_code code;
};

static void *write_blob(void *arg)
{
    struct writer_arg *w = arg;
    kk_error *err = NULL;
    w->rc = kk_ctd_content_write_mem(w->c, ns, NULL, w->digest, w->data, w->len, NULL, &err);
    w->code = kk_error_code(err);
    kk_error_free(err);
    return NULL;
}

KT_CASE(content_concurrent_writers)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    KT_ASSERT_OK(kk_ctd_lease_create(client, ns, "kktest-concurrent", 600, &err), &err);
    _cleanup_ctd_ struct kk_ctd *leased = NULL;
    KT_ASSERT_OK(kk_ctd_with_lease(client, "kktest-concurrent", &leased, &err), &err);
    size_t len = (5u << 20) + 3;
    _cleanup_free_ char *data = kk_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 13 + i / 777);
    _cleanup_free_ char *d = kt_sha256(data, len);
    struct writer_arg w[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (struct writer_arg){leased, d, data, len, -9, KK_E_OK};
        pthread_create(&t[i], NULL, write_blob, &w[i]);
    }
    int written = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        KT_ASSERT_MSG(w[i].rc >= 0, "writer %d: rc %d code %s", i, w[i].rc,
                      kk_code_name(w[i].code));
        written += w[i].rc == 0;
    }
    KT_ASSERT(written >= 1);
    _cleanup_buf_ struct kk_buf back = KK_BUF_INIT;
    KT_ASSERT_OK(kk_ctd_content_read(client, ns, d, 8u << 20, &back, &err), &err);
    KT_ASSERT_EQ(back.len, len);
    KT_ASSERT(memcmp(back.data, data, len) == 0);
    KT_ASSERT_OK(kk_ctd_lease_delete(client, ns, "kktest-concurrent", true, &err), &err);
}

KT_CASE(leases_protect_content)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    KT_ASSERT_OK(kk_ctd_lease_create(client, ns, "kktest-lease", 600, &err), &err);
    KT_ASSERT(kk_ctd_lease_create(client, ns, "kktest-lease", 600, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS);
    kk_error_freep(&err);
    _cleanup_strv_ char **ids = NULL;
    KT_ASSERT_OK(kk_ctd_lease_list(client, ns, &ids, &err), &err);
    KT_ASSERT(has(ids, "kktest-lease"));

    _cleanup_ctd_ struct kk_ctd *leased = NULL;
    KT_ASSERT_OK(kk_ctd_with_lease(client, "kktest-lease", &leased, &err), &err);
    const char blob[] = "leased blob";
    _cleanup_free_ char *d = kt_sha256(blob, strlen(blob));
    KT_ASSERT_EQ(kk_ctd_content_write_mem(leased, ns, NULL, d, blob, strlen(blob), NULL, &err), 0);
    KT_ASSERT_OK(kk_ctd_content_info(client, ns, d, NULL, &err), &err);
    /* Deleting the lease with sync collects what only it held. */
    KT_ASSERT_OK(kk_ctd_lease_delete(client, ns, "kktest-lease", true, &err), &err);
    KT_ASSERT(kk_ctd_content_info(client, ns, d, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
}

KT_CASE(image_records)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char manifest[] = "{\"schemaVersion\":2}";
    _cleanup_free_ char *d = kt_sha256(manifest, strlen(manifest));
    struct kk_ctd_desc target = {"application/vnd.oci.image.manifest.v1+json", d,
                                 (int64_t)strlen(manifest)};
    const char *name = "docker.io/kktest/busybox:latest";
    const char *l1[] = {"kukeon.io/test", "one", NULL};
    const char *l2[] = {"kukeon.io/test", "two", NULL};
    KT_ASSERT_OK(kk_ctd_image_put(client, ns, name, &target, l1, &err), &err);
    KT_ASSERT_OK(kk_ctd_image_put(client, ns, name, &target, l2, &err), &err); /* update */
    struct kk_ctd_image img = {0};
    KT_ASSERT_OK(kk_ctd_image_get(client, ns, name, &img, &err), &err);
    bool ok = strcmp(img.digest, d) == 0 && img.size == (int64_t)strlen(manifest) &&
              label(img.labels, "kukeon.io/test") &&
              strcmp(label(img.labels, "kukeon.io/test"), "two") == 0;
    kk_ctd_image_clear(&img);
    KT_ASSERT(ok);

    struct kk_ctd_image *v = NULL;
    size_t n = 0;
    KT_ASSERT_OK(kk_ctd_image_list(client, ns, "name~=\"kktest\"", &v, &n, &err), &err);
    bool listed = n == 1 && strcmp(v[0].name, name) == 0;
    kk_ctd_image_list_free(v, n);
    KT_ASSERT(listed);
    KT_ASSERT_OK(kk_ctd_image_list(client, ns, "name==\"other\"", &v, &n, &err), &err);
    kk_ctd_image_list_free(v, n);
    KT_ASSERT_EQ(n, 0);

    KT_ASSERT_OK(kk_ctd_image_delete(client, ns, name, true, &err), &err);
    KT_ASSERT(kk_ctd_image_get(client, ns, name, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
}

/* A one-file tar made by tar(1), as a layer. */
static int make_layer(const char *dir, struct kk_buf *tar, kk_error **err)
{
    _cleanup_free_ char *src = kk_xasprintf("%s/src", dir);
    _cleanup_free_ char *file = kk_xasprintf("%s/src/hello.txt", dir);
    _cleanup_free_ char *out = kk_xasprintf("%s/layer.tar", dir);
    if (mkdir(src, 0755) < 0)
        return kk_error_errno(err, "mkdir %s", src);
    _cleanup_close_ int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, "hello from a layer\n", 19) != 19)
        return kk_error_errno(err, "write %s", file);
    _cleanup_free_ char *cmd = kk_xasprintf("tar -C %s -cf %s hello.txt", src, out);
    if (system(cmd) != 0)
        return kk_error_set(err, KK_E_INTERNAL, "%s failed", cmd);
    _cleanup_close_ int in = open(out, O_RDONLY | O_CLOEXEC);
    if (in < 0 || kk_buf_read_fd(tar, in, 1 << 20) < 0)
        return kk_error_errno(err, "read %s", out);
    return 0;
}

KT_CASE(snapshots_and_diff_apply)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    _cleanup_free_ char *scratch = kk_xasprintf("%s/mnt", kt_tmpdir());
    KT_ASSERT(mkdir(scratch, 0755) == 0);
    KT_ASSERT_OK(kt_busybox_snapshot(client, ns, "kktest-rootfs", scratch, &err), &err);
    struct kk_ctd_snapshot_info info = {0};
    KT_ASSERT_OK(kk_ctd_snapshot_stat(client, ns, NULL, "kktest-rootfs", &info, &err), &err);
    enum kk_ctd_snapshot_kind kind = info.kind;
    kk_ctd_snapshot_info_clear(&info);
    KT_ASSERT_EQ(kind, KK_CTD_SNAPSHOT_COMMITTED);

    /* A layer applied on top of it, through Diff.Apply. */
    _cleanup_buf_ struct kk_buf tar = KK_BUF_INIT;
    KT_ASSERT_OK(make_layer(kt_tmpdir(), &tar, &err), &err);
    _cleanup_free_ char *d = kt_sha256(tar.data, tar.len);
    KT_ASSERT_OK(kk_ctd_lease_create(client, ns, "kktest-diff", 600, &err), &err);
    _cleanup_ctd_ struct kk_ctd *leased = NULL;
    KT_ASSERT_OK(kk_ctd_with_lease(client, "kktest-diff", &leased, &err), &err);
    KT_ASSERT(kk_ctd_content_write_mem(leased, ns, NULL, d, tar.data, tar.len, NULL, &err) >= 0);
    struct kk_ctd_mounts m = {0};
    KT_ASSERT_OK(kk_ctd_snapshot_prepare(leased, ns, NULL, "kktest-extract", "kktest-rootfs", NULL,
                                         &m, &err),
                 &err);
    _cleanup_free_ char *first_type = kk_xstrdup(m.n ? m.v[0].type : "");
    struct kk_ctd_desc layer = {"application/vnd.oci.image.layer.v1.tar", d, (int64_t)tar.len};
    _cleanup_free_ char *applied = NULL;
    int r = kk_ctd_diff_apply(client, ns, &layer, &m, &applied, &err);
    kk_ctd_mounts_clear(&m);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT_STREQ(first_type, "overlay");
    KT_ASSERT_STREQ(applied, d); /* uncompressed: the diffID is the digest */
    KT_ASSERT_OK(
            kk_ctd_snapshot_commit(leased, ns, NULL, "kktest-layer2", "kktest-extract", NULL, &err),
            &err);

    /* A view of the result holds both the busybox and the layer's file. */
    KT_ASSERT_OK(kk_ctd_snapshot_view(client, ns, NULL, "kktest-view", "kktest-layer2", &m, &err),
                 &err);
    r = kt_mount_all(&m, scratch, &err);
    kk_ctd_mounts_clear(&m);
    KT_ASSERT_OK(r, &err);
    _cleanup_free_ char *hello_path = kk_xasprintf("%s/hello.txt", scratch);
    _cleanup_free_ char *bb_path = kk_xasprintf("%s/bin/busybox", scratch);
    _cleanup_free_ char *hello = kt_read_file(hello_path);
    bool bb = access(bb_path, X_OK) == 0;
    umount2(scratch, MNT_DETACH);
    KT_ASSERT_STREQ(hello, "hello from a layer\n");
    KT_ASSERT(bb);

    struct kk_ctd_snapshot_info *v = NULL;
    size_t n = 0;
    KT_ASSERT_OK(kk_ctd_snapshot_list(client, ns, NULL, &v, &n, &err), &err);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, "kktest-layer2") == 0 && strcmp(v[i].parent, "kktest-rootfs") == 0)
            seen++;
        if (strcmp(v[i].name, "kktest-view") == 0 && v[i].kind == KK_CTD_SNAPSHOT_VIEW)
            seen++;
    }
    kk_ctd_snapshot_list_free(v, n);
    KT_ASSERT_EQ(seen, 2);
    KT_ASSERT_OK(kk_ctd_snapshot_mounts(client, ns, NULL, "kktest-view", &m, &err), &err);
    kk_ctd_mounts_clear(&m);

    /* A parent with children cannot go; leaves first works. */
    KT_ASSERT(kk_ctd_snapshot_remove(client, ns, NULL, "kktest-layer2", &err) < 0);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_ctd_snapshot_remove(client, ns, NULL, "kktest-view", &err), &err);
    KT_ASSERT_OK(kk_ctd_snapshot_remove(client, ns, NULL, "kktest-layer2", &err), &err);
    KT_ASSERT_OK(kk_ctd_lease_delete(client, ns, "kktest-diff", true, &err), &err);
}

static void ignore_event(const struct kk_ctd_event *ev, void *userdata)
{
    (void)ev, (void)userdata;
}

KT_CASE(containerd_down)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    kt_ctd_stop(fixture);
    int64_t t0 = kk_clock_mono_ms(NULL);
    struct kk_ctd_sub *sub = NULL;
    int r = kk_ctd_subscribe(client, NULL, ignore_event, NULL, &sub, &err);
    long ms = (long)(kk_clock_mono_ms(NULL) - t0);
    kk_ctd_unsubscribe(sub);
    kk_error *down = TAKE_PTR(err);
    int rr = kt_ctd_restart(fixture, &err);
    _cleanup_free_ char *v = NULL;
    int r2 = rr == 0 ? kk_ctd_version(client, &v, NULL, &err) : -1;

    KT_ASSERT_EQ(r, -1);
    KT_ASSERT_MSG(kk_error_code(down) == KK_E_UNAVAILABLE || kk_error_code(down) == KK_E_DEADLINE,
                  "%s", down ? down->message : "(none)");
    kk_error_free(down);
    KT_ASSERT_MSG(ms < 3000, "subscribe took %ld ms to fail", ms);
    KT_ASSERT_OK(rr, &err);
    KT_ASSERT_OK(r2, &err);
}

/* Last: empty the namespace, delete it, stop containerd, check the host. */
KT_CASE(drain_and_leave_nothing)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char blob[] = "left over";
    _cleanup_free_ char *d = kt_sha256(blob, strlen(blob));
    KT_ASSERT_OK(kk_ctd_lease_create(client, ns, "kktest-left", 0, &err), &err);
    _cleanup_ctd_ struct kk_ctd *leased = NULL;
    KT_ASSERT_OK(kk_ctd_with_lease(client, "kktest-left", &leased, &err), &err);
    KT_ASSERT(kk_ctd_content_write_mem(leased, ns, NULL, d, blob, strlen(blob), NULL, &err) >= 0);
    struct kk_ctd_desc target = {"application/vnd.oci.image.manifest.v1+json", d,
                                 (int64_t)strlen(blob)};
    KT_ASSERT_OK(kk_ctd_image_put(client, ns, "kktest/left:1", &target, NULL, &err), &err);
    KT_ASSERT_OK(
            kk_ctd_snapshot_prepare(client, ns, "native", "kktest-native", NULL, NULL, NULL, &err),
            &err);
    KT_ASSERT(kk_ctd_namespace_delete(client, ns, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_PRECONDITION);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_ctd_namespace_drain(client, ns, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_namespace_delete(client, ns, &err), &err);

    _cleanup_free_ char *dir = kk_xstrdup(fixture->dir);
    _cleanup_free_ char *cg = kk_xstrdup(fixture->cgroup_parent);
    pid_t pids[64];
    kt_ctd_pids(fixture, pids, 64);
    kk_ctd_close(TAKE_PTR(leased));
    teardown();
    _cleanup_buf_ struct kk_buf why = KK_BUF_INIT;
    KT_ASSERT_MSG(kt_ctd_leftovers_none(dir, cg, pids, &why), "left behind:%s", kk_buf_str(&why));
}
