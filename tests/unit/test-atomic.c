/* Atomic writes and symlink-proof file operations beneath a root
 * (fsapi/atomic.h, fsapi/fsutil.h). Symlink cases run twice: with openat2
 * and with the openat(O_NOFOLLOW) walk. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsapi/atomic.h"
#include "fsapi/fsutil.h"
#include "fsapi/inbox.h"
#include "fsapi/tree.h"
#include "tests/lib/kktest.h"

/* <tmp>/root is the state root, <tmp>/outside is what a symlink points to. */
struct fixture {
    char *root;
    char *outside;
    int rootfd;
};

static void fixture_init(struct fixture *f)
{
    f->root = kk_xasprintf("%s/root", kt_tmpdir());
    f->outside = kk_xasprintf("%s/outside", kt_tmpdir());
    mkdir(f->root, 0755);
    mkdir(f->outside, 0755);
    f->rootfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void fixture_release(struct fixture *f)
{
    free(f->root);
    free(f->outside);
    if (f->rootfd >= 0)
        close(f->rootfd);
    kk_fs_force_fallback(false);
}
#define _cleanup_fixture_ _cleanup_(fixture_release)

static char *slurp(const char *dir, const char *name)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/%s", dir, name);
    _cleanup_close_ int fd = open(p, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct kk_buf b = KK_BUF_INIT;
    if (kk_buf_read_fd(&b, fd, 1 << 20) < 0) {
        kk_buf_release(&b);
        return NULL;
    }
    return kk_buf_detach(&b, NULL);
}

static void spit(const char *dir, const char *name, const char *content)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/%s", dir, name);
    _cleanup_fclose_ FILE *f = fopen(p, "w");
    if (f)
        fputs(content, f);
}

/* Number of entries in dir whose name looks like one of our temp files. */
static int count_temps(const char *dir)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += kk_atomic_is_temp_name(de->d_name);
    return n;
}

static int count_entries(const char *dir)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    return n;
}

KT_CASE(write_creates_replaces_and_sets_mode)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    mode_t old = umask(077);
    int r = kk_atomic_write(f.rootfd, "status.yaml", "one\n", 4, 0644, &err);
    umask(old);
    KT_ASSERT_OK(r, &err);
    _cleanup_free_ char *a = slurp(f.root, "status.yaml");
    KT_ASSERT_STREQ(a, "one\n");
    struct stat st;
    _cleanup_free_ char *p = kk_xasprintf("%s/status.yaml", f.root);
    KT_ASSERT(stat(p, &st) == 0);
    KT_ASSERT_EQ(st.st_mode & 07777, 0644);
    KT_ASSERT_OK(kk_atomic_write(f.rootfd, "status.yaml", "two\n", 4, 0600, &err), &err);
    _cleanup_free_ char *b = slurp(f.root, "status.yaml");
    KT_ASSERT_STREQ(b, "two\n");
    KT_ASSERT_OK(kk_atomic_write(f.rootfd, "empty", "", 0, 0644, &err), &err);
    KT_ASSERT_EQ(count_temps(f.root), 0);
    KT_ASSERT_EQ(count_entries(f.root), 2);
}

KT_CASE(write_into_subdirectory_needs_parent)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    KT_ASSERT(kk_atomic_write(f.rootfd, "r/s/space.yaml", "x", 1, 0644, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_NOT_FOUND);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_fs_mkdir_p(f.rootfd, "r/s", 0755, NULL, &err), &err);
    KT_ASSERT_OK(kk_fs_mkdir_p(f.rootfd, "r/s", 0755, NULL, &err), &err); /* idempotent */
    KT_ASSERT_OK(kk_atomic_write(f.rootfd, "r/s/space.yaml", "x", 1, 0644, &err), &err);
    _cleanup_free_ char *dir = kk_xasprintf("%s/r/s", f.root);
    _cleanup_free_ char *c = slurp(dir, "space.yaml");
    KT_ASSERT_STREQ(c, "x");
}

