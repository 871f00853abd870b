/* Unary call rate on one HTTP/2 connection vs spawning `ctr version` per
 * call, against the same private containerd in the same run.
 *
 *   bench-grpc          (env KK_BENCH_CALLS, KK_BENCH_CTR_CALLS: 5000, 100)
 *
 * Prints the figures and the ratio; the case fails if any call failed.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/containerd/containerd.h"
#include "tests/lib/containerd-fixture.h"
#include "tests/lib/kktest.h"

#define THREADS 4

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct worker {
    struct kk_ctd *c;
    int calls, failed;
};

static void *run_calls(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->calls; i++) {
        kk_error *err = NULL;
        char *v = NULL;
        if (kk_ctd_version(w->c, &v, NULL, &err) < 0)
            w->failed++;
        free(v);
        kk_error_free(err);
    }
    return NULL;
}

static double rate_kukeon(struct kk_ctd *c, int calls, int threads, int *failed)
{
    struct worker w[THREADS];
    pthread_t t[THREADS];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){c, calls / threads, 0};
        pthread_create(&t[i], NULL, run_calls, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        *failed += w[i].failed;
    }
    return (calls / threads * threads) / (now_s() - t0);
}

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
    (void)data, (void)userdata;
    return size * n;
}

/* Reference: one blocking libcurl easy handle on the caller's thread, no
 * I/O thread, no protobuf (what the hand-off to the I/O thread costs). */
static double rate_raw_curl(const char *address, int calls, int *failed)
{
    static const char empty[5] = {0};
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/grpc");
    h = curl_slist_append(h, "TE: trailers");
    double t0 = 0;
    for (int i = 0; i <= calls; i++) {
        if (i == 1)
            t0 = now_s();
        curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, address);
        curl_easy_setopt(e, CURLOPT_URL,
                         "http://localhost/containerd.services.version.v1.Version/Version");
        /* Prior knowledge only to open the connection (curl#10634). */
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                         i == 0 ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                : (long)CURL_HTTP_VERSION_2_0);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, empty);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 5L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        if (curl_easy_perform(e) != CURLE_OK)
            (*failed)++;
    }
    double rate = calls / (now_s() - t0);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rate;
}

static double rate_ctr(const char *address, int calls, int *failed)
{
    double t0 = now_s();
    for (int i = 0; i < calls; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            execlp("ctr", "ctr", "-a", address, "version", (char *)NULL);
            _exit(127);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            (*failed)++;
    }
    return calls / (now_s() - t0);
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : def;
}

static struct kt_ctd *fixture;

static void stop_fixture(void)
{
    kt_ctd_destroy(fixture);
    fixture = NULL;
}

KT_CASE(unary_rate_vs_ctr)
{
    KT_REQUIRE_ROOT();
    int calls = env_int("KK_BENCH_CALLS", 5000);
    int ctr_calls = env_int("KK_BENCH_CTR_CALLS", 100);
    _cleanup_error_ kk_error *err = NULL;
    kt_atexit(stop_fixture);
    KT_ASSERT_OK(kt_ctd_start(&fixture, &err), &err);
    _cleanup_ctd_ struct kk_ctd *c = NULL;
    KT_ASSERT_OK(kk_ctd_open(fixture->address, NULL, &c, &err), &err);
    int failed = 0;
    rate_kukeon(c, 200, 1, &failed); /* warm-up: the connection opens */
    double one = rate_kukeon(c, calls, 1, &failed);
    double four = rate_kukeon(c, calls, THREADS, &failed);
    double raw = rate_raw_curl(fixture->address, calls, &failed);
    double ctr = rate_ctr(fixture->address, ctr_calls, &failed);

    printf("bench-grpc: kukeon Version, 1 connection, 1 thread:  %8.0f calls/s (%d calls)\n", one,
           calls);
    printf("bench-grpc: kukeon Version, 1 connection, %d threads: %8.0f calls/s (%d calls)\n",
           THREADS, four, calls);
    printf("bench-grpc: reference, raw libcurl easy handle:     %8.0f calls/s (%d calls)\n", raw,
           calls);
    printf("bench-grpc: ctr version, one process per call:     %8.1f calls/s (%d calls)\n", ctr,
           ctr_calls);
    printf("bench-grpc: ratio kukeon/ctr: %.0fx (1 thread), %.0fx (%d threads); goal >= 50x\n",
           one / ctr, four / ctr, THREADS);
    fflush(stdout);
    KT_ASSERT_EQ(failed, 0);
}
