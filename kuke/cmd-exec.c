/* kuke exec CELL [-c CONTAINER] [-i] [-t] [-e K=V]... [-w DIR] [-u USER] -- CMD...
 *
 * Runs CMD in a running container of CELL through containerd's Tasks.Exec
 * (runtime/containerd/exec.h), as the container's process runs: its env,
 * cwd, user, capabilities, AppArmor profile and noNewPrivileges, with what
 * the flags change. Like `kuke image`, this verb talks to containerd (the
 * agent has no say in an exec).
 *
 * stdio goes through FIFOs in a private 0700 directory: kuke copies its
 * stdin to the exec's (-i; EOF closes it: our end, then Tasks.CloseIO for
 * the shim's) and the exec's stdout and stderr to its own, with poll. -t
 * gives the process a terminal (one stream), puts kuke's terminal in raw
 * mode (restored on every way out) and follows its size (Tasks.ResizePty
 * at start and on SIGWINCH).
 *
 * Signals: SIGINT, SIGTERM and SIGHUP are forwarded to the process once
 * (not with -t, where ^C reaches it through the terminal); a second one,
 * or any with -t, kills it (SIGKILL). On every way out the process is
 * killed if it still runs and deleted (Tasks.DeleteProcess): nothing of an
 * exec outlives kuke, but for a SIGKILL of kuke itself.
 *
 * Exit status: the process's (128+N when a signal N ended it); 127 / 126
 * when runc finds no such command / cannot run it (as a shell); 1 when the
 * exec could not run otherwise (no such cell, not running); 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "fsapi/clock.h"
#include "fsapi/fsutil.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "runtime/containerd/containerd.h"
#include "runtime/containerd/exec.h"
#include "runtime/oci/spec.h"

#define TRY          "kuke exec web -- ls /"
#define IO_CHUNK     65536
#define DRAIN_MS     2000 /* output still read after the process exited */
#define REAP_MS      10000
#define PUMP_CHUNKS  16 /* read per FIFO and turn of the loop */
#define MAX_PASSWD   (1024 * 1024)
#define CALL_TIMEOUT 30000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke exec CELL [OPTIONS] -- COMMAND [ARG...]\n"
            "  -c, --container ID   which container (default: the cell's root container)\n"
            "  -i, --interactive    copy stdin to the command (EOF closes its stdin)\n"
            "  -t, --tty            give the command a terminal (raw mode on kuke's)\n"
            "  -e, --env K=V        set an environment variable (repeatable)\n"
            "  -w, --workdir DIR    working directory (default: the container's)\n"
            "  -u, --user USER      uid[:gid] or name[:group] of the image (default: the "
            "container's)\n"
            "  -a, --containerd-address P   containerd socket (default: "
            "$KUKEON_CONTAINERD_ADDRESS, the config's)\n%s",
            kuke_common_help);
}

struct exec_opts {
    const char *cell, *container, *cwd, *user, *address;
    bool interactive, tty;
    const char **env; /* NULL-terminated; the strings are argv's */
    size_t n_env;
    char **cmd;
};

/* ---- the session ------------------------------------------------------- */

/* On the heap: a waiter thread still blocked in Wait when kuke leaves
 * keeps using it (session_end then leaves it to the process's exit). */
struct session {
    struct kk_ctd *ctd;
    char *ns, *id;
    char exec_id[KK_CTD_EXEC_ID_MAX + 1];
    bool tty, interactive;
    bool created, started;
    char *dir, *in_path, *out_path, *err_path;
    int in_fd, out_fd, err_fd; /* our ends of the FIFOs, -1 once closed */
    int sig_fd;
    /* The waiter thread: blocks in Tasks.Wait, then writes wake[1]. */
    int wake[2];
    pthread_t waiter;
    bool waiter_running, waited;
    uint32_t exit_status;
    kk_error *wait_err;
    /* kuke's terminal, when in raw mode. */
    bool raw;
    struct termios saved;
    /* stdin read but not yet written to the FIFO. */
    char inbuf[IO_CHUNK];
    size_t in_len, in_off;
    bool in_eof;
    bool out_broken; /* kuke's stdout is gone: the output is drained, dropped */
    int interrupts;
    bool start_failed; /* runc could not run the command */
};

static void restore_terminal(struct session *s)
{
    if (s->raw)
        tcsetattr(STDIN_FILENO, TCSADRAIN, &s->saved);
    s->raw = false;
}

