/* Control requests: what a user (or `kuke stop|start|kill|restart|pause|
 * resume`) writes into a cell's ctl file, and the agent consumes
 * (docs/design.md §2, kukeon-fsapi(7)).
 *
 * A request is one line: a verb, and for kill an optional signal. Anything
 * else — several lines ("stop\nstart" written at once), an argument to a verb
 * that takes none, a NUL byte — is refused as a whole, so a request is never
 * half understood. Both sides parse with these functions, so kuke refuses
 * what the agent would.
 *
 * Pure functions: no allocation, thread-safe.
 */
#ifndef KUKEON_CTL_H
#define KUKEON_CTL_H

#include <stddef.h>

#include "fsapi/contract.h"

enum kk_ctl_verb {
    KK_CTL_INVALID = 0,
    KK_CTL_START,   /* sticky: run again (clears stop, pause, backoff) */
    KK_CTL_STOP,    /* sticky: stop every container, restart none */
    KK_CTL_PAUSE,   /* sticky: freeze the tasks */
    KK_CTL_RESUME,  /* sticky: thaw them */
    KK_CTL_RESTART, /* once: recreate every container (clears stop, pause) */
    KK_CTL_KILL,    /* once: send a signal to every task */
};

struct kk_ctl_request {
    enum kk_ctl_verb verb;
    int signal; /* KK_CTL_KILL: the signal (SIGKILL when none was given) */
    /* The request as written, whitespace folded ("kill TERM"), for
     * status.yaml's lastControl.verb; truncated, printable ASCII (others
     * become '?'), never a line break. */
    char text[KK_CTL_FILE_MAX + 1];
};

/* The signal named by s: "TERM", "SIGTERM" or a number 1..64; -1 if none.
 * Names: HUP INT QUIT KILL USR1 USR2 TERM STOP CONT WINCH. */
int kk_ctl_signal_parse(const char *s);

/* Parses a ctl file's content (len bytes, need not be NUL-terminated).
 * Returns 0, or -1 with *why set to a static explanation (out->text is
 * still filled, for the report). */
int kk_ctl_parse(const char *data, size_t len, struct kk_ctl_request *out, const char **why);

#endif