KT_CASE(write_if_changed_skips_identical_content)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    int r = kk_atomic_write_if_changed(f.rootfd, "s.yaml", "a: 1\n", 5, 0644, &err);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT_EQ(r, 1);
    struct stat before, after;
    _cleanup_free_ char *p = kk_xasprintf("%s/s.yaml", f.root);
    KT_ASSERT(stat(p, &before) == 0);
    r = kk_atomic_write_if_changed(f.rootfd, "s.yaml", "a: 1\n", 5, 0644, &err);
    KT_ASSERT_EQ(r, 0);
    KT_ASSERT(stat(p, &after) == 0);
    KT_ASSERT_EQ(before.st_ino, after.st_ino); /* not replaced */
    /* Shorter, longer and same-length-different content are all written. */
    const char *const next[] = {"a: 1", "a: 1\nb: 2\n", "a: 2\n"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(next); i++) {
        r = kk_atomic_write_if_changed(f.rootfd, "s.yaml", next[i], strlen(next[i]), 0644, &err);
        KT_ASSERT_EQ(r, 1);
        _cleanup_free_ char *c = slurp(f.root, "s.yaml");
        KT_ASSERT_STREQ(c, next[i]);
    }
}

/* Runs `body` with openat2 (if the kernel has it) and with the fallback. */
#define BOTH_RESOLVERS(body)                                                                       \
    for (int fallback = 0; fallback < 2; fallback++) {                                             \
        kk_fs_force_fallback(fallback);                                                            \
        body;                                                                                      \
    }

KT_CASE(symlink_at_target_is_refused)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    spit(f.outside, "victim", "precious\n");
    _cleanup_free_ char *victim = kk_xasprintf("%s/victim", f.outside);
    _cleanup_free_ char *link = kk_xasprintf("%s/status.yaml", f.root);
    KT_ASSERT(symlink(victim, link) == 0);
    BOTH_RESOLVERS({
        KT_ASSERT(kk_atomic_write(f.rootfd, "status.yaml", "evil\n", 5, 0644, &err) < 0);
        KT_ASSERT_EQ(err->sys_errno, ELOOP);
        KT_ASSERT_MSG(strstr(err->message, "status.yaml") && strstr(err->message, "symlink"),
                      "message: %s", err->message);
        kk_error_freep(&err);
        KT_ASSERT(kk_atomic_write_if_changed(f.rootfd, "status.yaml", "e", 1, 0644, &err) < 0);
        KT_ASSERT_EQ(err->sys_errno, ELOOP);
        kk_error_freep(&err);
        /* Reading through it is refused too. */
        struct kk_buf b = KK_BUF_INIT;
        KT_ASSERT(kk_fs_read_file(f.rootfd, "status.yaml", 100, &b, &err) < 0);
        kk_buf_release(&b);
        KT_ASSERT_EQ(err->sys_errno, ELOOP);
        kk_error_freep(&err);
    });
    _cleanup_free_ char *c = slurp(f.outside, "victim");
    KT_ASSERT_STREQ(c, "precious\n");
    struct stat st;
    KT_ASSERT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    KT_ASSERT_EQ(count_temps(f.root), 0);
}

KT_CASE(symlink_as_directory_component_is_refused)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    /* root/r -> outside; root/ok/s -> outside (a deeper component) */
    _cleanup_free_ char *l1 = kk_xasprintf("%s/r", f.root);
    _cleanup_free_ char *okdir = kk_xasprintf("%s/ok", f.root);
    _cleanup_free_ char *l2 = kk_xasprintf("%s/ok/s", f.root);
    KT_ASSERT(symlink(f.outside, l1) == 0);
    KT_ASSERT(mkdir(okdir, 0755) == 0);
    KT_ASSERT(symlink(f.outside, l2) == 0);
    static const char *const paths[] = {"r/realm.yaml", "ok/s/space.yaml"};
    BOTH_RESOLVERS({
        for (size_t i = 0; i < KK_ARRAY_SIZE(paths); i++) {
            KT_ASSERT(kk_atomic_write(f.rootfd, paths[i], "evil", 4, 0644, &err) < 0);
            KT_ASSERT_MSG(err->sys_errno == ELOOP, "%s (fallback %d): %s", paths[i], fallback,
                          err->message);
            kk_error_freep(&err);
            KT_ASSERT(kk_fs_mkdir_p(f.rootfd, paths[i], 0755, NULL, &err) < 0);
            KT_ASSERT_EQ(err->sys_errno, ELOOP);
            kk_error_freep(&err);
            int fd = kk_fs_open(f.rootfd, paths[i], O_RDONLY, 0, &err);
            KT_ASSERT(fd < 0);
            KT_ASSERT_EQ(err->sys_errno, ELOOP);
            kk_error_freep(&err);
        }
        KT_ASSERT(kk_fs_open_dir(f.rootfd, "r", &err) < 0);
        KT_ASSERT_EQ(err->sys_errno, ELOOP);
        kk_error_freep(&err);
    });
    KT_ASSERT_EQ(count_entries(f.outside), 0); /* nothing written outside */
}