static void *waiter_main(void *arg)
{
    struct session *s = arg;
    uint32_t status = 0;
    kk_error *err = NULL;
    kk_ctd_exec_wait(s->ctd, s->ns, s->id, s->exec_id, -1, &status, &err);
    s->exit_status = status;
    s->wait_err = err;
    char one = 1;
    while (write(s->wake[1], &one, 1) < 0 && errno == EINTR) {
    }
    return NULL;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* The terminal size of kuke's stdin or stdout, 0 when neither is one. */
static void term_size(unsigned *rows, unsigned *cols)
{
    struct winsize ws = {0};
    *rows = *cols = 0;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}

static void resize(struct session *s)
{
    unsigned rows, cols;
    term_size(&rows, &cols);
    if (!s->tty || !rows || !cols)
        return;
    _cleanup_error_ kk_error *err = NULL; /* the next SIGWINCH tries again */
    kk_ctd_exec_resize(s->ctd, s->ns, s->id, s->exec_id, cols, rows, &err);
}

/* Whether Wait reported the process's exit (not an error of its own). */
static bool exited(const struct session *s)
{
    return s->waited && !s->wait_err;
}

/* Kills the process; one already gone is fine. */
static void kill_exec(struct session *s, int sig)
{
    if (!s->started || exited(s))
        return;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_ctd_exec_kill(s->ctd, s->ns, s->id, s->exec_id, sig, &err) < 0 &&
        kk_error_code(err) != KK_E_NOT_FOUND)
        fprintf(stderr, "kuke exec: %s\n", err->message);
}

/* Closes the exec's stdin: our end of the FIFO, then the shim's. */
static void close_stdin(struct session *s)
{
    if (s->in_fd < 0)
        return;
    close_fd(&s->in_fd);
    _cleanup_error_ kk_error *err = NULL;
    if (kk_ctd_exec_close_stdin(s->ctd, s->ns, s->id, s->exec_id, &err) < 0 &&
        kk_error_code(err) != KK_E_NOT_FOUND)
        fprintf(stderr, "kuke exec: %s\n", err->message);
}

static void write_all(struct session *s, int fd, const char *p, size_t n)
{
    while (n && !s->out_broken) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            /* A closed pipe (kuke exec ... | head): keep draining the
             * FIFO so the process is not blocked, drop what it writes. */
            s->out_broken = true;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Copies what the FIFO *fd holds to `to`, at most max chunks (so that a
 * flood of output does not starve the signals); closes it at EOF. */
static void pump_out(struct session *s, int *fd, int to, size_t max)
{
    char buf[IO_CHUNK];
    for (size_t i = 0; i < max; i++) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close_fd(fd);
            return;
        }
        write_all(s, to, buf, (size_t)n);
    }
}

static void pump_in_write(struct session *s)
{
    while (s->in_off < s->in_len) {
        ssize_t w = write(s->in_fd, s->inbuf + s->in_off, s->in_len - s->in_off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return;
        if (w < 0) { /* nobody will read it */
            s->in_off = s->in_len;
            break;
        }
        s->in_off += (size_t)w;
    }
    s->in_off = s->in_len = 0;
    if (s->in_eof)
        close_stdin(s);
}

static void pump_in_read(struct session *s)
{
    ssize_t n;
    do
        n = read(STDIN_FILENO, s->inbuf, sizeof(s->inbuf));
    while (n < 0 && errno == EINTR);
    if (n <= 0) { /* EOF, or a terminal gone (EIO): the end of input */
        s->in_eof = true;
        close_stdin(s);
        return;
    }
    s->in_len = (size_t)n;
    s->in_off = 0;
    pump_in_write(s);
}

static void on_signal(struct session *s)
{
    struct signalfd_siginfo si;
    while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGWINCH) {
            resize(s);
            continue;
        }
        /* Forwarded once; then (or with a terminal, where ^C is a byte for
         * the process) the process goes, and kuke with it. */
        s->interrupts++;
        kill_exec(s, !s->tty && s->interrupts == 1 ? sig : SIGKILL);
    }
}

enum { P_SIG, P_WAKE, P_KIN, P_FIN, P_OUT, P_ERR, P_N };

/* Copies stdio until the process exited and its output is read (or
 * DRAIN_MS after its exit: a background child may hold the pipe). */
