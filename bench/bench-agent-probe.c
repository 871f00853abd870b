/* bench-agent-probe: the stopwatch of bench/bench-agent.sh.
 *
 * Sets inotify watches on the files to wait for (or on their deepest
 * existing ancestor, descending as directories appear), then performs the
 * actions that start the clock (renames into the inbox, a write to a ctl
 * file, a signal to a process), and reports, for every file, how long after
 * the first action it first satisfied its condition:
 *
 *     bench-agent-probe [-t TIMEOUT_MS] ACTION... -- [COND...] FILE...
 *
 *   actions (performed in order; the clock starts right before the first):
 *     -r SRC DST      rename(SRC, DST)
 *     -w PATH TEXT    write TEXT to PATH (O_WRONLY|O_CREAT|O_TRUNC)
 *     -k PID          kill(PID, SIGKILL)
 *   conditions (apply to the FILEs after them, until changed):
 *     -m ERE          some line of the file matches ERE (POSIX extended)
 *     -x ERE          no line of the file matches ERE
 *     -e              reset: the file merely exists
 *
 * Output: one line per FILE, in argument order, "<microseconds> <FILE>".
 * Exit status 0 when all were satisfied, 1 on timeout (unsatisfied files are
 * printed with "-" for the time), 2 on a usage or system error, 3 when a file
 * already satisfied its condition before the first action (the measurement
 * would be meaningless).
 *
 * No polling: a file is re-examined only when inotify reports an entry of
 * its watched directory by the right name (IN_CREATE, IN_MOVED_TO,
 * IN_CLOSE_WRITE), or on IN_Q_OVERFLOW. Writers are expected to replace
 * files atomically (the agent does) or to close them when complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS  4096
#define MAX_ACTIONS  4096
#define MAX_FILE     (256 * 1024)
#define WATCH_EVENTS (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR)

struct cond {
    regex_t *match;  /* NULL: any content */
    regex_t *reject; /* NULL: nothing rejected */
};

struct target {
    const char *path; /* absolute, normalised: no "//", no trailing "/" */
    struct cond cond;
    size_t watched_len; /* length of the prefix of path currently watched */
    int wd;
    int64_t done_us; /* -1 until satisfied */
};

enum action_kind { ACT_RENAME, ACT_WRITE, ACT_KILL };
struct action {
    enum action_kind kind;
    const char *a, *b;
};

static int ifd = -1;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-agent-probe: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void usage(void)
{
    fputs("usage: bench-agent-probe [-t TIMEOUT_MS] [-r SRC DST | -w PATH TEXT | -k PID]... "
          "-- [-m ERE | -x ERE | -e]... FILE...\n"
          "bench-agent-probe is a helper of bench/bench-agent.sh and measures nothing alone.\n",
          stderr);
}

static regex_t *compile(const char *ere)
{
    regex_t *re = malloc(sizeof(*re));
    if (!re)
        die("malloc");
    int rc = regcomp(re, ere, REG_EXTENDED | REG_NEWLINE | REG_NOSUB);
    if (rc != 0) {
        char msg[256];
        regerror(rc, re, msg, sizeof(msg));
        fprintf(stderr, "bench-agent-probe: bad expression '%s': %s\n", ere, msg);
        exit(2);
    }
    return re;
}

/* True if the file at PATH exists and meets COND. A file that cannot be read
 * (absent, replaced under us, too big) does not meet it yet. */
static bool file_meets(const char *path, const struct cond *cond)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    if (!cond->match && !cond->reject) {
        close(fd);
        return true;
    }
    static char buf[MAX_FILE + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, MAX_FILE - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == MAX_FILE)
            break;
    }
    close(fd);
    buf[len] = '\0';
    if (cond->match && regexec(cond->match, buf, 0, NULL, 0) != 0)
        return false;
    if (cond->reject && regexec(cond->reject, buf, 0, NULL, 0) == 0)
        return false;
    return true;
}

static void watch_prefix(struct target *t, size_t len)
{
    char dir[PATH_MAX] = "/";
    if (len > 0) {
        memcpy(dir, t->path, len);
        dir[len] = '\0';
    }
    int wd = inotify_add_watch(ifd, dir, WATCH_EVENTS);
    if (wd < 0) {
        /* Vanished between the stat and the watch: stay one level up. */
        if (errno == ENOENT || errno == ENOTDIR)
            return;
        die(dir);
    }
    t->wd = wd;
    t->watched_len = len;
}

/* Length of the directory part of t->path (the prefix before the last '/'). */
static size_t dir_len(const struct target *t)
{
    return (size_t)(strrchr(t->path, '/') - t->path);
}

/* Move T's watch as deep as the existing directories allow, then, if its
 * own directory is watched, examine the file. Returns true if satisfied. */
static bool advance(struct target *t)
{
    size_t want = dir_len(t);
    while (t->watched_len < want) {
        const char *next = strchr(t->path + t->watched_len + 1, '/');
        size_t len = (size_t)(next - t->path);
        char dir[PATH_MAX];
        memcpy(dir, t->path, len);
        dir[len] = '\0';
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
            return false;
        size_t before = t->watched_len;
        watch_prefix(t, len);
        if (t->watched_len == before)
            return false;
    }
    return file_meets(t->path, &t->cond);
}

