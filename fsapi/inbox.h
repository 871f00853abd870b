/* Inbox name rules (docs/design.md §2): which files of the manifest directory the
 * agent reads.
 *
 * A file counts when its name ends in ".yaml" or ".yml" (with something
 * before the suffix), is at most KK_INBOX_NAME_MAX bytes, contains no '/' and is not
 * one of the names editors, sync tools and package managers leave behind:
 *
 *     .web.yaml.swp   dotfiles (vim swap files, rsync/git-sync temporaries,
 *                     our own atomic-write temp files)
 *     web.yaml~       backups (emacs, `cp --backup`)
 *     web.yaml.swp    swap files, also *.swx, *.swo
 *     web.yaml.tmp    temporaries
 *     #web.yaml#      emacs autosave
 *     4913            vim's "can I create a file here" probe
 *
 * The suffix rule already excludes most of these; they are listed
 * explicitly so the reason can be logged and so a future relaxation of the
 * suffix rule cannot let them in.
 *
 * Pure functions of the name: thread-safe, no filesystem access.
 */
#ifndef KUKEON_INBOX_H
#define KUKEON_INBOX_H

#include <stdbool.h>

enum kk_inbox_verdict {
    KK_INBOX_MANIFEST = 0,    /* counts */
    KK_INBOX_IGNORED_INVALID, /* empty, "." / "..", contains '/', too long */
    KK_INBOX_IGNORED_DOTFILE,
    KK_INBOX_IGNORED_BACKUP,   /* *~ */
    KK_INBOX_IGNORED_SWAP,     /* *.swp, *.swx, *.swo */
    KK_INBOX_IGNORED_TEMP,     /* *.tmp */
    KK_INBOX_IGNORED_AUTOSAVE, /* #*# */
    KK_INBOX_IGNORED_PROBE,    /* 4913 */
    KK_INBOX_IGNORED_SUFFIX,   /* not *.yaml / *.yml */
    KK_INBOX_IGNORED_TOO_LONG, /* over KK_INBOX_NAME_MAX: no room for its report */
};

/* Longest inbox file name: its report "<name>.status.yaml" must still be a
 * valid file name (NAME_MAX, 255). A longer one is ignored with a warning
 * rather than applied without a report. */
#define KK_INBOX_NAME_MAX (255 - 12)

enum kk_inbox_verdict kk_inbox_classify(const char *name);
/* kk_inbox_classify(name) == KK_INBOX_MANIFEST */
bool kk_inbox_name_counts(const char *name);
/* "manifest", "dotfile", "backup", ...; never NULL. */
const char *kk_inbox_verdict_name(enum kk_inbox_verdict verdict);

#endif