static void pump(struct session *s)
{
    int64_t deadline = 0;
    for (;;) {
        if (s->waited && s->out_fd < 0 && s->err_fd < 0)
            return;
        struct pollfd p[P_N];
        for (int i = 0; i < P_N; i++)
            p[i] = (struct pollfd){.fd = -1};
        p[P_SIG] = (struct pollfd){.fd = s->sig_fd, .events = POLLIN};
        if (!s->waited)
            p[P_WAKE] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        if (!s->waited && s->in_fd >= 0 && !s->in_eof && s->in_len == 0)
            p[P_KIN] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        if (!s->waited && s->in_fd >= 0 && s->in_len > 0)
            p[P_FIN] = (struct pollfd){.fd = s->in_fd, .events = POLLOUT};
        p[P_OUT] = (struct pollfd){.fd = s->out_fd, .events = POLLIN};
        p[P_ERR] = (struct pollfd){.fd = s->err_fd, .events = POLLIN};
        int timeout = -1;
        if (s->waited) {
            int64_t left = (deadline - kk_clock_mono_ns(NULL)) / 1000000;
            if (left <= 0)
                return;
            timeout = (int)left;
        }
        int r = poll(p, P_N, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        if (p[P_SIG].revents)
            on_signal(s);
        if (p[P_OUT].revents)
            pump_out(s, &s->out_fd, STDOUT_FILENO, PUMP_CHUNKS);
        if (p[P_ERR].revents)
            pump_out(s, &s->err_fd, STDERR_FILENO, PUMP_CHUNKS);
        if (p[P_FIN].revents)
            pump_in_write(s);
        if (p[P_KIN].revents)
            pump_in_read(s);
        if (p[P_WAKE].revents) {
            s->waited = true;
            deadline = kk_clock_mono_ns(NULL) + (int64_t)DRAIN_MS * 1000000;
        }
    }
}

/* Whether the waiter reported within ms. */
static bool await_waiter(struct session *s, int ms)
{
    if (!s->waiter_running || s->waited)
        return true;
    struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
    while (poll(&p, 1, ms) < 0 && errno == EINTR) {
    }
    if (p.revents)
        s->waited = true;
    return s->waited;
}

/* Tasks.DeleteProcess. A process not reaped yet (Wait failed, e.g.
 * containerd restarted; or killed just now) is refused for a moment:
 * tried again for up to REAP_MS. */
static void delete_exec(struct session *s)
{
    for (int64_t t0 = kk_clock_mono_ns(NULL);;) {
        _cleanup_error_ kk_error *err = NULL;
        if (kk_ctd_exec_delete(s->ctd, s->ns, s->id, s->exec_id, NULL, &err) == 0 ||
            kk_error_code(err) == KK_E_NOT_FOUND)
            return;
        bool later =
                kk_error_code(err) == KK_E_PRECONDITION || kk_error_code(err) == KK_E_UNAVAILABLE;
        if (!later || kk_clock_mono_ns(NULL) - t0 > (int64_t)REAP_MS * 1000000) {
            fprintf(stderr, "kuke exec: %s\n", err->message);
            return;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000}, NULL);
    }
}

/* Every way out: nothing of the exec is left (process, FIFOs, terminal
 * mode). */
static void session_end(struct session *s)
{
    restore_terminal(s);
    if (s->created) {
        if (s->started && !exited(s)) {
            kill_exec(s, SIGKILL);
            await_waiter(s, REAP_MS);
        }
        delete_exec(s);
        s->created = false;
    }
    /* What was written before the shim closed the FIFOs. */
    if (s->out_fd >= 0)
        pump_out(s, &s->out_fd, STDOUT_FILENO, SIZE_MAX);
    if (s->err_fd >= 0)
        pump_out(s, &s->err_fd, STDERR_FILENO, SIZE_MAX);
    close_fd(&s->in_fd);
    const char *paths[] = {s->in_path, s->out_path, s->err_path};
    for (size_t i = 0; i < KK_ARRAY_SIZE(paths); i++)
        if (paths[i])
            unlink(paths[i]);
    if (s->dir)
        rmdir(s->dir);
    free(s->in_path);
    free(s->out_path);
    free(s->err_path);
    free(s->dir);
    s->in_path = s->out_path = s->err_path = s->dir = NULL;
    close_fd(&s->sig_fd);
    if (s->waiter_running && s->waited) {
        pthread_join(s->waiter, NULL);
        s->waiter_running = false;
    }
    /* A waiter still blocked uses the client and s: leave them to exit. */
    if (s->waiter_running)
        return;
    kk_error_freep(&s->wait_err);
    kk_ctd_close(s->ctd);
    close_fd(&s->wake[0]);
    close_fd(&s->wake[1]);
    free(s->ns);
    free(s->id);
    free(s);
}

