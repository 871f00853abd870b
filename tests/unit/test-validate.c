/* `kuke validate`: exit codes, stdin, and the file:line:col output.
 * Runs the built binary ($KUKEON_BIN/kuke, set by tests/run.sh). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fsapi/buf.h"
#include "fsapi/manifest.h"
#include "tests/lib/kktest.h"

static const char *src_dir(void)
{
    const char *s = getenv("KUKEON_SRC");
    return s ? s : ".";
}

static char *kuke_path(void)
{
    const char *bin = getenv("KUKEON_BIN");
    return bin ? kk_xasprintf("%s/kuke", bin) : kk_xstrdup("build/bin/kuke");
}

/* Runs kuke with args, stdin from `input` (may be NULL); returns the exit
 * status and fills out/errout. */
static int run_kuke(const char *const *args, const char *input, struct kk_buf *out,
                    struct kk_buf *errout)
{
    _cleanup_free_ char *kuke = kuke_path();
    int in[2], o[2], e[2];
    if (pipe(in) < 0 || pipe(o) < 0 || pipe(e) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        dup2(e[1], 2);
        for (int fd = 3; fd < 64; fd++)
            close(fd);
        char *argv[16] = {kuke, "validate"};
        int n = 2;
        for (; args[n - 2] && n < 15; n++)
            argv[n] = (char *)args[n - 2];
        argv[n] = NULL;
        execv(kuke, argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    close(e[1]);
    if (input && write(in[1], input, strlen(input)) < 0)
        kt_fail(__FILE__, __LINE__, "write stdin");
    close(in[1]);
    kk_buf_read_fd(out, o[0], 1 << 20);
    kk_buf_read_fd(errout, e[0], 1 << 20);
    close(o[0]);
    close(e[0]);
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

KT_CASE(examples_are_valid)
{
    _cleanup_free_ char *a = kk_xasprintf("%s/examples/manifests/hello-world.yaml", src_dir());
    _cleanup_free_ char *b = kk_xasprintf("%s/examples/manifests/web-sidecar.yaml", src_dir());
    _cleanup_free_ char *c =
            kk_xasprintf("%s/examples/manifests/standalone-container.yaml", src_dir());
    _cleanup_free_ char *d =
            kk_xasprintf("%s/examples/manifests/realm-space-stack.yaml", src_dir());
    const char *args[] = {a, b, c, d, NULL};
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT, err = KK_BUF_INIT;
    KT_ASSERT_EQ(run_kuke(args, NULL, &out, &err), 0);
    KT_ASSERT_MSG(err.len == 0, "stderr: %s", kk_buf_str(&err));
    KT_ASSERT(strstr(kk_buf_str(&out), "Cell hello-world: valid"));
    KT_ASSERT(strstr(kk_buf_str(&out), "Realm main: valid"));
}

KT_CASE(invalid_file_exits_1_with_positions)
{
    _cleanup_free_ char *good = kk_xasprintf("%s/examples/manifests/hello-world.yaml", src_dir());
    _cleanup_free_ char *bad = kk_xasprintf("%s/tests/bad/two-roots.yaml", src_dir());
    const char *args[] = {"-q", good, bad, NULL};
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT, err = KK_BUF_INIT;
    KT_ASSERT_EQ(run_kuke(args, NULL, &out, &err), 1);
    _cleanup_free_ char *want =
            kk_xasprintf("%s:13:13: spec.containers[1].root: more than one root container", bad);
    KT_ASSERT_MSG(strncmp(kk_buf_str(&err), want, strlen(want)) == 0, "stderr: %s",
                  kk_buf_str(&err));
    KT_ASSERT_EQ(out.len, 0); /* -q */
}

KT_CASE(stdin_and_usage)
{
    const char *dash[] = {"-", NULL};
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT, err = KK_BUF_INIT;
    KT_ASSERT_EQ(run_kuke(dash, "apiVersion: v1beta1\nkind: Pod\n", &out, &err), 1);
    KT_ASSERT_MSG(strstr(kk_buf_str(&err), "<stdin>:2:7: kind: Pod: unknown kind (accepted: "
                                           "Realm, Space, Stack, Cell, Container)"),
                  "stderr: %s", kk_buf_str(&err));
    kk_buf_reset(&out);
    kk_buf_reset(&err);
    KT_ASSERT_EQ(
            run_kuke(dash, "kind: Stack\napiVersion: v1beta1\nmetadata: {name: s}\n", &out, &err),
            0);
    const char *none[] = {NULL};
    KT_ASSERT_EQ(run_kuke(none, NULL, &out, &err), 2);
    const char *bogus[] = {"--frobnicate", "x", NULL};
    KT_ASSERT_EQ(run_kuke(bogus, NULL, &out, &err), 2);
    const char *missing[] = {"/nonexistent/x.yaml", NULL};
    kk_buf_reset(&err);
    KT_ASSERT_EQ(run_kuke(missing, NULL, &out, &err), 1);
    KT_ASSERT(strstr(kk_buf_str(&err), "No such file"));
}

KT_CASE(diagnostics_come_in_source_order)
{
    static const char doc[] = "kind: Pod\napiVersion: v2\n";
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    KT_ASSERT(kk_manifest_load_buffer("o", doc, strlen(doc), &m, &diags, &err) < 0);
    KT_ASSERT_EQ(diags.n, 2);
    KT_ASSERT_EQ(diags.items[0].line, 1);
    KT_ASSERT_STREQ(diags.items[0].path, "kind");
    KT_ASSERT_EQ(diags.items[1].line, 2);
}

KT_CASE(many_errors_are_capped)
{
    struct kk_buf b = KK_BUF_INIT;
    kk_buf_adds(&b, "apiVersion: v1beta1\nkind: Stack\nmetadata: {name: s}\nspec:\n");
    for (int i = 0; i < 500; i++)
        kk_buf_printf(&b, "  bogus%d: 1\n", i);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    int r = kk_manifest_load_buffer("many", kk_buf_str(&b), b.len, &m, &diags, &err);
    kk_buf_release(&b);
    KT_ASSERT(r < 0);
    KT_ASSERT_EQ(diags.n, KK_DIAGS_MAX);
    KT_ASSERT_EQ(diags.dropped, 400);
}
