/* The gRPC client against a fake HTTP/2 server (raw frames on a unix
 * socket, no containerd): how each way a call can end — trailers,
 * trailers-only, a header block split over CONTINUATION frames, a stream
 * reset with NO_ERROR, GOAWAY, the connection closed mid-call — comes out
 * as a kk_error code. kukeon issue 11: a call that ended without any
 * grpc-status was KK_E_INTERNAL "response without grpc-status", so the
 * agent did not take it for the transient failure it is. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "google/protobuf/empty.pb-c.h"
#include "runtime/grpc/grpc.h"
#include "tests/lib/kktest.h"

enum ending {
    END_OK,             /* HEADERS, DATA, trailers HEADERS */
    END_TRAILERS_ONLY,  /* one HEADERS with :status, grpc-status, END_STREAM */
    END_SPLIT_TRAILERS, /* trailers as HEADERS + CONTINUATION */
    END_RST_NO_ERROR,   /* HEADERS, DATA, RST_STREAM(NO_ERROR): no trailers */
    END_GOAWAY_CLOSE,   /* HEADERS, DATA, GOAWAY(NO_ERROR), close */
    END_CLOSE,          /* HEADERS, DATA, close */
    END_CLOSE_AT_ONCE,  /* close without answering */
    /* As grpc-go when it answered before the client's END_STREAM: at the
     * request's first DATA, HEADERS, DATA, trailers, RST_STREAM(NO_ERROR). */
    END_EARLY_THEN_RST,
};

static _Atomic int ending;
/* Set: the server waits, after the response's DATA, until the client has
 * delivered that message (on_message), then ends the stream: the client
 * has taken the headers and the body before it sees the end. */
static _Atomic bool wait_delivery;
static pthread_mutex_t delivery_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t delivery_cond = PTHREAD_COND_INITIALIZER;
static bool delivered;

static void await_delivery(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&delivery_lock);
    while (!delivered)
        if (pthread_cond_timedwait(&delivery_cond, &delivery_lock, &until) != 0)
            break;
    delivered = false;
    pthread_mutex_unlock(&delivery_lock);
}
static char sock_path[108];
static int listen_fd = -1;
static pthread_t server;

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static int frame(int fd, uint8_t type, uint8_t flags, uint32_t stream, const void *payload,
                 size_t len)
{
    uint8_t h[9] = {(uint8_t)(len >> 16),
                    (uint8_t)(len >> 8),
                    (uint8_t)len,
                    type,
                    flags,
                    (uint8_t)(stream >> 24 & 0x7f),
                    (uint8_t)(stream >> 16),
                    (uint8_t)(stream >> 8),
                    (uint8_t)stream};
    if (write_all(fd, h, sizeof(h)) < 0)
        return -1;
    return len ? write_all(fd, payload, len) : 0;
}

/* HPACK, literal without indexing, new name, no Huffman. */
static void hp_literal(struct kk_buf *b, const char *name, const char *value)
{
    kk_buf_addch(b, 0);
    kk_buf_addch(b, (char)strlen(name));
    kk_buf_add(b, name, strlen(name));
    kk_buf_addch(b, (char)strlen(value));
    kk_buf_add(b, value, strlen(value));
}

static void hp_response_headers(struct kk_buf *b)
{
    kk_buf_addch(b, (char)0x88); /* :status 200, static table 8 */
    hp_literal(b, "content-type", "application/grpc");
}

enum { F_DATA = 0, F_HEADERS = 1, F_RST = 3, F_SETTINGS = 4, F_PING = 6, F_GOAWAY = 7, F_CONT = 9 };
enum { END_STREAM = 1, ACK = 1, END_HEADERS = 4 };