/* ---- setting it up ------------------------------------------------------ */

static int make_fifo(struct session *s, const char *name, char **path, kk_error **err)
{
    *path = kk_xasprintf("%s/%s", s->dir, name);
    if (mkfifo(*path, 0600) < 0) {
        int e = errno;
        free(TAKE_PTR(*path));
        return kk_error_errnum(err, e, "mkfifo %s/%s", s->dir, name);
    }
    return 0;
}

/* The FIFOs and our ends of them, before Tasks.Exec: the shim's opening
 * of stdout for writing blocks Tasks.Start until a reader is there. stdin
 * is opened read-write so that it opens at once, before the shim reads. */
static int open_fifos(struct session *s, kk_error **err)
{
    const char *tmp = getenv("TMPDIR");
    s->dir = kk_xasprintf("%s/kuke-exec-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        int e = errno;
        free(TAKE_PTR(s->dir));
        return kk_error_errnum(err, e, "temporary directory for the exec's FIFOs");
    }
    if (chmod(s->dir, 0700) < 0)
        return kk_error_errno(err, "chmod %s", s->dir);
    if (s->interactive && make_fifo(s, "stdin", &s->in_path, err) < 0)
        return -1;
    if (make_fifo(s, "stdout", &s->out_path, err) < 0)
        return -1;
    if (!s->tty && make_fifo(s, "stderr", &s->err_path, err) < 0)
        return -1;
    const int flags = O_NONBLOCK | O_CLOEXEC;
    if (s->in_path && (s->in_fd = open(s->in_path, O_RDWR | flags)) < 0)
        return kk_error_errno(err, "open %s", s->in_path);
    if ((s->out_fd = open(s->out_path, O_RDONLY | flags)) < 0)
        return kk_error_errno(err, "open %s", s->out_path);
    if (s->err_path && (s->err_fd = open(s->err_path, O_RDONLY | flags)) < 0)
        return kk_error_errno(err, "open %s", s->err_path);
    return 0;
}

static void make_exec_id(char out[KK_CTD_EXEC_ID_MAX + 1])
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint32_t)kk_clock_mono_ns(NULL) ^ (uint32_t)getpid() << 16;
    snprintf(out, KK_CTD_EXEC_ID_MAX + 1, "kuke-exec-%ld-%08" PRIx32, (long)getpid(), r);
}

static int enter_raw(struct session *s, kk_error **err)
{
    if (!s->tty || !s->interactive || !isatty(STDIN_FILENO))
        return 0;
    if (tcgetattr(STDIN_FILENO, &s->saved) < 0)
        return kk_error_errno(err, "terminal settings");
    struct termios raw = s->saved;
    cfmakeraw(&raw);
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) < 0)
        return kk_error_errno(err, "raw terminal mode");
    s->raw = true;
    return 0;
}

/* The signal that arrived before the process started, if any (0). */
static int early_signal(struct session *s)
{
    struct signalfd_siginfo si;
    while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        if (si.ssi_signo != SIGWINCH)
            return (int)si.ssi_signo;
    return 0;
}

/* The exit code of a command runc could not start, as a shell's: 127 not
 * found, 126 found but not runnable; 1 for anything else (a bad cwd...). */
static int start_failure_code(const kk_error *err)
{
    const char *m = err ? err->message : "";
    if (strstr(m, "executable file not found") ||
        (strstr(m, "exec: \"") && strstr(m, "no such file or directory")))
        return 127;
    if (strstr(m, "exec: \"") && strstr(m, "permission denied"))
        return 126;
    return 1;
}