KT_CASE(relative_paths_must_be_plain)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    static const char *const bad[] = {"/etc/passwd", "../outside/x", "a/../../x", "a//b",
                                      "a/./b",       "a/",           ".."};
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        KT_ASSERT_MSG(!kk_fs_relpath_valid(bad[i]), "%s", bad[i]);
        KT_ASSERT(kk_atomic_write(f.rootfd, bad[i], "x", 1, 0644, &err) < 0);
        KT_ASSERT_EQ(err->code, KK_E_INVALID);
        kk_error_freep(&err);
    }
    KT_ASSERT(kk_fs_relpath_valid(""));
    KT_ASSERT(kk_fs_relpath_valid("."));
    KT_ASSERT(kk_fs_relpath_valid("a/b.c/..d"));
    KT_ASSERT_EQ(count_entries(f.outside), 0);
}

static void die_before_rename(const char *tmpname)
{
    (void)tmpname;
    raise(SIGKILL);
}

KT_CASE(crash_between_write_and_rename_keeps_old_file)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    KT_ASSERT_OK(kk_fs_mkdir_p(f.rootfd, "r/s/st/c", 0755, NULL, &err), &err);
    const char *rel = "r/s/st/c/status.yaml";
    KT_ASSERT_OK(kk_atomic_write(f.rootfd, rel, "state: Ready\n", 13, 0644, &err), &err);

    pid_t pid = fork();
    KT_ASSERT(pid >= 0);
    if (pid == 0) {
        kk_error *cerr = NULL;
        kk_atomic_before_rename_hook = die_before_rename;
        kk_atomic_write(f.rootfd, rel, "state: Stopped\n", 15, 0644, &cerr);
        _exit(3); /* not reached: the hook kills us */
    }
    int status;
    KT_ASSERT(waitpid(pid, &status, 0) == pid);
    KT_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    _cleanup_free_ char *dir = kk_xasprintf("%s/r/s/st/c", f.root);
    _cleanup_free_ char *c = slurp(dir, "status.yaml");
    KT_ASSERT_STREQ(c, "state: Ready\n"); /* old file whole */
    KT_ASSERT_EQ(count_temps(dir), 1);    /* the crash left its temp file */

    /* The stale temp file is no resource and no manifest... */
    _cleanup_fs_list_ struct kk_fs_list l = {NULL, 0};
    KT_ASSERT_OK(kk_fs_list_dir(f.rootfd, "r/s/st/c", 10, &l, &err), &err);
    KT_ASSERT_EQ(l.n, 2);
    const char *tmp =
            kk_atomic_is_temp_name(l.entries[0].name) ? l.entries[0].name : l.entries[1].name;
    KT_ASSERT_MSG(strncmp(tmp, ".status.yaml.", 13) == 0, "temp name %s", tmp);
    _cleanup_free_ char *tmprel = kk_xasprintf("r/s/st/c/%s", tmp);
    struct kk_tree_class cls;
    kk_tree_classify(tmprel, &cls);
    KT_ASSERT_EQ(cls.file, KK_TREE_OTHER);
    KT_ASSERT(!kk_inbox_name_counts(tmp));

    /* ...a later write succeeds... */
    KT_ASSERT_OK(kk_atomic_write(f.rootfd, rel, "state: Stopped\n", 15, 0644, &err), &err);
    _cleanup_free_ char *d = slurp(dir, "status.yaml");
    KT_ASSERT_STREQ(d, "state: Stopped\n");

    /* ...and the sweep removes it, but only once it is old enough. */
    int n = kk_atomic_remove_stale(f.rootfd, "r/s/st/c", 3600, &err);
    KT_ASSERT_OK(n, &err);
    KT_ASSERT_EQ(n, 0);
    n = kk_atomic_remove_stale(f.rootfd, "r/s/st/c", 0, &err);
    KT_ASSERT_OK(n, &err);
    KT_ASSERT_EQ(n, 1);
    KT_ASSERT_EQ(count_temps(dir), 0);
    KT_ASSERT_EQ(count_entries(dir), 1);
}