/* Answers the request on stream s as `ending` says; < 0: close now. */
static int answer(int fd, uint32_t s)
{
    struct kk_buf h = KK_BUF_INIT, t = KK_BUF_INIT;
    static const uint8_t empty_msg[5] = {0, 0, 0, 0, 0};
    int e = atomic_load(&ending), r = 0;
    hp_response_headers(&h);
    hp_literal(&t, "grpc-status", "5");
    hp_literal(&t, "grpc-message", "no%20such%20thing");
    switch (e) {
    case END_CLOSE_AT_ONCE:
        r = -1;
        break;
    case END_TRAILERS_ONLY:
        hp_literal(&h, "grpc-status", "5");
        hp_literal(&h, "grpc-message", "no%20such%20thing");
        r = frame(fd, F_HEADERS, END_HEADERS | END_STREAM, s, h.data, h.len);
        break;
    default:
        if (frame(fd, F_HEADERS, END_HEADERS, s, h.data, h.len) < 0 ||
            frame(fd, F_DATA, 0, s, empty_msg, sizeof(empty_msg)) < 0) {
            r = -1;
            break;
        }
        if (atomic_load(&wait_delivery))
            await_delivery();
        if (e == END_OK) {
            r = frame(fd, F_HEADERS, END_HEADERS | END_STREAM, s, t.data, t.len);
        } else if (e == END_EARLY_THEN_RST) {
            static const uint8_t no_error[4] = {0};
            r = frame(fd, F_HEADERS, END_HEADERS | END_STREAM, s, t.data, t.len) < 0 ||
                                frame(fd, F_RST, 0, s, no_error, sizeof(no_error)) < 0
                        ? -1
                        : 0;
        } else if (e == END_SPLIT_TRAILERS) {
            size_t half = t.len / 2;
            r = frame(fd, F_HEADERS, END_STREAM, s, t.data, half) < 0 ||
                                frame(fd, F_CONT, END_HEADERS, s, t.data + half, t.len - half) < 0
                        ? -1
                        : 0;
        } else if (e == END_RST_NO_ERROR) {
            static const uint8_t no_error[4] = {0};
            r = frame(fd, F_RST, 0, s, no_error, sizeof(no_error));
        } else if (e == END_GOAWAY_CLOSE) {
            uint8_t ga[8] = {(uint8_t)(s >> 24),
                             (uint8_t)(s >> 16),
                             (uint8_t)(s >> 8),
                             (uint8_t)s,
                             0,
                             0,
                             0,
                             0};
            frame(fd, F_GOAWAY, 0, 0, ga, sizeof(ga));
            r = -1;
        } else { /* END_CLOSE */
            r = -1;
        }
    }
    kk_buf_release(&h);
    kk_buf_release(&t);
    return r;
}

static void serve_conn(int fd)
{
    char preface[24];
    if (read_all(fd, preface, sizeof(preface)) < 0 ||
        memcmp(preface, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24) != 0 ||
        frame(fd, F_SETTINGS, 0, 0, NULL, 0) < 0)
        return;
    uint32_t answered = 0; /* streams are answered once, in order */
    for (;;) {
        uint8_t h[9];
        if (read_all(fd, h, sizeof(h)) < 0)
            return;
        size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        uint32_t s =
                ((uint32_t)h[5] & 0x7f) << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8];
        char *payload = malloc(len + 1);
        if (!payload || (len && read_all(fd, payload, len) < 0)) {
            free(payload);
            return;
        }
        int r = 0;
        if (h[3] == F_SETTINGS && !(h[4] & ACK))
            r = frame(fd, F_SETTINGS, ACK, 0, NULL, 0);
        else if (h[3] == F_PING && !(h[4] & ACK))
            r = frame(fd, F_PING, ACK, 0, payload, len);
        else if (s > answered &&
                 (((h[3] == F_DATA || h[3] == F_HEADERS) && (h[4] & END_STREAM)) ||
                  (h[3] == F_DATA && len > 0 && atomic_load(&ending) == END_EARLY_THEN_RST))) {
            answered = s;
            r = answer(fd, s);
        }
        free(payload);
        if (r < 0) {
            shutdown(fd, SHUT_RDWR); /* the fd itself is closed by stop_server */
            return;
        }
    }
}

/* One thread per connection: the client may open a new connection while
 * it still holds the old one. */
#define MAX_CONNS 64
static pthread_t conn_threads[MAX_CONNS];
static int conn_fds[MAX_CONNS];
static size_t n_conns;

static void *conn_main(void *arg)
{
    serve_conn((int)(intptr_t)arg);
    return NULL;
}

static void *server_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL; /* the listening socket was shut down */
        if (n_conns == MAX_CONNS ||
            pthread_create(&conn_threads[n_conns], NULL, conn_main, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        conn_fds[n_conns++] = fd;
    }
}

