/* The cell ctl file (<cell dir>/ctl: "stop", "kill SIGTERM", ...), which
 * `kuke ctl` and anyone with write access to the state tree can write.
 * Its reader, consume_ctl, is static in agent/cell.c, so this file
 * includes it and runs it as the agent does: the bytes are written to the
 * ctl file of a cell in a scratch state tree, consume_ctl reads, parses
 * and removes it and records last_control in the cell's status.
 * Exporting the parse alone, e.g.
 *     int agent_ctl_parse(const char *data, size_t len, struct res_mem *mem,
 *                         struct kk_last_control *lc, int *signal);
 * would let the harness link agent/cell.o as it is and skip the file. */
#include "agent/cell.c"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

static struct agent_ctx agent;
static struct kk_key key;
static char *ctl_rel;
static char scratch[64];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* The scratch tree goes when the run ends. */
static void remove_scratch(void)
{
    nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkdirs(int rootfd, const char *rel)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", rel);
    for (char *p = buf; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdirat(rootfd, buf, 0755);
        *p = '/';
    }
    mkdirat(rootfd, buf, 0755);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kk_log_set_level(KK_LOG_ERROR);
    char dir[] = "/tmp/kk-fuzz-ctl-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    agent.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (agent.rootfd < 0)
        abort();
    agent.be.clock = &kk_clock_system;
    kk_error *err = NULL;
    if (kk_key_parse(&key, "r/s/st/c", &err) < 0)
        abort();
    char *d = kk_tree_dir(&key);
    mkdirs(agent.rootfd, d);
    free(d);
    ctl_rel = kk_tree_ctl_path(&key);
    snprintf(scratch, sizeof(scratch), "%s", dir);
    atexit(remove_scratch);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = openat(agent.rootfd, ctl_rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    close(fd);

    struct ctr_mem ctrs[2];
    memset(ctrs, 0, sizeof(ctrs));
    struct res_mem mem;
    memset(&mem, 0, sizeof(mem));
    mem.ctrs = ctrs;
    mem.n_ctrs = 2;
    struct cell_ctx c;
    memset(&c, 0, sizeof(c));
    c.a = &agent;
    c.key = &key;
    snprintf(c.keystr, sizeof(c.keystr), "r/s/st/c");
    c.mem = &mem;
    c.st = kk_status_new(KK_KIND_CELL, "c");
    int signal = 0;
    consume_ctl(&c, &signal);
    kk_status_free(c.st);
    return 0;
}