static char *hook_dir;
static void make_target_a_directory(const char *tmpname)
{
    (void)tmpname;
    _cleanup_free_ char *p = kk_xasprintf("%s/cell.yaml", hook_dir);
    mkdir(p, 0755);
    _cleanup_free_ char *q = kk_xasprintf("%s/cell.yaml/x", hook_dir);
    close(open(q, O_CREAT | O_WRONLY, 0644));
}

KT_CASE(failed_rename_removes_temp_file)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    hook_dir = f.root;
    kk_atomic_before_rename_hook = make_target_a_directory;
    int r = kk_atomic_write(f.rootfd, "cell.yaml", "x", 1, 0644, &err);
    kk_atomic_before_rename_hook = NULL;
    KT_ASSERT(r < 0);
    KT_ASSERT_MSG(strstr(err->message, "rename"), "%s", err->message);
    KT_ASSERT_EQ(count_temps(f.root), 0);
    kk_error_freep(&err);
    /* A directory already at the target is refused up front. */
    KT_ASSERT(kk_atomic_write(f.rootfd, "cell.yaml", "x", 1, 0644, &err) < 0);
    KT_ASSERT_EQ(err->sys_errno, EISDIR);
    KT_ASSERT_EQ(count_temps(f.root), 0);
}

KT_CASE(temp_name_shape)
{
    KT_ASSERT(kk_atomic_is_temp_name(".cell.yaml.Ab12Cd"));
    KT_ASSERT(kk_atomic_is_temp_name(".x.ABCDEF"));
    KT_ASSERT(!kk_atomic_is_temp_name(".cell.yaml"));
    KT_ASSERT(!kk_atomic_is_temp_name("cell.yaml.Ab12Cd"));
    KT_ASSERT(!kk_atomic_is_temp_name(".cell.yaml.Ab-2Cd"));
    KT_ASSERT(!kk_atomic_is_temp_name("..ABCDEF"));
}

KT_CASE(read_file_limits_and_special_files)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    fixture_init(&f);
    spit(f.root, "big", "0123456789");
    KT_ASSERT_OK(kk_fs_read_file(f.rootfd, "big", 10, &b, &err), &err);
    KT_ASSERT_STREQ(kk_buf_str(&b), "0123456789");
    KT_ASSERT(kk_fs_read_file(f.rootfd, "big", 9, &b, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_EXHAUSTED);
    KT_ASSERT_EQ(b.len, 0);
    kk_error_freep(&err);
    _cleanup_free_ char *fifo = kk_xasprintf("%s/fifo", f.root);
    KT_ASSERT(mkfifo(fifo, 0600) == 0);
    KT_ASSERT(kk_fs_read_file(f.rootfd, "fifo", 100, &b, &err) < 0); /* and does not hang */
    KT_ASSERT(strstr(err->message, "not a regular file"));
    kk_error_freep(&err);
    KT_ASSERT(kk_fs_read_file(f.rootfd, "missing", 100, &b, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_NOT_FOUND);
}

KT_CASE(unlink_and_remove_tree_never_follow_links)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    spit(f.outside, "keep", "keep");
    KT_ASSERT_OK(kk_fs_mkdir_p(f.rootfd, "r/s/st/c/containers", 0755, NULL, &err), &err);
    KT_ASSERT_OK(kk_atomic_write(f.rootfd, "r/s/st/c/cell.yaml", "x", 1, 0644, &err), &err);
    KT_ASSERT_OK(kk_atomic_write(f.rootfd, "r/s/st/c/containers/a.log", "x", 1, 0644, &err), &err);
    _cleanup_free_ char *l1 = kk_xasprintf("%s/r/s/st/c/escape", f.root);
    _cleanup_free_ char *l2 = kk_xasprintf("%s/r/s/st/c/containers/file", f.root);
    _cleanup_free_ char *target = kk_xasprintf("%s/keep", f.outside);
    KT_ASSERT(symlink(f.outside, l1) == 0);
    KT_ASSERT(symlink(target, l2) == 0);

    KT_ASSERT_EQ(kk_fs_unlink(f.rootfd, "r/s/st/c/cell.yaml", &err), 1);
    KT_ASSERT_EQ(kk_fs_unlink(f.rootfd, "r/s/st/c/cell.yaml", &err), 0);
    KT_ASSERT_EQ(kk_fs_unlink(f.rootfd, "nope/cell.yaml", &err), 0);
    KT_ASSERT(kk_fs_unlink(f.rootfd, "r/s", &err) < 0); /* a directory */
    kk_error_freep(&err);
    /* Removing through a symlinked component is refused. */
    KT_ASSERT(kk_fs_remove_tree(f.rootfd, "r/s/st/c/escape/keep", &err) < 0);
    KT_ASSERT_EQ(err->sys_errno, ELOOP);
    kk_error_freep(&err);

    int r = kk_fs_remove_tree(f.rootfd, "r/s", &err);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT_EQ(r, 1);
    KT_ASSERT_EQ(kk_fs_remove_tree(f.rootfd, "r/s", &err), 0);
    KT_ASSERT(kk_fs_remove_tree(f.rootfd, "", &err) < 0); /* never the root itself */
    kk_error_freep(&err);
    _cleanup_free_ char *c = slurp(f.outside, "keep");
    KT_ASSERT_STREQ(c, "keep");
    KT_ASSERT_EQ(count_entries(f.outside), 1);
    _cleanup_free_ char *rdir = kk_xasprintf("%s/r", f.root);
    KT_ASSERT_EQ(count_entries(rdir), 0);
}