static void stop_server(void)
{
    if (listen_fd < 0)
        return;
    shutdown(listen_fd, SHUT_RDWR);
    pthread_join(server, NULL);
    for (size_t i = 0; i < n_conns; i++) {
        shutdown(conn_fds[i], SHUT_RDWR);
        pthread_join(conn_threads[i], NULL);
        close(conn_fds[i]);
    }
    n_conns = 0;
    close(listen_fd);
    listen_fd = -1;
    unlink(sock_path);
}

static int start_server(void)
{
    if (listen_fd >= 0)
        return 0;
    snprintf(sock_path, sizeof(sock_path), "/tmp/kk-test-grpc-h2-%d.sock", (int)getpid());
    unlink(sock_path);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, sock_path);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(listen_fd, 8) < 0 || pthread_create(&server, NULL, server_main, NULL) != 0)
        return -1;
    kt_atexit(stop_server);
    return 0;
}

/* One unary call with `e` as the server's way of ending it; its code. */
static kk_code call_with(struct kk_grpc *g, enum ending e, char **message)
{
    atomic_store(&ending, (int)e);
    Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
    ProtobufCMessage *resp = NULL;
    _cleanup_error_ kk_error *err = NULL;
    int r = kk_grpc_unary(g, "/fake.Service/Method", NULL, &req.base,
                          &google__protobuf__empty__descriptor, &resp, 2000, &err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (message)
        *message = err ? kk_xstrdup(err->message) : NULL;
    return r < 0 ? kk_error_code(err) : KK_E_OK;
}

static int on_message(void *userdata, const uint8_t *data, size_t len, kk_error **err)
{
    (void)userdata, (void)data, (void)len, (void)err;
    pthread_mutex_lock(&delivery_lock);
    delivered = true;
    pthread_cond_broadcast(&delivery_cond);
    pthread_mutex_unlock(&delivery_lock);
    return 0;
}

/* A server-streaming call: the server ends it as `e` says once the client
 * has delivered the first message. */
static kk_code stream_with(struct kk_grpc *g, enum ending e, char **message)
{
    atomic_store(&ending, (int)e);
    atomic_store(&wait_delivery, true);
    Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
    struct kk_grpc_call_desc d = {.method = "/fake.Service/Stream",
                                  .request = &req.base,
                                  .on_message = on_message,
                                  .timeout_ms = 2000};
    _cleanup_error_ kk_error *err = NULL;
    int r = kk_grpc_call(g, &d, &err);
    atomic_store(&wait_delivery, false);
    if (message)
        *message = err ? kk_xstrdup(err->message) : NULL;
    return r < 0 ? kk_error_code(err) : KK_E_OK;
}

static struct kk_grpc *open_client(void)
{
    struct kk_grpc *g = NULL;
    _cleanup_error_ kk_error *err = NULL;
    if (start_server() < 0 || kk_grpc_open(sock_path, NULL, &g, &err) < 0)
        return NULL;
    return g;
}

KT_CASE(statuses_from_trailers_and_headers)
{
    struct kk_grpc *g = open_client();
    KT_ASSERT(g != NULL);
    _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL;
    KT_ASSERT_EQ(call_with(g, END_OK, &m1), KK_E_NOT_FOUND);
    KT_ASSERT(m1 && strstr(m1, "no such thing"));
    /* Trailers-only: grpc-status arrives with :status, via the header
     * callback like any trailer. */
    KT_ASSERT_EQ(call_with(g, END_TRAILERS_ONLY, &m2), KK_E_NOT_FOUND);
    KT_ASSERT(m2 && strstr(m2, "no such thing"));
    KT_ASSERT_EQ(call_with(g, END_SPLIT_TRAILERS, &m3), KK_E_NOT_FOUND);
    KT_ASSERT(m3 && strstr(m3, "no such thing"));
    /* The answer complete before the request: the reset that follows it
     * does not hide it. */
    _cleanup_free_ char *m4 = NULL;
    kk_code early = call_with(g, END_EARLY_THEN_RST, &m4);
    if (early != KK_E_NOT_FOUND || getenv("KT_VERBOSE"))
        fprintf(stderr, "early answer: code %d: %s\n", (int)early, m4 ? m4 : "(none)");
    KT_ASSERT_EQ(early, KK_E_NOT_FOUND);
    kk_grpc_close(g);
}

/* The fault of issue 11: the server ended the stream (RST_STREAM NO_ERROR,
 * the connection closed, GOAWAY) after the response headers but before the
 * trailers. libcurl 7.88 reports some of these as a complete transfer; the
 * call must fail as unavailable (the caller retries), never as internal. */
KT_CASE(ended_without_status_is_unavailable)
{
    struct kk_grpc *g = open_client();
    KT_ASSERT(g != NULL);
    static const enum ending endings[] = {END_RST_NO_ERROR, END_CLOSE, END_GOAWAY_CLOSE,
                                          END_CLOSE_AT_ONCE};
    for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
        _cleanup_free_ char *m = NULL;
        kk_code code = call_with(g, endings[i], &m);
        if (code != KK_E_UNAVAILABLE || getenv("KT_VERBOSE"))
            fprintf(stderr, "ending %d: code %d: %s\n", (int)endings[i], (int)code,
                    m ? m : "(none)");
        KT_ASSERT_EQ(code, KK_E_UNAVAILABLE);
        /* The client is fine afterwards: the next call gets its status. */
        _cleanup_free_ char *m2 = NULL;
        kk_code next = call_with(g, END_OK, &m2);
        if (next != KK_E_NOT_FOUND)
            fprintf(stderr, "after ending %d: code %d: %s\n", (int)endings[i], (int)next,
                    m2 ? m2 : "(none)");
        KT_ASSERT_EQ(next, KK_E_NOT_FOUND);
    }
    kk_grpc_close(g);
}

