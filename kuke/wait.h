/* kuke VERB --wait: waiting for a resource's status.yaml to say something,
 * woken by inotify (the agent replaces status.yaml by a rename, so each new
 * status is one IN_MOVED_TO in the resource's directory), never by
 * polling the file.
 *
 *     struct kuke_wait w = {.ctx = &ctx, .key = &key, .timeout_ms = 60000,
 *                           .done = stopped, .what = "stop"};
 *     int r = kuke_wait(&w);   // 0 done, 1 failed or timed out (said why)
 *
 * `done` is called with the status as loaded (NULL when the file is absent
 * or unreadable, or the directory is gone) and returns KUKE_WAIT_MORE,
 * KUKE_WAIT_DONE or KUKE_WAIT_FAILED. On a terminal, one line on stdout is
 * rewritten with the state, the reason and the time left before the stop
 * deadline while waiting; elsewhere nothing is printed until the end.
 */
#ifndef KUKEON_KUKE_WAIT_H
#define KUKEON_KUKE_WAIT_H

#include "kuke/common.h"

enum { KUKE_WAIT_MORE, KUKE_WAIT_DONE, KUKE_WAIT_FAILED };

struct kuke_wait {
    struct kuke_ctx *ctx;
    const struct kk_key *key;
    int64_t timeout_ms;
    /* Decides on each status; `arg` is passed back. */
    int (*done)(const struct kk_status *st, bool dir_gone, void *arg);
    void *arg;
    const char *what; /* the verb, for messages: "stop", "delete" */
};

/* Waits as above. Returns 0 when done says DONE, 1 on FAILED or timeout
 * (after a message on stderr: "kuke VERB: ..."). */
int kuke_wait(const struct kuke_wait *w);

#endif
