/* The agent's record of failed writes to the state tree (agent/agent.c):
 * what _agent/status.yaml says while writes fail, that it is cleared by
 * the next write that goes through, and that the agent's own status file
 * can still be written on a full filesystem (root only: a tmpfs). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent-private.h"
#include "fsapi/clock.h"
#include "fsapi/fsutil.h"
#include "fsapi/yaml.h"
#include "tests/lib/kktest.h"

/* Just what agent.c's write bookkeeping touches: the lock, the clock and
 * the state root. */
struct mini {
    struct kk_agent *a;
    struct kk_fake_clock fc;
};

static void mini_init(struct mini *m, int rootfd)
{
    m->a = kk_xcalloc(1, sizeof(*m->a));
    pthread_mutex_init(&m->a->lock, NULL);
    kk_fake_clock_init(&m->fc, 1000, 1764672000LL * KK_NSEC_PER_SEC); /* 2025-12-02T10:40:00Z */
    m->a->ctx.be.clock = &m->fc.clock;
    m->a->ctx.rootfd = rootfd;
}

static void mini_free(struct mini *m)
{
    pthread_mutex_destroy(&m->a->lock);
    free(m->a);
}

/* _agent/status.yaml's status mapping as the agent would emit it. */
static char *emit_status(struct kk_agent *a)
{
    struct kk_ytree *t = kk_ytree_new();
    struct kk_ynode *st = kk_ytree_map(t);
    kk_ynode_set(t, st, "version", kk_ytree_scalar(t, "x", true));
    agent_write_fault_emit(a, t, st);
    struct kk_buf out = KK_BUF_INIT;
    kk_yaml_emit(st, &out);
    kk_ytree_free(t);
    return kk_buf_detach(&out, NULL);
}

KT_CASE(failed_write_is_reported_until_one_goes_through)
{
    struct mini m;
    mini_init(&m, -1);
    struct agent_ctx *c = &m.a->ctx;
    _cleanup_free_ char *clean = emit_status(m.a);
    KT_ASSERT(!strstr(clean, "lastWriteError"));
    KT_ASSERT(!agent_writes_failing(m.a));

    _cleanup_error_ kk_error *e = NULL;
    kk_error_errnum(&e, ENOSPC, "write default/default/default/web/cell.yaml");
    agent_note_write(c, "default/default/default/web/cell.yaml", e);
    kk_fake_clock_advance(&m.fc, 2500);
    agent_note_write(c, "_inbox/web.yaml.status.yaml", e);
    KT_ASSERT(agent_writes_failing(m.a));
    _cleanup_free_ char *failing = emit_status(m.a);
    KT_ASSERT_MSG(strstr(failing, "lastWriteError:\n  path: _inbox/web.yaml.status.yaml\n"), "%s",
                  failing);
    KT_ASSERT_MSG(strstr(failing, "No space left on device"), "%s", failing);
    KT_ASSERT_MSG(strstr(failing, "at: \"2025-12-02T10:40:02.500Z\"") ||
                          strstr(failing, "at: 2025-12-02T10:40:02.500Z"),
                  "%s", failing);
    KT_ASSERT_MSG(strstr(failing, "failures: 2"), "%s", failing);

    agent_note_write(c, "default/default/default/web/status.yaml", NULL);
    KT_ASSERT(!agent_writes_failing(m.a));
    _cleanup_free_ char *again = emit_status(m.a);
    KT_ASSERT_STREQ(again, clean);
    mini_free(&m);
}

KT_CASE(own_file_is_written_in_place_on_a_full_filesystem)
{
    if (geteuid() != 0) /* a tmpfs needs root; make check runs as root */
        return;
    _cleanup_free_ char *dir = kk_xasprintf("%s/full", kt_tmpdir());
    KT_ASSERT(mkdir(dir, 0755) == 0);
    KT_ASSERT(mount("kktest", dir, "tmpfs", 0, "size=64k") == 0);
    _cleanup_close_ int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct mini m;
    mini_init(&m, rootfd);
    _cleanup_error_ kk_error *err = NULL;
    const char before[] = "apiVersion: v1beta1\nkind: Agent\nstatus:\n  pid: 1\n";
    int r0 = agent_write_own_file(m.a, "status.yaml", before, strlen(before), &err);
    /* Fill it up. */
    _cleanup_free_ char *fill = kk_xasprintf("%s/fill", dir);
    int fd = open(fill, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    char block[4096] = {0};
    while (write(fd, block, sizeof(block)) > 0)
        ;
    close(fd);
    /* Longer than before (within its page) and then shorter. */
    const char longer[] = "apiVersion: v1beta1\nkind: Agent\nstatus:\n  pid: 1\n"
                          "  lastWriteError:\n    path: x\n    error: No space left on device\n";
    int r1 = agent_write_own_file(m.a, "status.yaml", longer, strlen(longer), &err);
    _cleanup_free_ char *e1 = err ? kk_xstrdup(err->message) : NULL;
    kk_error_freep(&err);
    struct kk_buf got1 = KK_BUF_INIT, got2 = KK_BUF_INIT;
    kk_fs_read_file(rootfd, "status.yaml", 65536, &got1, &err);
    kk_error_freep(&err);
    int r2 = agent_write_own_file(m.a, "status.yaml", before, strlen(before), &err);
    kk_error_freep(&err);
    kk_fs_read_file(rootfd, "status.yaml", 65536, &got2, &err);
    mini_free(&m);
    close(TAKE_FD(rootfd));
    umount2(dir, MNT_DETACH);
    KT_ASSERT_EQ(r0, 1);
    KT_ASSERT_MSG(r1 == 1, "%s", e1 ? e1 : "");
    KT_ASSERT_STREQ(kk_buf_str(&got1), longer);
    KT_ASSERT_EQ(r2, 1);
    /* Padded with newlines to the longer length: still the same YAML. */
    KT_ASSERT_EQ(got2.len, strlen(longer));
    KT_ASSERT(got2.data && strncmp(got2.data, before, strlen(before)) == 0);
    size_t pad = strlen(longer) - strlen(before);
    for (size_t i = 0; i < pad; i++)
        KT_ASSERT(got2.data[strlen(before) + i] == '\n');
    kk_buf_release(&got1);
    kk_buf_release(&got2);
}
