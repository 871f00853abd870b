/* The agent's watcher: inotify on the inbox and the state tree, turned into
 * classified events (docs/design.md §2, §3 "Flow of one change").
 *
 *     struct kk_watch_config cfg = {.inbox = "/etc/kukeon/manifests",
 *                                   .state = "/opt/kukeon", .fn = on_event};
 *     kk_watch_open(&cfg, &w, &err);      // before the initial full scan
 *     ... poll(kk_watch_fd(w), POLLIN) ... kk_watch_dispatch(w, &err);
 *
 * Events (struct kk_watch_event) are *hints*, delivered in kernel order:
 *
 *     INBOX_CHANGED  name   a manifest file was completely written or moved
 *                           in (IN_CLOSE_WRITE, IN_MOVED_TO), a symlink or
 *                           hard link was created, or the inbox directory
 *                           was swapped
 *     INBOX_REMOVED  name   a manifest file was deleted or moved away
 *     SPEC_CHANGED   key    realm.yaml .. cell.yaml or containers/<id>.yaml
 *                           written or moved in (also for every spec found in
 *                           a directory created or moved into the tree)
 *     SPEC_REMOVED   key    such a file deleted or moved away, or its whole
 *                           directory moved out of the tree
 *     CTL            key    a cell's ctl file written
 *     RESCAN                the kernel queue overflowed (IN_Q_OVERFLOW):
 *                           anything may have changed; watches are repaired
 *                           before this is delivered
 *
 * Handle them level-triggered: look at the file as it is *now*. An editor
 * that renames web.yaml to web.yaml~ and writes a new web.yaml produces
 * INBOX_REMOVED then INBOX_CHANGED; enqueueing both on the same key in the
 * work queue (agent/queue.h) collapses them into one look at the file.
 *
 * What never produces an event:
 *   - names the inbox ignores (fsapi/inbox.h), dotfiles anywhere (hence every
 *     atomic-write temp file), IN_CREATE and IN_MODIFY of regular files
 *     (only complete writes count);
 *   - status.yaml, containers/<id>.log, `_inbox/`, `_agent/` and anything
 *     else kk_tree_classify() does not call a spec or a ctl: the agent is
 *     their only writer, and none is ever input;
 *   - spec files the agent materialises itself (from the inbox, or putting
 *     back an edited inbox-owned spec): before writing, the agent calls
 *     kk_watch_note_self_write() with the content, and an event whose file
 *     still holds exactly that content (SHA-256) is dropped. Comparing
 *     content rather than counting events makes this immune to coalesced or
 *     reordered events, and a user's edit that races the agent's write is
 *     never lost: its content differs. kk_watch_note_self_remove() does the
 *     same for a spec the agent deletes (prune).
 *
 * The inbox may be a symlink to a directory that is swapped atomically
 * (`ln -s rev2 tmp && mv -T tmp manifests`, as git-sync does). The inbox's
 * parent directory is watched for its name; when it is replaced (or the
 * directory is recreated), the watch moves to the new target and the
 * contents are compared with the names seen before: INBOX_CHANGED for each
 * file now present, INBOX_REMOVED for each one gone. The swapped symlink
 * must be the inbox path itself (its last component). If the inbox
 * disappears, nothing is reported until it reappears: an absent directory
 * is never a reason to delete anything.
 *
 * libinotifytools: it owns the inotify instance and reads and buffers the
 * events (inotifytools_initialize / inotifytools_next_events). It keeps
 * process-global state, so there is ONE watcher per process: a second
 * kk_watch_open fails, and nothing else in the process may call
 * inotifytools_*. Watches are added and removed with inotify_add_watch /
 * inotify_rm_watch on the library's descriptor, and this module keeps its
 * own wd -> directory map: the library's registry is keyed by path and
 * cannot forget a watch the kernel already dropped (a deleted directory), so
 * it would leak an entry per deleted directory and return stale descriptors
 * for a recreated path. The library's descriptor is found by comparing
 * /proc/self/fd before and after it is created.
 *
 * Threads: kk_watch_open / _dispatch / _close from one thread (the agent's
 * main loop); kk_watch_note_self_* from any thread.
 */
#ifndef KUKEON_AGENT_WATCH_H
#define KUKEON_AGENT_WATCH_H

#include <stddef.h>

#include "fsapi/error.h"
#include "fsapi/tree.h"

enum kk_watch_type {
    KK_WATCH_INBOX_CHANGED,
    KK_WATCH_INBOX_REMOVED,
    KK_WATCH_SPEC_CHANGED,
    KK_WATCH_SPEC_REMOVED,
    KK_WATCH_CTL,
    KK_WATCH_RESCAN,
};

struct kk_watch_event {
    enum kk_watch_type type;
    /* INBOX_*: the manifest file name; else NULL. */
    const char *name;
    /* SPEC_*: the resource (a container for containers/<id>.yaml); CTL: the
     * cell; else level NONE. */
    struct kk_key key;
    /* SPEC_*, CTL: the file relative to the state root; else NULL. */
    const char *path;
};

/* Valid only during the call. */
typedef void (*kk_watch_fn)(void *userdata, const struct kk_watch_event *ev);

struct kk_watch_config {
    const char *inbox; /* directory, or a symlink to one */
    const char *state; /* the state root; must exist */
    kk_watch_fn fn;
    void *userdata;
    size_t max_inbox_files; /* 0: 10000 */
    size_t max_dirs;        /* watched state-tree directories; 0: 100000 */
};

struct kk_watch;

int kk_watch_open(const struct kk_watch_config *cfg, struct kk_watch **out, kk_error **err);
/* Readable (POLLIN) when kk_watch_dispatch has work. */
int kk_watch_fd(const struct kk_watch *w);
/* Reads every pending event without blocking and delivers the classified
 * ones; returns how many were delivered. Call it when the fd is readable
 * (calling it at other times is harmless). */
int kk_watch_dispatch(struct kk_watch *w, kk_error **err);
/* The number of state-tree directories watched (for tests and status). */
size_t kk_watch_dir_count(const struct kk_watch *w);
void kk_watch_close(struct kk_watch *w);
KK_DEFINE_CLEANUP(struct kk_watch, kk_watch_close)
#define _cleanup_watch_ _cleanup_(kk_watch_closep)

/* The agent is about to write `data` to `rel` (a path relative to the state
 * root): events for `rel` while it holds exactly this content are dropped.
 * Replaces any earlier note for rel. */
void kk_watch_note_self_write(struct kk_watch *w, const char *rel, const void *data, size_t len);
/* The agent is about to remove `rel`: its next removal event is dropped. */
void kk_watch_note_self_remove(struct kk_watch *w, const char *rel);

#endif