/* The same endings once the client has taken the headers and the first
 * message: libcurl 7.88 reports a stream closed cleanly (RST_STREAM
 * NO_ERROR) as a complete transfer, with no trailers. */
KT_CASE(ended_mid_stream_is_unavailable)
{
    struct kk_grpc *g = open_client();
    KT_ASSERT(g != NULL);
    _cleanup_free_ char *m0 = NULL;
    KT_ASSERT_EQ(stream_with(g, END_OK, &m0), KK_E_NOT_FOUND);
    static const enum ending endings[] = {END_RST_NO_ERROR, END_CLOSE, END_GOAWAY_CLOSE};
    for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
        _cleanup_free_ char *m = NULL;
        kk_code code = stream_with(g, endings[i], &m);
        if (code != KK_E_UNAVAILABLE || getenv("KT_VERBOSE"))
            fprintf(stderr, "ending %d: code %d: %s\n", (int)endings[i], (int)code,
                    m ? m : "(none)");
        KT_ASSERT_EQ(code, KK_E_UNAVAILABLE);
        KT_ASSERT_EQ(call_with(g, END_OK, NULL), KK_E_NOT_FOUND);
    }
    kk_grpc_close(g);
}

/* Many calls at once on the one connection: each gets its own status,
 * trailers never lost between multiplexed streams. */
struct burst {
    struct kk_grpc *g;
    unsigned ok, other;
    char last_other[256];
};

static void *burst_main(void *arg)
{
    struct burst *b = arg;
    for (int i = 0; i < 50; i++) {
        _cleanup_free_ char *m = NULL;
        if (call_with(b->g, END_OK, &m) == KK_E_NOT_FOUND) {
            b->ok++;
        } else {
            b->other++;
            snprintf(b->last_other, sizeof(b->last_other), "%s", m ? m : "(none)");
        }
    }
    return NULL;
}

KT_CASE(concurrent_calls_each_get_their_status)
{
    struct kk_grpc *g = open_client();
    KT_ASSERT(g != NULL);
    struct burst b[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (struct burst){.g = g};
        pthread_create(&t[i], NULL, burst_main, &b[i]);
    }
    unsigned ok = 0, other = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ok += b[i].ok;
        other += b[i].other;
        if (b[i].other)
            fprintf(stderr, "thread %d: %u failed otherwise: %s\n", i, b[i].other, b[i].last_other);
    }
    kk_grpc_close(g);
    KT_ASSERT_EQ(other, 0u);
    KT_ASSERT_EQ(ok, 400u);
}
