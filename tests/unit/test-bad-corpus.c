/* The bad-manifest corpus: every tests/bad/ file (*.yaml) starts with
 *
 *     # expect: LINE:COL: PATH: MESSAGE-PREFIX
 *
 * and must be rejected with a diagnostic at exactly LINE:COL whose
 * "PATH: MESSAGE" contains the rest, within 100 ms. Cases too big to commit
 * (10 MiB, thousands of levels or documents) are generated here. */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsapi/manifest.h"
#include "tests/lib/kktest.h"

#define FAST_MS 100.0

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Valgrind slows everything ~50x; the budget is for real runs. */
static double budget_ms(double ms)
{
    const char *w = getenv("KK_TEST_WRAPPER");
    return w && strstr(w, "valgrind") ? ms * 50 : ms;
}

static const char *src_dir(void)
{
    const char *s = getenv("KUKEON_SRC");
    return s ? s : ".";
}

/* Whether some diagnostic is at line:col and its "path: message" contains
 * want. */
static bool has_diag(const struct kk_diags *diags, unsigned line, unsigned col, const char *want)
{
    for (size_t i = 0; i < diags->n; i++) {
        const struct kk_diag *d = &diags->items[i];
        if (d->line != line || d->col != col)
            continue;
        _cleanup_free_ char *text =
                kk_xasprintf("%s%s%s", d->path, *d->path ? ": " : "", d->message);
        if (strstr(text, want))
            return true;
    }
    return false;
}

static void dump(const struct kk_diags *diags)
{
    kk_diags_print(diags, stderr);
}

/* Loads data, which must fail at line:col with want, fast. */
static bool expect_invalid(const char *name, const char *data, size_t len, unsigned line,
                           unsigned col, const char *want, double limit_ms)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    double t0 = now_ms();
    int r = kk_manifest_load_buffer(name, data, len, &m, &diags, &err);
    double ms = now_ms() - t0;
    if (r == 0) {
        kt_fail(__FILE__, __LINE__, "%s: accepted, expected %u:%u: %s", name, line, col, want);
        return false;
    }
    if (kk_error_code(err) != KK_E_INVALID || diags.n == 0) {
        kt_fail(__FILE__, __LINE__, "%s: failed without diagnostics: %s", name, err->message);
        return false;
    }
    if (!has_diag(&diags, line, col, want)) {
        kt_fail(__FILE__, __LINE__, "%s: no diagnostic %u:%u: %s; got:", name, line, col, want);
        dump(&diags);
        return false;
    }
    if (ms > budget_ms(limit_ms)) {
        kt_fail(__FILE__, __LINE__, "%s: took %.1f ms (limit %.0f ms)", name, ms,
                budget_ms(limit_ms));
        return false;
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

KT_CASE(every_corpus_file_fails_as_expected)
{
    _cleanup_free_ char *dir = kk_xasprintf("%s/tests/bad", src_dir());
    _cleanup_closedir_ DIR *d = opendir(dir);
    KT_ASSERT_MSG(d, "opendir %s", dir);
    _cleanup_strv_ char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        names = kk_xrealloc(names, (n + 2) * sizeof(*names));
        names[n++] = kk_xstrdup(e->d_name);
        names[n] = NULL;
    }
    KT_ASSERT_MSG(n >= 40, "only %zu corpus files", n);
    qsort(names, n, sizeof(*names), cmp_str);

    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = kk_xasprintf("%s/%s", dir, names[i]);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
        KT_ASSERT(fd >= 0 && kk_buf_read_fd(&b, fd, 1 << 20) == 0);
        unsigned line, col;
        int used = 0;
        if (sscanf(kk_buf_str(&b), "# expect: %u:%u: %n", &line, &col, &used) != 2 || !used) {
            kt_fail(__FILE__, __LINE__, "%s: first line is not '# expect: L:C: text'", names[i]);
            continue;
        }
        const char *want = kk_buf_str(&b) + used;
        _cleanup_free_ char *w = kk_xstrndup(want, strcspn(want, "\n"));
        ok += expect_invalid(names[i], kk_buf_str(&b), b.len, line, col, w, FAST_MS);
    }
    KT_ASSERT_EQ(ok, n);
}

KT_CASE(truly_empty_input_is_invalid)
{
    KT_ASSERT(expect_invalid("empty", "", 0, 1, 1, "no manifest", FAST_MS));
    KT_ASSERT(expect_invalid("blank", "\n\n   \n", 6, 1, 1, "no manifest", FAST_MS));
    KT_ASSERT(expect_invalid("separators", "---\n---\n...\n", 12, 1, 1, "no manifest", FAST_MS));
}

