/* The events file of a resource (docs/design.md §2.10): what the agent did
 * to a realm, space, stack or cell and saw happen to it, newest last.
 *
 *     kk_events_emit(rootfd, "default/default/default/web", now_ns,
 *                    KK_EVENT_NORMAL, "Pulled", "container/web",
 *                    "pulled %s in %.1f s", ref, secs);
 *
 * One line per event, five TAB-separated fields: time (RFC 3339 UTC with
 * milliseconds), type (Normal, Warning), reason (CamelCase), object
 * ("cell", "container/<id>"), message. A TAB, CR or LF in any field is
 * written as a space; a line, its newline included, is at most
 * KK_EVENTS_LINE_MAX bytes, the message cut at a UTF-8 boundary.
 *
 * Each line is appended with one write(2) on a descriptor opened
 * O_APPEND|O_NOFOLLOW beneath the resource's directory, so readers see only
 * whole lines. Anything but a regular file with one link found in place of
 * events.log (a symlink, a hard link, a fifo) is removed and a new file
 * created: a link is never followed nor written through. Once the file
 * exceeds KK_EVENTS_TRIM_AT bytes it is rewritten atomically (fsapi/atomic.h)
 * with the newest whole lines that fit in KK_EVENTS_KEEP bytes.
 *
 * Events are best effort: a failure is returned for tests and logged at
 * debug by the caller, never a reason to act. Thread-safe: appends and
 * trims of all files are serialised on one process-wide lock, so a trim
 * never loses a line another thread of the agent appended meanwhile.
 */
#ifndef KUKEON_AGENT_EVENTS_H
#define KUKEON_AGENT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "fsapi/error.h"

#define KK_EVENTS_FILE     "events.log"
#define KK_EVENTS_LINE_MAX 1024
#define KK_EVENTS_TRIM_AT  (64 * 1024)
#define KK_EVENTS_KEEP     (32 * 1024)

enum kk_event_type { KK_EVENT_NORMAL, KK_EVENT_WARNING };

/* Formats one line (newline included) into out, which holds at least
 * KK_EVENTS_LINE_MAX + 1 bytes (NUL-terminated). Returns its length. Pure:
 * no clock, no I/O. object and message may be NULL (written empty). */
size_t kk_events_format(char *out, int64_t now_ns, enum kk_event_type type, const char *reason,
                        const char *object, const char *message);

/* Appends one line to <dir>/events.log beneath rootfd (dir is relative to
 * it, the resource's directory, which must exist), trimming the file when
 * it grew past KK_EVENTS_TRIM_AT. */
int kk_events_append(int rootfd, const char *dir, int64_t now_ns, enum kk_event_type type,
                     const char *reason, const char *object, const char *message, kk_error **err);

/* kk_events_append with a printf-style message; errors are dropped. */
void kk_events_emit(int rootfd, const char *dir, int64_t now_ns, enum kk_event_type type,
                    const char *reason, const char *object, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));

#endif
