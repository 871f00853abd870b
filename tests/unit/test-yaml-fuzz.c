/* Mutation fuzzing of the loader, deterministic (fixed seed): the examples
 * with bytes flipped, inserted, deleted, lines duplicated or cut off. Every
 * input must load or fail with diagnostics, fast, without crashing (ASan and
 * valgrind watch the rest), and whatever loads must survive a round trip
 * with an equal model and hash. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsapi/hash.h"
#include "fsapi/manifest.h"
#include "tests/lib/kktest.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    /* xorshift64*: reproducible across libcs, unlike rand() */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static bool under_valgrind(void)
{
    const char *w = getenv("KK_TEST_WRAPPER");
    return w && strstr(w, "valgrind");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Bytes that matter to YAML, to make mutations interesting. */
static const char interesting[] = ":-[]{}&*!|>'\"#%@`,? \n\t0aZ\\~";

static void mutate(struct kk_buf *b)
{
    int ops = 1 + (int)(rnd() % 4);
    for (int k = 0; k < ops && b->len > 0; k++) {
        size_t at = rnd() % b->len;
        switch (rnd() % 6) {
        case 0: /* replace a byte */
            b->data[at] = interesting[rnd() % (sizeof(interesting) - 1)];
            break;
        case 1: { /* insert a byte */
            char c = interesting[rnd() % (sizeof(interesting) - 1)];
            kk_buf_grow(b, 1);
            memmove(b->data + at + 1, b->data + at, b->len - at + 1);
            b->data[at] = c;
            b->len++;
            break;
        }
        case 2: /* delete a byte */
            memmove(b->data + at, b->data + at + 1, b->len - at);
            b->len--;
            break;
        case 3: /* truncate */
            b->len = at;
            b->data[at] = '\0';
            break;
        case 4: { /* duplicate the line at `at` */
            size_t start = at, end = at;
            while (start > 0 && b->data[start - 1] != '\n')
                start--;
            while (end < b->len && b->data[end] != '\n')
                end++;
            if (end < b->len)
                end++;
            _cleanup_free_ char *line = kk_xstrndup(b->data + start, end - start);
            size_t l = end - start;
            kk_buf_grow(b, l);
            memmove(b->data + end + l, b->data + end, b->len - end + 1);
            memcpy(b->data + end, line, l);
            b->len += l;
            break;
        }
        default: /* a random byte, any value */
            b->data[at] = (char)(rnd() & 0xff);
            break;
        }
    }
}

static bool round_trips(const struct kk_manifest *m)
{
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    for (size_t i = 0; i < m->n; i++) {
        kk_buf_adds(&text, "---\n");
        kk_model_emit_spec(m->docs[i], &text);
    }
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *again = NULL;
    if (kk_manifest_load_buffer("re", kk_buf_str(&text), text.len, &again, &diags, &err) < 0) {
        kk_diags_print(&diags, stderr);
        fprintf(stderr, "emitted:\n%s\n", kk_buf_str(&text));
        return false;
    }
    if (again->n != m->n)
        return false;
    for (size_t i = 0; i < m->n; i++) {
        char h1[KK_HASH_SIZE], h2[KK_HASH_SIZE];
        kk_model_spec_hash(m->docs[i], h1);
        kk_model_spec_hash(again->docs[i], h2);
        if (!kk_model_equal(m->docs[i], again->docs[i]) || strcmp(h1, h2) != 0)
            return false;
    }
    return true;
}

static size_t load_examples(struct kk_buf *seeds, size_t max)
{
    const char *src = getenv("KUKEON_SRC");
    _cleanup_free_ char *dir = kk_xasprintf("%s/examples/manifests", src ? src : ".");
    _cleanup_closedir_ DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && n < max && (e = readdir(d));) {
        if (!strstr(e->d_name, ".yaml"))
            continue;
        _cleanup_free_ char *path = kk_xasprintf("%s/%s", dir, e->d_name);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && kk_buf_read_fd(&seeds[n], fd, 1 << 20) == 0)
            n++;
    }
    return n;
}

KT_CASE(mutated_examples_never_crash_and_valid_ones_round_trip)
{
    struct kk_buf seeds[16] = {0};
    size_t nseeds = load_examples(seeds, 16);
    KT_ASSERT(nseeds >= 4);
    int iterations = under_valgrind() ? 300 : 20000;
    size_t loaded = 0, rejected = 0;
    double worst = 0;
    for (int i = 0; i < iterations; i++) {
        const struct kk_buf *seed = &seeds[rnd() % nseeds];
        struct kk_buf b = KK_BUF_INIT;
        kk_buf_add(&b, seed->data, seed->len);
        mutate(&b);
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_error_ kk_error *err = NULL;
        _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
        double t0 = now_ms();
        int r = kk_manifest_load_buffer("fuzz", kk_buf_str(&b), b.len, &m, &diags, &err);
        double ms = now_ms() - t0;
        if (ms > worst)
            worst = ms;
        if (r == 0) {
            loaded++;
            if (!round_trips(m)) {
                fprintf(stderr, "input:\n%s\n", kk_buf_str(&b));
                kk_buf_release(&b);
                KT_ASSERT_MSG(false, "iteration %d: valid input does not round-trip", i);
            }
        } else {
            rejected++;
            if (diags.n == 0 || kk_error_code(err) != KK_E_INVALID) {
                kk_buf_release(&b);
                KT_ASSERT_MSG(false, "iteration %d: rejected without a diagnostic", i);
            }
        }
        kk_buf_release(&b);
    }
    for (size_t i = 0; i < nseeds; i++)
        kk_buf_release(&seeds[i]);
    fprintf(stderr, "  %zu loaded, %zu rejected, slowest %.2f ms\n", loaded, rejected, worst);
    /* both outcomes must be exercised, or the mutator is useless */
    KT_ASSERT(loaded > 0 && rejected > 0);
    KT_ASSERT_MSG(worst < (under_valgrind() ? 5000 : 250), "slowest load %.1f ms", worst);
}
