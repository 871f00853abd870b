/* gRPC client over libcurl HTTP/2 (h2c) on a unix socket.
 *
 * One struct kk_grpc is one HTTP/2 connection (re-opened when the server
 * restarts) driven by one I/O thread that owns a curl multi handle. Every
 * call — unary, client streaming, server streaming — is one more stream on
 * that connection.
 *
 *     struct kk_grpc *g;
 *     kk_grpc_open("/run/containerd/containerd.sock", NULL, &g, err);
 *     kk_grpc_unary(g, "/containerd.services.version.v1.Version/Version",
 *                   NULL, &req.base, &resp_descriptor, &resp, 0, err);
 *
 * Threading contract:
 *   - Any thread may start calls concurrently. A call is handed to the I/O
 *     thread through a mutex-protected queue (curl_multi_wakeup); the caller
 *     then blocks on the call's condition variable until it completes.
 *   - The I/O thread runs the curl callbacks and the call's own callbacks
 *     (`produce`, `on_message`): they must not block on, or start calls
 *     through, the same struct kk_grpc (that would deadlock the I/O thread).
 *   - Every call with timeout_ms > 0 completes by its deadline, with
 *     KK_E_DEADLINE; -1 means no deadline (long-lived streams, Wait).
 *
 * Errors: the grpc-status of the call (from headers or trailers) is the
 * kk_error code, grpc-message (percent-decoded) its message. Transport
 * failures are KK_E_UNAVAILABLE, and so is a call whose stream ended
 * without a grpc-status (the server reset it, the connection was lost):
 * the caller may retry.
 *
 * Known limit (libcurl 7.88): when the server ends a call while the request
 * is still being sent — an unknown method, a message over the server's size
 * limit — it resets the stream and libcurl loses the status; such a call
 * fails with KK_E_UNKNOWN "stream reset by the server ...".
 *
 * Reconnection: libcurl 7.88 cannot reuse a connection opened with
 * CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE for a request that also asks for prior
 * knowledge (curl#10634), so the request that opens a connection uses prior
 * knowledge and the others CURL_HTTP_VERSION_2_0 with PIPEWAIT; a request
 * that fails before reaching the server (CURLE_UNSUPPORTED_PROTOCOL,
 * CURLE_HTTP2, CURLE_COULDNT_CONNECT) is re-sent, with backoff when the
 * server is down, until its deadline.
 */
#ifndef KUKEON_GRPC_H
#define KUKEON_GRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"

/* Largest message accepted from the server (containerd's own limit is 16 MiB). */
#define KK_GRPC_MAX_MESSAGE (16u << 20)

struct kk_grpc;
struct kk_grpc_call;

struct kk_grpc_opts {
    int default_timeout_ms; /* used when a call passes timeout_ms == 0; 0: 30 s */
    int backoff_min_ms;     /* first reconnect delay; 0: 20 ms */
    int backoff_max_ms;     /* 0: 1 s */
};

/* Starts the I/O thread; does not connect yet. opts may be NULL. */
int kk_grpc_open(const char *socket_path, const struct kk_grpc_opts *opts, struct kk_grpc **out,
                 kk_error **err);
/* Cancels whatever is still running (KK_E_CANCELLED), joins the I/O thread.
 * No call may be started concurrently with or after it. NULL is accepted. */
void kk_grpc_close(struct kk_grpc *g);

/* Produces the next request message of a client stream into `msg` (packed,
 * without the 5-byte prefix) and sets *last on the final one. Returns < 0 to
 * abort the call with err. Runs on the I/O thread. */
typedef int (*kk_grpc_produce_fn)(void *userdata, struct kk_buf *msg, bool *last, kk_error **err);
/* Receives one response message (without prefix). Returns < 0 to cancel the
 * call with err. Runs on the I/O thread. */
typedef int (*kk_grpc_message_fn)(void *userdata, const uint8_t *data, size_t len, kk_error **err);

struct kk_grpc_call_desc {
    const char *method; /* "/package.Service/Method" */
    /* Request metadata: NULL-terminated alternating names and values (e.g.
     * {"containerd-namespace", "default", NULL}); may be NULL. */
    const char *const *metadata;
    /* Exactly one of: `request` (one message: unary and server streaming)
     * or `produce` (client streaming). */
    const ProtobufCMessage *request;
    kk_grpc_produce_fn produce;
    /* Client streaming: restarts the producer from the first message so a
     * request that never reached the server can be re-sent. NULL: such a
     * call fails with KK_E_UNAVAILABLE instead of being re-sent. */
    void (*rewind)(void *userdata);
    /* Streaming responses: each message to on_message. NULL: the call keeps
     * the first response message, see kk_grpc_call_response. */
    kk_grpc_message_fn on_message;
    void *userdata;
    int timeout_ms; /* 0: the default; -1: none */
};

/* Starts a call and returns at once; it runs on the I/O thread. The call
 * object is the caller's: finish it with kk_grpc_call_wait, then free it. */
int kk_grpc_call_start(struct kk_grpc *g, const struct kk_grpc_call_desc *desc,
                       struct kk_grpc_call **out, kk_error **err);
/* Blocks until the call has completed; returns its outcome (0 or < 0 with
 * err). May be called once per call. err may be NULL: the call's error is
 * then dropped with it. */
int kk_grpc_call_wait(struct kk_grpc_call *call, kk_error **err);
/* Asks the I/O thread to end the call (it then completes with
 * KK_E_CANCELLED, unless it completed already). Returns at once; any
 * thread, any number of times. */
void kk_grpc_call_cancel(struct kk_grpc_call *call);
/* Whether the call has completed (kk_grpc_call_wait would not block). */
bool kk_grpc_call_done(struct kk_grpc_call *call);
/* The response message of a completed call without on_message (NULL if the
 * server sent none); the data stays owned by the call. */
const struct kk_buf *kk_grpc_call_response(const struct kk_grpc_call *call);
/* Frees a completed call (cancels and waits if it is still running). */
void kk_grpc_call_free(struct kk_grpc_call *call);
KK_DEFINE_CLEANUP(struct kk_grpc_call, kk_grpc_call_free)

/* start + wait + free. */
int kk_grpc_call(struct kk_grpc *g, const struct kk_grpc_call_desc *desc, kk_error **err);

/* A unary call with protobuf-c messages: packs `req`, unpacks the answer
 * with `resp_desc` into *resp (free with protobuf_c_message_free_unpacked;
 * resp may be NULL to discard it). */
int kk_grpc_unary(struct kk_grpc *g, const char *method, const char *const *metadata,
                  const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                  ProtobufCMessage **resp, int timeout_ms, kk_error **err);

/* Counters for tests and benchmarks (a snapshot; any thread). */
struct kk_grpc_stats {
    uint64_t calls;       /* calls completed */
    uint64_t retries;     /* re-sent requests */
    uint64_t connections; /* requests that opened a connection */
};
void kk_grpc_get_stats(struct kk_grpc *g, struct kk_grpc_stats *out);

/* Percent-decodes a grpc-message value (exposed for unit tests). */
char *kk_grpc_percent_decode(const char *s, size_t len);

#endif