static void set_watch_root(struct target *t)
{
    t->wd = -1;
    t->watched_len = 0;
    watch_prefix(t, 0);
    if (t->wd < 0)
        die("inotify_add_watch /");
}

static void act(const struct action *a)
{
    switch (a->kind) {
    case ACT_RENAME:
        if (rename(a->a, a->b) < 0)
            die(a->a);
        break;
    case ACT_WRITE: {
        int fd = open(a->a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            die(a->a);
        size_t n = strlen(a->b);
        if (write(fd, a->b, n) != (ssize_t)n)
            die(a->a);
        close(fd);
        break;
    }
    case ACT_KILL:
        if (kill((pid_t)strtol(a->a, NULL, 10), SIGKILL) < 0)
            die(a->a);
        break;
    }
}

static bool path_ok(const char *p)
{
    size_t n = strlen(p);
    return p[0] == '/' && n > 1 && n < PATH_MAX && p[n - 1] != '/' && !strstr(p, "//") &&
           !strstr(p, "/./") && !strstr(p, "/../");
}

int main(int argc, char **argv)
{
    static struct target targets[MAX_TARGETS];
    static struct action actions[MAX_ACTIONS];
    size_t nt = 0, na = 0;
    long timeout_ms = 60000;
    int i = 1;

    if (argc < 2) {
        usage();
        return 0; /* bench/run.sh runs every bench-* program: not a failure */
    }
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *o = argv[i];
        bool two = !strcmp(o, "-r") || !strcmp(o, "-w");
        if ((two && i + 2 >= argc) || i + 1 >= argc || na == MAX_ACTIONS) {
            usage();
            return 2;
        }
        if (!strcmp(o, "-t")) {
            timeout_ms = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(o, "-r")) {
            actions[na++] = (struct action){ACT_RENAME, argv[i + 1], argv[i + 2]};
            i += 2;
        } else if (!strcmp(o, "-w")) {
            actions[na++] = (struct action){ACT_WRITE, argv[i + 1], argv[i + 2]};
            i += 2;
        } else if (!strcmp(o, "-k")) {
            actions[na++] = (struct action){ACT_KILL, argv[++i], NULL};
        } else {
            usage();
            return 2;
        }
    }
    struct cond cond = {0};
    for (i++; i < argc; i++) {
        const char *o = argv[i];
        if ((!strcmp(o, "-m") || !strcmp(o, "-x")) && i + 1 < argc) {
            regex_t *re = compile(argv[++i]);
            if (o[1] == 'm')
                cond.match = re;
            else
                cond.reject = re;
        } else if (!strcmp(o, "-e")) {
            cond = (struct cond){0};
        } else if (path_ok(o) && nt < MAX_TARGETS) {
            targets[nt++] = (struct target){.path = o, .cond = cond, .done_us = -1};
        } else {
            fprintf(stderr, "bench-agent-probe: not an absolute normalised path, or too many: %s\n",
                    o);
            return 2;
        }
    }
    if (nt == 0) {
        usage();
        return 2;
    }

    ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ifd < 0)
        die("inotify_init1");
    for (size_t k = 0; k < nt; k++) {
        set_watch_root(&targets[k]);
        if (advance(&targets[k])) {
            fprintf(stderr, "bench-agent-probe: %s already satisfied before the action\n",
                    targets[k].path);
            return 3;
        }
    }

    int64_t t0 = now_us();
    for (size_t k = 0; k < na; k++)
        act(&actions[k]);

    size_t left = nt;
    /* The actions themselves may have satisfied some (a rename of a watched
     * file): examine everything once before sleeping. */
    for (size_t k = 0; k < nt; k++)
        if (advance(&targets[k])) {
            targets[k].done_us = now_us() - t0;
            left--;
        }

    int64_t deadline = t0 + (int64_t)timeout_ms * 1000;
    char evbuf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (left > 0) {
        int64_t rem = deadline - now_us();
        if (rem <= 0)
            break;
        struct pollfd p = {.fd = ifd, .events = POLLIN};
        int r = poll(&p, 1, (int)((rem + 999) / 1000));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("poll");
        if (r == 0)
            break;
        ssize_t n = read(ifd, evbuf, sizeof(evbuf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            die("read inotify");
        for (char *ptr = evbuf; ptr < evbuf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)ptr;
            ptr += sizeof(*ev) + ev->len;
            bool all = ev->mask & IN_Q_OVERFLOW;
            for (size_t k = 0; k < nt; k++) {
                struct target *t = &targets[k];
                if (t->done_us >= 0 || (!all && t->wd != ev->wd))
                    continue;
                /* The watched directory went away: start again from the top. */
                bool reset = ev->mask & IN_IGNORED;
                if (reset)
                    set_watch_root(t);
                /* Only the entry on the way to the file concerns it. */
                const char *comp = t->path + t->watched_len + 1;
                size_t clen = strcspn(comp, "/");
                if (!all && !reset &&
                    (ev->len == 0 || strncmp(ev->name, comp, clen) != 0 || ev->name[clen] != '\0'))
                    continue;
                if (advance(t)) {
                    t->done_us = now_us() - t0;
                    left--;
                }
            }
        }
    }

    for (size_t k = 0; k < nt; k++) {
        if (targets[k].done_us >= 0)
            printf("%lld %s\n", (long long)targets[k].done_us, targets[k].path);
        else
            printf("- %s\n", targets[k].path);
    }
    return left == 0 ? 0 : 1;
}
