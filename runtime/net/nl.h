/* rtnetlink plumbing of runtime/net over libmnl (internal).
 *
 * A struct kk_nl is one NETLINK_ROUTE socket, bound to the network namespace
 * of the thread that opened it (kk_nl_open) for its whole life, so a socket
 * opened inside a cell's namespace configures that namespace from any
 * thread. Not thread-safe: one user at a time.
 *
 * Requests that belong together go out as one batch (one sendto of several
 * messages, each with NLM_F_ACK); kk_nl_batch_commit then reads an ACK for
 * every message, so the socket is left clean even when some fail, and
 * reports the first failure that the message did not tolerate (e.g. EEXIST
 * for an "ensure"), with the kernel's extended-ACK text when there is one.
 */
#ifndef KUKEON_NET_NL_H
#define KUKEON_NET_NL_H

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdint.h>

#include "fsapi/error.h"

struct kk_nl {
    struct mnl_socket *sock;
    uint32_t portid;
    uint32_t seq;
};

/* Opens a socket in the calling thread's network namespace. */
int kk_nl_open(struct kk_nl *nl, kk_error **err);
void kk_nl_close(struct kk_nl *nl);

#define KK_NL_BATCH_MSGS 8
/* MNL_SOCKET_BUFFER_SIZE as a constant (it is sysconf-based, 8 KiB here). */
#define KK_NL_BUFSIZE 8192

struct kk_nl_batch {
    struct kk_nl *nl;
    struct mnl_nlmsg_batch *b;
    unsigned n;
    uint32_t first_seq;
    struct {
        const char *what; /* static string, for error messages */
        int tolerated;    /* an errno that counts as success, or 0 */
    } msg[KK_NL_BATCH_MSGS];
    /* Twice the limit: a message may start just below it (libmnl's rule). */
    char buf[2 * KK_NL_BUFSIZE];
};

void kk_nl_batch_init(struct kk_nl_batch *b, struct kk_nl *nl);
/* Starts the next message (NLM_F_REQUEST | NLM_F_ACK | flags) and returns
 * its header for the caller to fill with mnl_nlmsg_put_extra_header and
 * mnl_attr_put*. At most KK_NL_BATCH_MSGS messages (an assertion). */
struct nlmsghdr *kk_nl_batch_add(struct kk_nl_batch *b, uint16_t type, uint16_t flags,
                                 int tolerated, const char *what);
/* Sends the batch and waits for every ACK; fails with the first error not
 * tolerated. Every initialised batch must be committed (it releases
 * libmnl's batch state); it is spent afterwards (kk_nl_batch_init to
 * reuse). */
int kk_nl_batch_commit(struct kk_nl_batch *b, kk_error **err);

/* One request expecting one reply message (an RTM_GET* of one object),
 * sent with NLM_F_ACK; the reply goes to cb (as in mnl_cb_run). A kernel
 * error comes back like any other, with its errno in (*err)->sys_errno and
 * code (ENODEV: NotFound), so callers can tell "absent" from a failure. */
int kk_nl_query(struct kk_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, kk_error **err);

/* A dump request (NLM_F_DUMP is added): every reply message goes to cb
 * until NLMSG_DONE. */
int kk_nl_dump(struct kk_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, kk_error **err);

#endif
