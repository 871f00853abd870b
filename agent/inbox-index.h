/* The inbox ownership index: which inbox file owns which spec, and which
 * keys each inbox file defines, so an inbox apply or removal finds what to
 * prune without walking the state tree or parsing every other inbox file
 * (both were quadratic in the number of files; docs/benchmarks.md "cells").
 *
 * Two relations, kept apart because they can disagree for a moment:
 *   - owners: spec key -> the inbox file named by the spec's
 *     kukeon.io/source annotation, as the agent last wrote it (or found it
 *     in the tree when the index was built). Only a hint: whoever removes a
 *     spec re-reads its annotation under the spec lock first.
 *   - definitions: inbox file -> the keys its documents define, as of the
 *     content whose stamp (device, inode, size, mtime, ctime) is recorded,
 *     so a reader can tell a file that changed since it was parsed.
 *
 * Keys are formatted resource keys ("default/default/default/web"); files
 * are inbox file names. Every function is thread-safe (one mutex inside);
 * strings returned are copies the caller frees. Nothing here touches the
 * disk: agent/inbox.c feeds it.
 */
#ifndef KUKEON_AGENT_INBOX_INDEX_H
#define KUKEON_AGENT_INBOX_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct agent_inbox_stamp {
    uint64_t dev, ino;
    int64_t size, mtime_ns, ctime_ns;
};

void agent_inbox_stamp_of(const struct stat *sb, struct agent_inbox_stamp *out);

struct agent_inbox_index;

struct agent_inbox_index *agent_inbox_index_new(void);
/* Accepts NULL. */
void agent_inbox_index_free(struct agent_inbox_index *ix);
/* Forgets everything (owners and definitions); the index stays usable. */
void agent_inbox_index_clear(struct agent_inbox_index *ix);

/* Records that key's spec names `file` as its source (NULL: no inbox file,
 * or the spec is gone). */
void agent_inbox_index_set_owner(struct agent_inbox_index *ix, const char *key, const char *file);
/* The owner of key, or NULL. */
char *agent_inbox_index_owner(struct agent_inbox_index *ix, const char *key);
/* The keys `file` owns, sorted, NULL-terminated (never NULL; kk_strv_free);
 * *n (if not NULL) is their number. */
char **agent_inbox_index_owned(struct agent_inbox_index *ix, const char *file, size_t *n);

/* Records the keys `file` defines, parsed from the content stamped `st`
 * (an invalid file defines none). Replaces what the file defined before. */
void agent_inbox_index_define(struct agent_inbox_index *ix, const char *file,
                              const struct agent_inbox_stamp *st, const char *const *keys,
                              size_t n);
/* The file is gone: it defines nothing. */
void agent_inbox_index_forget(struct agent_inbox_index *ix, const char *file);
/* Whether file's definitions were parsed from content stamped exactly st. */
bool agent_inbox_index_is_current(struct agent_inbox_index *ix, const char *file,
                                  const struct agent_inbox_stamp *st);
/* A file other than `except` (may be NULL) that defines key: the first by
 * name, so the choice does not depend on the table's order; NULL if none. */
char *agent_inbox_index_definer(struct agent_inbox_index *ix, const char *key, const char *except);
/* The files with definitions, NULL-terminated (kk_strv_free). */
char **agent_inbox_index_files(struct agent_inbox_index *ix);

#endif
