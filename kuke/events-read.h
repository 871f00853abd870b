/* Reading events.log files (docs/design.md §2.10), for kuke events and
 * kuke describe.
 *
 * Each realm, space, stack and cell directory may hold events.log, written
 * by the agent only: one event per line, five TAB-separated fields (time,
 * type, reason, object, message). The file is appended with whole lines
 * and, once over 64 KiB, rewritten atomically (another inode) keeping its
 * newest lines. A missing or unreadable file is "no events", never an
 * error; a line that is not five fields is skipped (a reader never trusts
 * a file it does not write). */
#ifndef KUKEON_KUKE_EVENTS_READ_H
#define KUKEON_KUKE_EVENTS_READ_H

#include <stddef.h>
#include <stdint.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"
#include "fsapi/tree.h"
#include "fsapi/yaml.h"

#define KUKE_EVENTS_NAME "events.log"
/* A reader's bound on one file: the agent keeps it near 64 KiB. */
#define KUKE_EVENTS_FILE_MAX (4 * 1024 * 1024)

struct kuke_event {
    char *line; /* owned: the line with its TABs turned into NULs */
    const char *time, *type, *reason, *object, *message; /* into line */
    int64_t at;        /* time in ns since the epoch; 0 if unparseable */
    struct kk_key key; /* the resource whose events.log held it */
    size_t seq;        /* reading order, for a stable merge */
};

struct kuke_events {
    struct kuke_event *v;
    size_t n, cap;
};

void kuke_events_release(struct kuke_events *e);

/* "<resource dir>/events.log" of key (realm .. cell), relative to the root;
 * the caller frees. */
char *kuke_events_path(const struct kk_key *key);

/* Parses line (len bytes, no newline) into ev (key and seq untouched).
 * Returns 0, or -1 (ev untouched) unless it is five fields with a time,
 * a type and a reason. */
int kuke_event_parse(const char *line, size_t len, struct kuke_event *ev);

/* Appends to out the events of every complete line in data (a final line
 * without its newline is left: the writer has not finished it). Returns
 * the number of bytes consumed (up to the last newline). */
size_t kuke_events_parse_buffer(const char *data, size_t len, const struct kk_key *key,
                                struct kuke_events *out);

/* Appends the events of key's events.log; a missing or unreadable file
 * adds nothing. */
void kuke_events_load(int rootfd, const struct kk_key *key, struct kuke_events *out);

/* Sorts by time, keeping the order of reading among equal times. */
void kuke_events_sort(struct kuke_events *e);

/* The object of ev as kubectl names it: "cell/web" for the resource itself,
 * "container/side" for a container; with `full`, the resource's key makes
 * it unique in the whole tree ("cell/default/default/default/web",
 * "container/default/default/default/web/side"). The caller frees. */
char *kuke_event_object(const struct kuke_event *ev, bool full);

/* ev as a mapping in t: time, type, reason, object, message (as in the
 * file), and resource ("<kind>/<key>"). */
struct kk_ynode *kuke_event_tree(struct kk_ytree *t, const struct kuke_event *ev);

#endif