KT_CASE(list_dir_sorted_typed_and_capped)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    spit(f.root, "b.yaml", "");
    spit(f.root, "a.yaml", "");
    KT_ASSERT_OK(kk_fs_mkdir_p(f.rootfd, "c", 0755, NULL, &err), &err);
    _cleanup_free_ char *l = kk_xasprintf("%s/d", f.root);
    KT_ASSERT(symlink("/etc", l) == 0);
    _cleanup_fs_list_ struct kk_fs_list list = {NULL, 0};
    KT_ASSERT_OK(kk_fs_list_dir(f.rootfd, "", 10, &list, &err), &err);
    KT_ASSERT_EQ(list.n, 4);
    KT_ASSERT_STREQ(list.entries[0].name, "a.yaml");
    KT_ASSERT_EQ(list.entries[0].type, DT_REG);
    KT_ASSERT_STREQ(list.entries[2].name, "c");
    KT_ASSERT_EQ(list.entries[2].type, DT_DIR);
    KT_ASSERT_EQ(list.entries[3].type, DT_LNK);
    _cleanup_fs_list_ struct kk_fs_list small = {NULL, 0};
    KT_ASSERT(kk_fs_list_dir(f.rootfd, ".", 3, &small, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_EXHAUSTED);
    KT_ASSERT(small.entries == NULL);
    kk_error_freep(&err);
    KT_ASSERT(kk_fs_list_dir(f.rootfd, "d", 10, &small, &err) < 0);
    KT_ASSERT_EQ(err->sys_errno, ELOOP);
}

KT_CASE(openat2_probe_reports)
{
    _cleanup_fixture_ struct fixture f;
    _cleanup_error_ kk_error *err = NULL;
    fixture_init(&f);
    _cleanup_close_ int fd = kk_fs_open_dir(f.rootfd, "", &err);
    KT_ASSERT_OK(fd, &err);
    /* Where the kernel has openat2 (6.x here) the fast path must be the one
     * in use; under valgrind, which does not know the syscall, the walk. */
    struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC};
    long probe = syscall(SYS_openat2, f.rootfd, ".", &how, sizeof(how));
    bool kernel_has = probe >= 0 || errno != ENOSYS;
    if (probe >= 0)
        close((int)probe);
    KT_ASSERT_EQ(kk_fs_have_openat2(), kernel_has);
    kk_fs_force_fallback(true);
    KT_ASSERT(!kk_fs_have_openat2());
}
