/* Watching part of the state tree with inotify, for kuke's -w (get -w,
 * events -w): no polling, so a change is seen as soon as it is made.
 *
 * A watch covers the resource directories beneath the root down to a
 * level (realm .. cell, and with KK_LEVEL_CONTAINER the cells' containers/
 * directories), limited to a scope: the directories of the scope key's
 * ancestry and everything beneath it. Directories that appear later are
 * watched as they appear, and the files already in them are reported as
 * created, so nothing written between the mkdir and the watch is missed.
 *
 * Not thread-safe; one watch per thread. Paths passed to the callback are
 * relative to the root, valid only during the call.
 */
#ifndef KUKEON_KUKE_WATCH_H
#define KUKEON_KUKE_WATCH_H

#include <stdint.h>
#include <sys/inotify.h>

#include "fsapi/error.h"
#include "fsapi/tree.h"

struct kuke_watch;

/* rel: a file (or, with IN_ISDIR, a directory) relative to the root; mask:
 * the inotify mask (IN_CREATE, IN_MOVED_TO, IN_MODIFY, IN_CLOSE_WRITE,
 * IN_DELETE, IN_MOVED_FROM). An overflowed queue is reported once as
 * rel "" with IN_Q_OVERFLOW: the caller should read everything again. */
typedef void (*kuke_watch_fn)(const char *rel, uint32_t mask, void *ud);

/* Watches state_dir as described above. scope may be NULL (the whole
 * tree) or a key (level realm .. cell). fn is not called here. */
int kuke_watch_open(const char *state_dir, const struct kk_key *scope, enum kk_key_level max_level,
                    kuke_watch_fn fn, void *ud, struct kuke_watch **out, kk_error **err);
void kuke_watch_free(struct kuke_watch *w);
KK_DEFINE_CLEANUP(struct kuke_watch, kuke_watch_free)

/* The inotify descriptor, for poll(2). */
int kuke_watch_fd(const struct kuke_watch *w);

/* Reads what is queued (blocking until something is) and calls fn for each
 * event, in order. Returns 0, or -1 with *err if inotify failed. */
int kuke_watch_read(struct kuke_watch *w, kk_error **err);

#endif