/* Exec, start, copy, wait: the exit code, or -1 with err. */
static int run_session(struct session *s, const struct kk_buf *process, kk_error **err)
{
    if (open_fifos(s, err) < 0)
        return -1;
    struct kk_ctd_exec_io io = {
            .stdin_path = s->in_path,
            .stdout_path = s->out_path,
            .stderr_path = s->err_path,
            .terminal = s->tty,
    };
    if (kk_ctd_exec(s->ctd, s->ns, s->id, s->exec_id, process, &io, err) < 0)
        return -1;
    s->created = true;
    int sig = early_signal(s);
    if (sig)
        return 128 + sig;
    if (pipe2(s->wake, O_CLOEXEC) < 0)
        return kk_error_errno(err, "pipe");
    if (enter_raw(s, err) < 0)
        return -1;
    if (kk_ctd_exec_start(s->ctd, s->ns, s->id, s->exec_id, NULL, err) < 0) {
        s->start_failed = true;
        return -1;
    }
    s->started = true;
    int e = pthread_create(&s->waiter, NULL, waiter_main, s);
    if (e)
        return kk_error_errnum(err, e, "thread");
    s->waiter_running = true;
    resize(s);
    pump(s);
    if (!s->waited) /* poll failed: end it */
        return kk_error_set(err, KK_E_INTERNAL, "lost track of the exec");
    if (s->wait_err) {
        *err = TAKE_PTR(s->wait_err);
        return -1;
    }
    return s->exit_status > 255 ? 255 : (int)s->exit_status;
}

/* ---- what to run -------------------------------------------------------- */

/* The image's passwd or group text, read through the task's root without
 * following a link out of it; NULL if there is none. */
static char *image_file(uint32_t pid, const char *rel)
{
    _cleanup_free_ char *root = kk_xasprintf("/proc/%" PRIu32 "/root", pid);
    _cleanup_error_ kk_error *err = NULL; /* none: names do not resolve */
    _cleanup_close_ int fd = kk_fs_open_root(root, &err);
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    if (fd < 0 || kk_fs_read_file(fd, rel, MAX_PASSWD, &b, &err) < 0)
        return NULL;
    return kk_xstrdup(kk_buf_str(&b));
}

static int build_process(const struct exec_opts *o, const struct kk_ctd_container *ctr,
                         uint32_t task_pid, struct kk_buf *out, kk_error **err)
{
    struct kk_ctd_exec_process p = {
            .args = (const char *const *)o->cmd,
            .cwd = o->cwd,
            .terminal = o->tty,
    };
    if (o->tty)
        term_size(&p.rows, &p.cols);
    _cleanup_free_ const char **env = kk_xcalloc(o->n_env + 2, sizeof(*env));
    _cleanup_free_ char *home = NULL;
    struct kk_oci_user user = {0};
    if (o->user) {
        _cleanup_free_ char *passwd = image_file(task_pid, "etc/passwd");
        _cleanup_free_ char *group = image_file(task_pid, "etc/group");
        if (kk_oci_resolve_user(o->user, passwd, group, &user, err) < 0)
            return kk_error_wrap(err, "--user");
        p.set_user = true;
        p.uid = user.uid;
        p.gid = user.gid;
        p.gids = user.gids;
        p.n_gids = user.n_gids;
        if (user.home)
            home = kk_xasprintf("HOME=%s", user.home);
    }
    size_t n = 0;
    if (home) /* first: an -e HOME=... wins */
        env[n++] = home;
    for (size_t i = 0; i < o->n_env; i++)
        env[n++] = o->env[i];
    p.env = env;
    int r = kk_ctd_exec_process_spec(ctr->spec_json, ctr->spec_len, &p, out, err);
    kk_oci_user_clear(&user);
    return r;
}

/* ---- the verb ------------------------------------------------------------ */

/* The containerd id of the container: what status.yaml reports, else the
 * agent's <space>_<stack>_<cell>_<container>. */
static char *containerd_id(const struct kuke_ctx *ctx, const struct kk_key *cell_key,
                           const char *container)
{
    _cleanup_(kk_status_freep) struct kk_status *st = NULL;
    if (kuke_load_status(ctx, cell_key, &st) == 0) {
        const struct kk_container_status *cs = kk_status_find_container(st, container);
        if (cs && cs->containerd_id && *cs->containerd_id)
            return kk_xstrdup(cs->containerd_id);
    }
    return kk_xasprintf("%s_%s_%s_%s", cell_key->names[1], cell_key->names[2], cell_key->names[3],
                        container);
}

/* Splits argv at "--": options and CELL before it, COMMAND after. Without
 * one, options come before CELL and COMMAND follows it. */
