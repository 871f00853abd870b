#include "runtime/net/nl.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>

#include "fsapi/clock.h"

int kk_nl_open(struct kk_nl *nl, kk_error **err)
{
    nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl->sock)
        return kk_error_errno(err, "open rtnetlink socket");
    if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        kk_error_errno(err, "bind rtnetlink socket");
        kk_nl_close(nl);
        return -1;
    }
    /* Short ACKs (no echo of our request), with the kernel's error text. */
    int one = 1;
    mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
    mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
    nl->portid = mnl_socket_get_portid(nl->sock);
    /* Distinct sequence numbers across sockets ease reading strace/nlmon. */
    nl->seq = (uint32_t)(kk_clock_real_ns(NULL) / KK_NSEC_PER_SEC);
    return 0;
}

void kk_nl_close(struct kk_nl *nl)
{
    if (nl->sock)
        mnl_socket_close(nl->sock);
    nl->sock = NULL;
}

void kk_nl_batch_init(struct kk_nl_batch *b, struct kk_nl *nl)
{
    b->nl = nl;
    b->n = 0;
    b->first_seq = nl->seq + 1;
    /* libmnl does not clear attribute padding; keep the kernel (and
     * valgrind) from seeing stale stack bytes. */
    memset(b->buf, 0, sizeof(b->buf));
    b->b = mnl_nlmsg_batch_start(b->buf, KK_NL_BUFSIZE);
}

struct nlmsghdr *kk_nl_batch_add(struct kk_nl_batch *b, uint16_t type, uint16_t flags,
                                 int tolerated, const char *what)
{
    assert(b->n < KK_NL_BATCH_MSGS);
    if (b->n > 0)
        mnl_nlmsg_batch_next(b->b);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b->b));
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    nlh->nlmsg_seq = ++b->nl->seq;
    b->msg[b->n].what = what;
    b->msg[b->n].tolerated = tolerated;
    b->n++;
    return nlh;
}

/* The kernel's extended-ACK message of an NLMSG_ERROR, or NULL. */
static const char *ext_ack_msg(const struct nlmsghdr *nlh)
{
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
        return NULL;
    const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
    size_t off = sizeof(*e);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
        off += e->msg.nlmsg_len - sizeof(e->msg);
    const struct nlattr *attr;
    mnl_attr_for_each(attr, nlh, off)
    {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
            mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
            return mnl_attr_get_str(attr);
    }
    return NULL;
}

static int ack_error(kk_error **err, int errnum, const char *what, const struct nlmsghdr *nlh)
{
    const char *ext = ext_ack_msg(nlh);
    if (ext && *ext)
        return kk_error_errnum(err, errnum, "%s (%s)", what, ext);
    return kk_error_errnum(err, errnum, "%s", what);
}

static int batch_send_and_ack(struct kk_nl_batch *b, kk_error **err)
{
    struct kk_nl *nl = b->nl;
    mnl_nlmsg_batch_next(b->b);
    if (mnl_socket_sendto(nl->sock, mnl_nlmsg_batch_head(b->b), mnl_nlmsg_batch_size(b->b)) < 0)
        return kk_error_errno(err, "netlink send (%s...)", b->msg[0].what);

    unsigned acked = 0;
    int failed = 0;
    char buf[KK_NL_BUFSIZE];
    while (acked < b->n) {
        ssize_t len = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
        if (len < 0) {
            if (errno == EINTR)
                continue;
            return kk_error_errno(err, "netlink receive (%s...)", b->msg[0].what);
        }
        int left = (int)len;
        for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, left);
             nlh = mnl_nlmsg_next(nlh, &left)) {
            uint32_t idx = nlh->nlmsg_seq - b->first_seq;
            if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != nl->portid || idx >= b->n)
                continue; /* an echo, or not ours */
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
            acked++;
            int errnum = -e->error;
            if (errnum == 0 || errnum == b->msg[idx].tolerated || failed)
                continue;
            failed = 1;
            ack_error(err, errnum, b->msg[idx].what, nlh);
        }
    }
    return failed ? -1 : 0;
}

int kk_nl_batch_commit(struct kk_nl_batch *b, kk_error **err)
{
    int r = b->n ? batch_send_and_ack(b, err) : 0;
    mnl_nlmsg_batch_stop(b->b);
    b->b = NULL;
    return r;
}

/* True if buf holds the end (NLMSG_DONE, or an error) of request seq. */
static bool dump_ended(const char *buf, size_t len, uint32_t seq)
{
    int left = (int)len;
    for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left))
        if (nlh->nlmsg_seq == seq &&
            (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR))
            return true;
    return false;
}

/* Reads the remainder of an interrupted dump; buf holds its latest part. */
static void drain_dump(struct kk_nl *nl, char *buf, size_t len, size_t size)
{
    while (!dump_ended(buf, len, nl->seq)) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, buf, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        len = (size_t)n;
    }
}

/* Sends nlh and feeds the answers to cb until the kernel says it is done
 * (the ACK of a request, NLMSG_DONE of a dump). */
static int request(struct kk_nl *nl, struct nlmsghdr *nlh, uint16_t flags, mnl_cb_t cb, void *data,
                   kk_error **err)
{
    nlh->nlmsg_flags |= NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = ++nl->seq;
    if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
        return kk_error_errno(err, "netlink send");
    /* Dump replies come in skbs of up to 32 KiB (MNL_SOCKET_DUMP_SIZE). */
    char buf[32768];
    for (;;) {
        ssize_t len = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
        if (len < 0) {
            if (errno == EINTR)
                continue;
            return kk_error_errno(err, "netlink receive");
        }
        int r = mnl_cb_run(buf, (size_t)len, nl->seq, nl->portid, cb, data);
        if (r < 0 && errno == EINTR && (flags & NLM_F_DUMP)) {
            /* NLM_F_DUMP_INTR: the table changed during the dump. The rest
             * of it is still coming; read it away so the socket is clean
             * for the caller's retry. */
            drain_dump(nl, buf, (size_t)len, sizeof(buf));
            errno = EINTR;
        }
        if (r < 0)
            return kk_error_errno(err, "netlink query");
        if (r == MNL_CB_STOP)
            return 0;
    }
}

int kk_nl_query(struct kk_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, kk_error **err)
{
    return request(nl, nlh, NLM_F_ACK, cb, data, err);
}

int kk_nl_dump(struct kk_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, kk_error **err)
{
    return request(nl, nlh, NLM_F_DUMP, cb, data, err);
}
