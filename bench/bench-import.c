/* Import + unpack of an image archive: kukeon (kk_image_import in-process,
 * and the `kuke image load` command) vs `ctr images import`, against one
 * private containerd, each import into a fresh namespace, sides interleaved
 * (and their order alternated) in the same run.
 *
 *   bench-import        (env KK_BENCH_IMPORTS: 5 rounds per archive)
 *
 * Archives, built offline with contrib/mkimage/mkimage.sh:
 *   small: busybox, Docker format, 3 gzip layers (~1 MiB)
 *   large: busybox + 32 MiB of incompressible filler, OCI, 2 plain layers
 * Prints the median wall time of each side and the ratios (goal ≤ 1.0×).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include "fsapi/log.h"
#include "runtime/image/image.h"
#include "tests/lib/containerd-fixture.h"
#include "tests/lib/kktest.h"

#define MAX_ROUNDS 50

static struct kt_ctd *fixture;

static void stop_fixture(void)
{
    kt_ctd_destroy(fixture);
    fixture = NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int run(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char *kuke_path(void)
{
    const char *bin = getenv("KUKEON_BIN");
    return kk_xasprintf("%s/kuke", bin ? bin : "build/bin");
}

static void bench_archive(const char *label, const char *archive, int rounds)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ctd_ struct kk_ctd *c = NULL;
    _cleanup_free_ char *kuke = kuke_path();
    double lib[MAX_ROUNDS], cli[MAX_ROUNDS], ctr[MAX_ROUNDS];
    bool have_cli = access(kuke, X_OK) == 0;

    KT_ASSERT_OK(kk_ctd_open(fixture->address, NULL, &c, &err), &err);
    for (int i = 0; i < rounds; i++) {
        char ns_lib[64], ns_cli[64], ns_ctr[64];
        snprintf(ns_lib, sizeof(ns_lib), "kkb-%s-lib-%d-%d", label, (int)getpid(), i);
        snprintf(ns_cli, sizeof(ns_cli), "kkb-%s-cli-%d-%d", label, (int)getpid(), i);
        snprintf(ns_ctr, sizeof(ns_ctr), "kkb-%s-ctr-%d-%d", label, (int)getpid(), i);
        char *ctr_argv[] = {"ctr",    "-a",     fixture->address, "-n", ns_ctr,
                            "images", "import", (char *)archive,  NULL};
        char *cli_argv[] = {kuke, "image", "load",          "-q", "-a", fixture->address,
                            "-n", ns_cli,  (char *)archive, NULL};
        for (int side = 0; side < 3; side++) {
            /* Rotate who goes first, so no side always gets a warm cache. */
            int which = (side + i) % 3;
            double t0 = now_ms();
            if (which == 0) {
                KT_ASSERT_OK(kk_image_import(c, ns_lib, archive, NULL, NULL, &err), &err);
                lib[i] = now_ms() - t0;
            } else if (which == 1) {
                KT_ASSERT_EQ(run(ctr_argv), 0);
                ctr[i] = now_ms() - t0;
            } else if (have_cli) {
                KT_ASSERT_EQ(run(cli_argv), 0);
                cli[i] = now_ms() - t0;
            }
        }
    }
    double l = median(lib, rounds), r = median(ctr, rounds);
    printf("%s (%s): kk_image_import %.1f ms, `ctr images import` %.1f ms, ratio %.2fx\n", label,
           archive, l, r, l / r);
    if (have_cli) {
        double k = median(cli, rounds);
        printf("%s: `kuke image load` %.1f ms, ratio %.2fx\n", label, k, k / r);
    }
}

KT_CASE(import_vs_ctr)
{
    KT_REQUIRE_ROOT();
    const char *e = getenv("KK_BENCH_IMPORTS");
    int rounds = e && atoi(e) > 0 ? atoi(e) : 5;
    if (rounds > MAX_ROUNDS)
        rounds = MAX_ROUNDS;
    _cleanup_error_ kk_error *err = NULL;
    if (getenv("KK_BENCH_DEBUG"))
        kk_log_set_level(KK_LOG_DEBUG);
    kt_atexit(stop_fixture);
    KT_ASSERT_OK(kt_ctd_start(&fixture, &err), &err);

    const char *src = getenv("KUKEON_SRC") ? getenv("KUKEON_SRC") : ".";
    _cleanup_free_ char *small = kk_xasprintf("%s/small.tar", kt_tmpdir());
    _cleanup_free_ char *large = kk_xasprintf("%s/large.tar", kt_tmpdir());
    _cleanup_free_ char *mk_small = kk_xasprintf(
            "%s/contrib/mkimage/mkimage.sh --format docker --layers 3 --gzip -o %s", src, small);
    _cleanup_free_ char *mk_large = kk_xasprintf(
            "%s/contrib/mkimage/mkimage.sh --format oci --layers 2 --filler 32 -o %s", src, large);
    KT_ASSERT_EQ(system(mk_small), 0);
    KT_ASSERT_EQ(system(mk_large), 0);

    printf("rounds: %d per side, fresh namespace per import, medians\n", rounds);
    bench_archive("small", small, rounds);
    if (kt_failed())
        return;
    bench_archive("large", large, rounds);
}