static int parse(int argc, char **argv, struct kuke_ctx *ctx, struct exec_opts *o)
{
    static const struct option opts[] = {
            {"container", required_argument, NULL, 'c'},
            {"interactive", no_argument, NULL, 'i'},
            {"tty", no_argument, NULL, 't'},
            {"env", required_argument, NULL, 'e'},
            {"workdir", required_argument, NULL, 'w'},
            {"user", required_argument, NULL, 'u'},
            {"containerd-address", required_argument, NULL, 'a'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    int dashdash = -1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            dashdash = i;
            break;
        }
    int n = dashdash < 0 ? argc : dashdash;
    o->env = kk_xcalloc((size_t)argc + 1, sizeof(*o->env));
    int c;
    kuke_getopt_reset();
    /* Without "--", getopt stops at CELL: what follows is the command's. */
    while ((c = getopt_long(n, argv, dashdash < 0 ? "+:c:ite:w:u:a:h" : ":c:ite:w:u:a:h", opts,
                            NULL)) != -1) {
        if (kuke_common_option(ctx, c, optarg))
            continue;
        switch (c) {
        case 'c':
            o->container = optarg;
            break;
        case 'i':
            o->interactive = true;
            break;
        case 't':
            o->tty = true;
            break;
        case 'e':
            if (!strchr(optarg, '=') || optarg[0] == '=')
                return kuke_usage_error("exec", "kuke exec web -e FOO=bar -- env",
                                        "-e %s: give KEY=VALUE", optarg);
            o->env[o->n_env++] = optarg;
            break;
        case 'w':
            if (optarg[0] != '/')
                return kuke_usage_error("exec", "kuke exec web -w /tmp -- pwd",
                                        "-w %s: the directory must be absolute", optarg);
            o->cwd = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'a':
            o->address = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return kuke_bad_option("exec", TRY, c, argv);
        }
    }
    if (optind >= n)
        return kuke_usage_error("exec", TRY, "give a CELL and a command");
    o->cell = argv[optind];
    if (dashdash >= 0) {
        if (optind + 1 < n)
            return kuke_usage_error("exec", TRY, "unexpected argument '%s' before '--'",
                                    argv[optind + 1]);
        o->cmd = argv + dashdash + 1;
    } else {
        o->cmd = argv + optind + 1;
        if (o->cmd[0] && o->cmd[0][0] == '-')
            return kuke_usage_error("exec", TRY,
                                    "'%s' after the cell: put options before it and the "
                                    "command after '--'",
                                    o->cmd[0]);
    }
    if (!o->cmd[0])
        return kuke_usage_error("exec", TRY, "no command given");
    return 0;
}

/* The container to run in: its containerd id, namespace, running task. */
struct target {
    char *ns, *id;
    const char *container;
    struct kk_ctd_container ctr;
    struct kk_ctd_task_state task;
};

static void target_clear(struct target *t)
{
    free(t->ns);
    free(t->id);
    kk_ctd_container_clear(&t->ctr);
}

/* Whether the cell has container `id`: in its spec, or a standalone
 * Container spec beneath it. */
static bool has_container(const struct kuke_ctx *ctx, const struct kk_key *cell_key,
                          const struct kk_resource *cell, const char *id)
{
    for (size_t i = 0; i < cell->cell.n_containers; i++)
        if (cell->cell.containers[i].id && strcmp(cell->cell.containers[i].id, id) == 0)
            return true;
    struct kk_key key;
    _cleanup_error_ kk_error *err = NULL; /* an invalid name: no such container */
    _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
    return kk_key_init(&key, KK_LEVEL_CONTAINER, cell_key->names[0], cell_key->names[1],
                       cell_key->names[2], cell_key->names[3], id, &err) == 0 &&
           kuke_load_spec(ctx, &key, KK_KIND_CONTAINER, &spec, &err) == 0;
}

/* Finds CELL's container in the tree; 0, or -1 with err (message ready
 * for the user). */
static int find_target(struct kuke_ctx *ctx, const struct exec_opts *o, struct target *t,
                       struct kk_resource **spec_out, kk_error **err)
{
    struct kk_key cell_key;
    if (kuke_open_state(ctx, err) < 0 ||
        kuke_named_key(ctx, KK_KIND_CELL, o->cell, NULL, &cell_key, err) < 0)
        return -1;
    int r = kuke_load_spec(ctx, &cell_key, KK_KIND_CELL, spec_out, err);
    if (r == 1)
        return kk_error_set(err, KK_E_NOT_FOUND,
                            "cell %s not found in %s/%s/%s; try 'kuke get cells'", o->cell,
                            ctx->realm, ctx->space, ctx->stack);
    if (r < 0)
        return -1;
    t->container = o->container ? o->container : (*spec_out)->cell.root_container_id;
    if (!t->container)
        return kk_error_set(err, KK_E_NOT_FOUND, "cell %s has no containers", o->cell);
    if (!has_container(ctx, &cell_key, *spec_out, t->container))
        return kk_error_set(err, KK_E_NOT_FOUND,
                            "cell %s has no container %s; try 'kuke describe cell %s'", o->cell,
                            t->container, o->cell);
    t->id = containerd_id(ctx, &cell_key, t->container);
    t->ns = kuke_realm_namespace(ctx->state_dir, ctx->realm, kuke_config()->namespace_prefix);
    return 0;
}

/* The container's record and running task; a clear error when there is
 * none (a stopped cell, a wrong -c). */
static int check_running(struct kk_ctd *ctd, const struct exec_opts *o, struct target *t,
                         kk_error **err)
{
    if (kk_ctd_task_get(ctd, t->ns, t->id, &t->task, err) < 0) {
        if (kk_error_code(*err) != KK_E_NOT_FOUND)
            return -1;
        kk_error_freep(err);
        return kk_error_set(err, KK_E_PRECONDITION,
                            "cell %s is not running (container %s has no task); try 'kuke "
                            "get cell %s' or 'kuke start cell %s'",
                            o->cell, t->container, o->cell, o->cell);
    }
    if (t->task.status == KK_CTD_TASK_PAUSED || t->task.status == KK_CTD_TASK_PAUSING)
        return kk_error_set(err, KK_E_PRECONDITION, "cell %s is paused; try 'kuke resume cell %s'",
                            o->cell, o->cell);
    if (t->task.status != KK_CTD_TASK_RUNNING)
        return kk_error_set(err, KK_E_PRECONDITION,
                            "cell %s is not running (container %s is %s); try 'kuke start "
                            "cell %s'",
                            o->cell, t->container, kk_ctd_task_status_name(t->task.status),
                            o->cell);
    if (kk_ctd_container_get(ctd, t->ns, t->id, &t->ctr, err) < 0)
        return -1;
    return 0;
}

/* From the tree to the exit code, o parsed. */
static int exec_in(struct kuke_ctx *ctx, const struct exec_opts *o, struct target *t)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
    if (find_target(ctx, o, t, &spec, &err) < 0)
        return kuke_fail("exec", err);

    /* Signals wait for the loop (signalfd), in every thread: the client's
     * I/O thread and the waiter inherit the mask. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGWINCH);
    signal(SIGPIPE, SIG_IGN);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);

    struct session *s = kk_xcalloc(1, sizeof(*s));
    *s = (struct session){
            .ns = kk_xstrdup(t->ns),
            .id = kk_xstrdup(t->id),
            .tty = o->tty,
            .interactive = o->interactive,
            .in_fd = -1,
            .out_fd = -1,
            .err_fd = -1,
            .wake = {-1, -1},
    };
    make_exec_id(s->exec_id);
    s->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    const char *address = kuke_containerd_address(o->address);
    _cleanup_buf_ struct kk_buf process = KK_BUF_INIT;
    int rc = -1;
    if (s->sig_fd < 0)
        kk_error_errno(&err, "signalfd");
    else if (kuke_ctd_open(address, CALL_TIMEOUT, &s->ctd, &err) == 0 &&
             check_running(s->ctd, o, t, &err) == 0 &&
             build_process(o, &t->ctr, t->task.pid, &process, &err) == 0)
        rc = run_session(s, &process, &err);
    bool start_failed = s->start_failed;
    session_end(s);
    if (rc >= 0)
        return rc;
    kuke_fail("exec", err);
    return start_failed ? start_failure_code(err) : 1;
}

int kuke_cmd_exec(int argc, char **argv)
{
    struct kuke_ctx ctx;
    kuke_ctx_init(&ctx);
    struct exec_opts o = {0};
    int rc = parse(argc, argv, &ctx, &o);
    if (rc == 0) {
        struct target t = {0};
        rc = exec_in(&ctx, &o, &t);
        target_clear(&t);
    } else if (rc == 1) { /* --help */
        rc = 0;
    }
    free(o.env);
    kuke_ctx_release(&ctx);
    return rc;
}