static char *repeat(const char *s, size_t times, size_t *len)
{
    size_t l = strlen(s);
    char *out = kk_xmalloc(l * times + 1);
    for (size_t i = 0; i < times; i++)
        memcpy(out + i * l, s, l);
    out[l * times] = '\0';
    *len = l * times;
    return out;
}

KT_CASE(ten_mib_file_is_refused_before_reading)
{
    size_t len;
    _cleanup_free_ char *big = repeat("# padding padding padding padding padding padding\n",
                                      10 * 1024 * 1024 / 50, &len);
    KT_ASSERT(len >= 10 * 1000 * 1000);
    KT_ASSERT(expect_invalid("big.yaml", big, len, 1, 1, "larger than 1 MiB", FAST_MS));

    /* the same through a file: refused by size, not by parsing it */
    _cleanup_free_ char *path = kk_xasprintf("%s/big.yaml", kt_tmpdir());
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    KT_ASSERT(fd >= 0);
    KT_ASSERT_EQ(write(fd, big, len), (ssize_t)len);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    double t0 = now_ms();
    KT_ASSERT(kk_manifest_load_file(path, &m, &diags, &err) < 0);
    KT_ASSERT(now_ms() - t0 < budget_ms(FAST_MS));
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    KT_ASSERT(has_diag(&diags, 1, 1, "larger than 1 MiB"));

    /* a pipe has no size: the read itself stops at the limit */
    int p[2];
    KT_ASSERT(pipe(p) == 0);
    pid_t pid = fork();
    KT_ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        ssize_t w = write(p[1], big, 2 * 1024 * 1024);
        _exit(w > 0 ? 0 : 1);
    }
    close(p[1]);
    kk_diags_release(&diags);
    kk_error_freep(&err);
    KT_ASSERT(kk_manifest_load_fd(p[0], "pipe", &m, &diags, &err) < 0);
    close(p[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    KT_ASSERT(has_diag(&diags, 1, 1, "larger than 1 MiB"));
}

KT_CASE(deep_nesting_is_refused)
{
    size_t len;
    _cleanup_free_ char *open_ = repeat("[", 100000, &len);
    _cleanup_free_ char *doc = kk_xasprintf("spec: %s", open_);
    /* depth 1 is the document mapping; the 32nd "[" is the 33rd level */
    KT_ASSERT(
            expect_invalid("deep", doc, strlen(doc), 1, 7 + 31, "nesting deeper than 32", FAST_MS));
    _cleanup_free_ char *maps = repeat("{a: ", 50000, &len);
    KT_ASSERT(expect_invalid("deep-maps", maps, len, 1, 1 + 4 * 32, "nesting deeper than 32",
                             FAST_MS));
}

KT_CASE(too_many_documents_are_refused)
{
    size_t len;
    _cleanup_free_ char *docs = repeat("--- {}\n", 10000, &len);
    KT_ASSERT(expect_invalid("docs", docs, len, 65, 1, "more than 64 documents", FAST_MS));
}

KT_CASE(long_scalar_is_refused)
{
    size_t len;
    _cleanup_free_ char *x = repeat("x", 70000, &len);
    _cleanup_free_ char *doc = kk_xasprintf("apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: "
                                            "%s\n",
                                            x);
    KT_ASSERT(expect_invalid("long", doc, strlen(doc), 4, 9,
                             "metadata.name: limit: string longer "
                             "than 64 KiB",
                             FAST_MS));
}

KT_CASE(too_many_nodes_are_refused)
{
    /* ~1 MiB of distinct keys: over the node budget, caught while parsing */
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    for (unsigned i = 0; b.len < 1000 * 1000; i++)
        kk_buf_printf(&b, "k%u: v\n", i);
    /* the value of k49999 is node 100001, counting the document mapping */
    KT_ASSERT(expect_invalid("nodes", kk_buf_str(&b), b.len, 50000, 9, "more than 100000 nodes",
                             FAST_MS * 3));
}

KT_CASE(duplicate_among_many_keys_is_found_fast)
{
    struct kk_buf b = KK_BUF_INIT;
    kk_buf_adds(&b, "apiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: s\n  labels:\n");
    for (unsigned i = 0; i < 40000; i++)
        kk_buf_printf(&b, "    l%u: v\n", i);
    kk_buf_adds(&b, "    l17: again\n");
    bool ok = expect_invalid("many-keys", kk_buf_str(&b), b.len, 40006, 5,
                             "metadata.labels.l17: duplicate key (first at 23:5)", 1000);
    kk_buf_release(&b);
    KT_ASSERT(ok);
}
