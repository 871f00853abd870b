/* Pull of a multi-layer image from a loopback docker-registry: kukeon's
 * registry client (kk_registry_pull: fetch, verify, write to containerd,
 * unpack) vs `ctr images pull --plain-http` (which also unpacks), both
 * into one private containerd, and vs `skopeo copy` into an OCI directory
 * (fetch only, no containerd) as a second reference. Interleaved, with the
 * order alternating each round.
 *
 *   bench-pull   (env KK_BENCH_PULLS: rounds, default 5;
 *                 KK_BENCH_PULL_MIB: MiB of incompressible filler in the
 *                 first layer, default 32)
 *
 * Every round pulls into fresh namespaces, and each side's namespace is
 * removed (with a synchronous garbage collection) before the other side
 * runs: containerd shares blobs between namespaces, so neither side may
 * find content the other one fetched. A re-pull (all content present,
 * already unpacked) is measured for both as well.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fsapi/log.h"
#include "runtime/containerd/containerd.h"
#include "runtime/registry/registry.h"
#include "tests/integration/test-registry-util.h"
#include "tests/lib/containerd-fixture.h"
#include "tests/lib/kktest.h"

static struct kt_ctd *fixture;
static struct kt_registry *reg;

static void stop_all(void)
{
    kt_registry_stop(reg);
    reg = NULL;
    kt_ctd_destroy(fixture);
    fixture = NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : def;
}

/* Drains and deletes ns, then collects garbage synchronously. */
static void wipe(struct kk_ctd *c, const char *ns)
{
    kk_error *err = NULL;
    if (kk_ctd_namespace_drain(c, ns, NULL, &err) == 0)
        kk_ctd_namespace_delete(c, ns, &err);
    kk_error_freep(&err);
    _cleanup_free_ char *gcns = kk_xasprintf("kkbench-gc-%d", (int)getpid());
    if (kk_ctd_lease_create(c, gcns, "gc", 60, &err) == 0)
        kk_ctd_lease_delete(c, gcns, "gc", true, &err);
    kk_error_freep(&err);
}

static double kukeon_pull(struct kk_registry *r, struct kk_ctd *c, const char *ns, const char *ref,
                          bool unpack, size_t *fetched)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_registry_pull_result res = {0};
    struct kk_registry_pull_opts o = {.no_unpack = !unpack};
    double t0 = now_ms();
    if (kk_registry_pull(r, c, ns, ref, &o, &res, &err) < 0) {
        fprintf(stderr, "bench-pull: %s\n", err->message);
        return -1;
    }
    double t = now_ms() - t0;
    *fetched = res.blobs_fetched;
    kk_registry_pull_result_clear(&res);
    return t;
}

static double timed_sh(const char *cmd)
{
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    double t0 = now_ms();
    if (kt_sh(&out, "%s", cmd) != 0) {
        fprintf(stderr, "bench-pull: %s: %s\n", cmd, kk_buf_str(&out));
        return -1;
    }
    return now_ms() - t0;
}

