#include "tests/lib/kktest.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "fsapi/cleanup.h"

struct kt_entry {
    const char *name;
    kt_fn fn;
};

static struct kt_entry *cases;
static size_t n_cases, cap_cases;
static bool current_failed;
static char *current_tmp;
static void (*exit_fns[16])(void);
static size_t n_exit_fns;

void kt_register(const char *name, kt_fn fn)
{
    void *p = cases;
    kk_xgrow(&p, &cap_cases, n_cases + 1, sizeof(*cases));
    cases = p;
    cases[n_cases++] = (struct kt_entry){name, fn};
}

static const char *progname(void)
{
    extern char *program_invocation_short_name;
    return program_invocation_short_name;
}

void kt_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    fprintf(stderr, "  %s:%d: %s\n", file, line, msg);
    current_failed = true;
}

bool kt_failed(void)
{
    return current_failed;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

const char *kt_tmpdir(void)
{
    if (!current_tmp) {
        const char *base = getenv("TMPDIR");
        current_tmp = kk_xasprintf("%s/kktest-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(current_tmp)) {
            perror("mkdtemp");
            abort();
        }
    }
    return current_tmp;
}

static void run_exit_fns(void)
{
    while (n_exit_fns > 0)
        exit_fns[--n_exit_fns]();
}

void kt_atexit(void (*fn)(void))
{
    for (size_t i = 0; i < n_exit_fns; i++)
        if (exit_fns[i] == fn)
            return;
    if (n_exit_fns < KK_ARRAY_SIZE(exit_fns))
        exit_fns[n_exit_fns++] = fn;
}

static void on_fatal(int sig)
{
    run_exit_fns();
    signal(sig, SIG_DFL);
    raise(sig);
}

static bool selected(int argc, char **argv, const char *name)
{
    if (argc <= 1)
        return true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    int failed = 0;
    signal(SIGINT, on_fatal);
    signal(SIGTERM, on_fatal);
    signal(SIGABRT, on_fatal);
    signal(SIGSEGV, on_fatal);
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < n_cases; i++) {
        if (!selected(argc, argv, cases[i].name))
            continue;
        current_failed = false;
        fprintf(stderr, "RUN: %s/%s\n", progname(), cases[i].name);
        cases[i].fn();
        if (current_tmp) {
            nftw(current_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            free(current_tmp);
            current_tmp = NULL;
        }
        fflush(stderr);
        printf("%s: %s/%s\n", current_failed ? "FAIL" : "PASS", progname(), cases[i].name);
        fflush(stdout);
        failed += current_failed;
    }
    run_exit_fns();
    free(cases);
    return failed ? 1 : 0;
}
