/* Atomic file replacement beneath a root: every file of the tree is
 * written to a temporary name and renamed into place (docs/design.md §2).
 *
 * kk_atomic_write(rootfd, "web/default/default/x/status.yaml", ...):
 *   1. opens the parent directory beneath rootfd (fsapi/fsutil.h: no symlink
 *      is ever followed);
 *   2. refuses a symlink or a directory at the target name (a symlink there
 *      is an error, not something to replace silently);
 *   3. creates ".<name>.XXXXXX" (O_EXCL, O_NOFOLLOW) in the same directory,
 *      writes the data, sets `mode` exactly (umask does not apply), fsyncs;
 *   4. renames it over <name> and fsyncs the directory.
 *
 * Readers therefore see either the old content or the new, never a mix or a
 * truncated file, and after the function returns the new content survives a
 * power cut. On every error path the temp file is removed. A process killed
 * between steps 3 and 4 leaves the old file whole plus a stale dotfile, which
 * every reader of the tree ignores (dotfiles are never resources) and which
 * kk_atomic_remove_stale() sweeps.
 *
 * Concurrent writers of one file: last rename wins, each result is whole.
 * docs/design.md gives every file exactly one writer, so this does not arise.
 * Thread-safe; no global state except the test hook below.
 */
#ifndef KUKEON_ATOMIC_H
#define KUKEON_ATOMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fsapi/error.h"

/* The parent directory of `rel` must exist (see kk_fs_mkdir_p). */
int kk_atomic_write(int rootfd, const char *rel, const void *data, size_t len, mode_t mode,
                    kk_error **err);

/* Writes only if the file does not already hold exactly `data` (the agent
 * writes status only when something changed, so watchers and `inotifywait`
 * users see no churn). Returns 1 if written, 0 if unchanged, < 0 on error. */
int kk_atomic_write_if_changed(int rootfd, const char *rel, const void *data, size_t len,
                               mode_t mode, kk_error **err);

/* True if `name` has the shape of our temp files: ".<name>.XXXXXX". */
bool kk_atomic_is_temp_name(const char *name);

/* Removes temp files of the kk_atomic_is_temp_name shape in directory `rel`
 * that are regular files older than `min_age_s` seconds (a younger one may
 * belong to a writer still running, e.g. `kuke apply`). Returns the number
 * removed. */
int kk_atomic_remove_stale(int rootfd, const char *rel, unsigned min_age_s, kk_error **err);

/* Tests only: called after the temp file is written and synced, right
 * before the rename (e.g. to simulate a crash there). NULL in production. */
extern void (*kk_atomic_before_rename_hook)(const char *tmpname);

#endif