KT_CASE(pull_vs_ctr_and_skopeo)
{
    _cleanup_error_ kk_error *err = NULL;
    int rounds = env_int("KK_BENCH_PULLS", 5);
    int mib = env_int("KK_BENCH_PULL_MIB", 32);
    const char *src = getenv("KUKEON_SRC") ? getenv("KUKEON_SRC") : ".";
    struct kk_ctd *c = NULL;

    KT_REQUIRE_ROOT();
    if (getenv("KK_BENCH_DEBUG"))
        kk_log_set_level(KK_LOG_DEBUG);
    kt_atexit(stop_all);
    if (kt_ctd_start(&fixture, &err) < 0 || kk_ctd_open(fixture->address, NULL, &c, &err) < 0 ||
        kt_registry_start(NULL, NULL, NULL, &reg, &err) < 0) {
        kt_fail(__FILE__, __LINE__, "%s", err->message);
        return;
    }
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    if (kt_sh(&out,
              "set -e; cd %s; %s/contrib/mkimage/mkimage.sh --layers 3 --gzip --filler %d "
              "-o %s/bench.tar; skopeo copy -q --dest-tls-verify=false oci-archive:%s/bench.tar "
              "docker://%s/bench:latest; du -k %s/bench.tar | cut -f1",
              src, src, mib, reg->dir, reg->dir, reg->addr, reg->dir) != 0) {
        kt_fail(__FILE__, __LINE__, "image: %s", kk_buf_str(&out));
        return;
    }
    long kib = atol(out.data);

    _cleanup_free_ char *yaml =
            kk_xasprintf("%sregistries:\n  - host: %s\n    insecure: true\n",
                         getenv("KK_BENCH_TMPDIR") ? "tmpDir: /dev/shm\n" : "", reg->addr);
    struct kk_registry_config cfg = {0};
    struct kk_registry *r = NULL;
    if (kk_registry_config_parse("bench", yaml, strlen(yaml), &cfg, &err) < 0 ||
        kk_registry_new(&cfg, &r, &err) < 0) {
        kt_fail(__FILE__, __LINE__, "%s", err->message);
        return;
    }
    kk_registry_config_clear(&cfg);

    _cleanup_free_ char *ref = kk_xasprintf("%s/bench:latest", reg->addr);
    double tk = 0, tc = 0, ts = 0, rk = 0, rc = 0, tf = 0;
    int n = 0;
    for (int i = -1; i < rounds; i++) { /* round -1 warms caches, not counted */
        _cleanup_free_ char *nk = kk_xasprintf("kkbench-k-%d-%d", (int)getpid(), i + 1);
        _cleanup_free_ char *nc = kk_xasprintf("kkbench-c-%d-%d", (int)getpid(), i + 1);
        _cleanup_free_ char *dir = kk_xasprintf("%s/oci-%d", reg->dir, i + 1);
        _cleanup_free_ char *ctr = kk_xasprintf("ctr -a %s -n %s images pull --plain-http %s",
                                                fixture->address, nc, ref);
        _cleanup_free_ char *sko = kk_xasprintf(
                "skopeo copy -q --src-tls-verify=false docker://%s oci:%s:latest", ref, dir);
        double a = 0, b = 0, s = 0, a2 = 0, b2 = 0;
        size_t fetched = 0, none = 0;
        /* Each side pulls, re-pulls and is wiped before the other starts:
         * containerd shares blobs between namespaces, and a side must not
         * find the other's content in the store. */
        for (int side = 0; side < 2; side++) {
            if ((side == 0) == (i % 2 == 0)) {
                a = kukeon_pull(r, c, nk, ref, true, &fetched);
                a2 = kukeon_pull(r, c, nk, ref, true, &none);
                wipe(c, nk);
            } else {
                b = timed_sh(ctr);
                b2 = timed_sh(ctr);
                wipe(c, nc);
            }
        }
        s = timed_sh(sko);
        kt_sh(NULL, "rm -rf '%s'", dir);
        size_t fetched2 = 0;
        double f = kukeon_pull(r, c, nk, ref, false, &fetched2);
        wipe(c, nk);
        if (a < 0 || b < 0 || s < 0 || a2 < 0 || b2 < 0 || f < 0 || fetched != 4 || none != 0 ||
            fetched2 != 4) {
            kt_fail(__FILE__, __LINE__, "round %d failed (fetched %zu, re-pull %zu)", i + 1,
                    fetched, none);
            return;
        }
        if (i < 0)
            continue;
        tk += a, tc += b, ts += s, rk += a2, rc += b2, tf += f;
        n++;
        printf("round %d: kukeon %.1f ms, ctr %.1f ms; re-pull kukeon %.1f ms, ctr %.1f ms; "
               "fetch only: kukeon %.1f ms, skopeo %.1f ms\n",
               n, a, b, a2, b2, f, s);
    }
    printf("image: 3 gzip layers, %ld KiB compressed\n", kib);
    printf("pull (fetch + verify + unpack), mean of %d: kukeon %.1f ms, ctr images pull %.1f ms: "
           "%.2fx\n",
           n, tk / n, tc / n, tk / tc);
    printf("fetch only (no unpack): kukeon into containerd %.1f ms, skopeo copy to an OCI dir "
           "%.1f ms: %.2fx\n",
           tf / n, ts / n, tf / ts);
    printf("re-pull (all present): kukeon %.1f ms, ctr %.1f ms: %.2fx\n", rk / n, rc / n, rk / rc);
    kk_registry_free(r);
    kk_ctd_close(c);
    stop_all();
}
