/* File operations beneath a trusted root directory that never follow a
 * symlink: the agent never follows a link out of the tree (docs/design.md §2).
 *
 * The root is an open directory fd (kk_fs_open_root); every other path is
 * relative to it, made of plain components: no leading '/', no empty, "." or
 * ".." component, each at most NAME_MAX bytes, at most PATH_MAX in all. The
 * empty string (or ".") names the root itself where a directory is expected.
 *
 * Resolution uses openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) when the kernel has it (decided once, at the first
 * call: ENOSYS switches to the fallback for good), else a
 * component-by-component walk with openat(O_NOFOLLOW | O_DIRECTORY). Either
 * way a symlink anywhere on the path -- an intermediate directory or the
 * final name -- fails with ELOOP and a message naming the path, never leads
 * out of the root.
 *
 * Errors: fsapi/error.h conventions; a missing file is KK_E_NOT_FOUND with
 * sys_errno ENOENT, a symlink is KK_E_INVALID with sys_errno ELOOP.
 * All functions are thread-safe (they share no state beyond the one-time
 * openat2 probe) and every returned fd is O_CLOEXEC.
 */
#ifndef KUKEON_FSUTIL_H
#define KUKEON_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"

/* Opens `path` as a root: O_RDONLY | O_DIRECTORY | O_CLOEXEC. The root path
 * itself is configuration and trusted, so a symlink *to* the root is
 * followed (e.g. /opt/kukeon -> /srv/kukeon, or a git-sync inbox). */
int kk_fs_open_root(const char *path, kk_error **err);

/* Checks `rel` against the rules above without touching the filesystem. */
bool kk_fs_relpath_valid(const char *rel);

/* openat beneath rootfd. `flags` as for openat (O_NOFOLLOW and O_CLOEXEC are
 * always added); `mode` is used only with O_CREAT. Returns the new fd. */
int kk_fs_open(int rootfd, const char *rel, int flags, mode_t mode, kk_error **err);

/* Opens the directory `rel` (O_RDONLY | O_DIRECTORY): usable with *at calls,
 * fdopendir and fsync. */
int kk_fs_open_dir(int rootfd, const char *rel, kk_error **err);

/* Splits rel into its parent directory and last component: opens the parent
 * (as kk_fs_open_dir) and points *base into rel. rel must not be empty. */
int kk_fs_open_parent(int rootfd, const char *rel, const char **base, kk_error **err);

/* mkdir -p of `rel` beneath rootfd with `mode` for the directories created.
 * Existing directories are fine; an existing non-directory or symlink on the
 * way is an error. If dirfd is non-NULL it receives the final directory,
 * opened as kk_fs_open_dir. */
int kk_fs_mkdir_p(int rootfd, const char *rel, mode_t mode, int *dirfd, kk_error **err);

/* mkdir -p of an absolute, configured path (the state root, the run dir):
 * unlike paths inside the tree it may pass through symlinks such as
 * /var/run. Missing parents get 0755, the last component `mode`; an
 * existing directory is fine, an existing non-directory is KK_E_INVALID. */
int kk_fs_mkdir_p_abs(const char *path, mode_t mode, kk_error **err);

/* Opens rel beneath rootfd for reading (no symlinks, O_NONBLOCK: a FIFO
 * never blocks) and only if it is a regular file, whose stat goes to *st.
 * Returns the descriptor, or -1 with err. */
int kk_fs_open_regular(int rootfd, const char *rel, struct stat *st, kk_error **err);
/* Reads the regular file `rel` whole into out (appended), failing with
 * KK_E_EXHAUSTED / EFBIG past `max` bytes. FIFOs, devices and directories
 * are refused without blocking. */
int kk_fs_read_file(int rootfd, const char *rel, size_t max, struct kk_buf *out, kk_error **err);

/* Removes the non-directory `rel` (a symlink is removed, not followed).
 * Returns 1 if removed, 0 if it did not exist, < 0 on error. */
int kk_fs_unlink(int rootfd, const char *rel, kk_error **err);

/* rm -rf of the directory (or file) `rel`, never following a symlink: links
 * inside are removed as links. rel must not be empty: the root itself is
 * never removed. Depth is bounded (KK_FS_MAX_DEPTH) so a hostile tree cannot
 * exhaust the stack or fds. Returns 1 if something was removed, 0 if `rel`
 * did not exist. */
#define KK_FS_MAX_DEPTH 32
int kk_fs_remove_tree(int rootfd, const char *rel, kk_error **err);

struct kk_fs_entry {
    char *name;
    unsigned char type; /* DT_REG, DT_DIR, DT_LNK, ... (never DT_UNKNOWN) */
};

struct kk_fs_list {
    struct kk_fs_entry *entries; /* sorted by name (strcmp) */
    size_t n;
};

/* Lists the directory `rel` (not "." and ".."), at most `max` entries
 * (KK_E_EXHAUSTED beyond: a directory is user-controlled input). An entry
 * that vanishes while listing is skipped. */
int kk_fs_list_dir(int rootfd, const char *rel, size_t max, struct kk_fs_list *out, kk_error **err);
void kk_fs_list_release(struct kk_fs_list *list);
#define _cleanup_fs_list_ _cleanup_(kk_fs_list_release)

/* For tests and diagnostics: true if openat2 is in use. */
bool kk_fs_have_openat2(void);
/* For tests: force the openat fallback walk (false restores the probe). */
void kk_fs_force_fallback(bool on);

#endif
