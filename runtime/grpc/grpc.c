/* gRPC over libcurl HTTP/2: the I/O thread, connection handling, framing.
 * See grpc.h for the threading contract and the libcurl 7.88 workarounds. */
#include "runtime/grpc/grpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "fsapi/clock.h"
#include "fsapi/log.h"

#define DEFAULT_TIMEOUT_MS 30000
#define MAX_QUICK_RETRIES  8
#define MAX_HEADER_VALUE   4096
#define SPARE_EASIES       16

enum conn_state { CONN_NONE, CONN_OPENING, CONN_UP };
enum call_state { CALL_PENDING, CALL_ACTIVE };

struct kk_grpc_call {
    struct kk_grpc *g;
    struct kk_grpc_call *next; /* submitted queue, then the I/O thread's list */

    /* Immutable after start. */
    char *url;
    struct curl_slist *headers; /* without grpc-timeout */
    struct kk_buf body;         /* framed request (unary / server streaming) */
    kk_grpc_produce_fn produce;
    void (*rewind)(void *userdata);
    kk_grpc_message_fn on_message;
    void *userdata;
    int64_t deadline; /* CLOCK_MONOTONIC ns; 0: none */

    /* I/O thread only. */
    enum call_state state;
    CURL *easy;
    struct curl_slist *all_headers; /* headers + grpc-timeout of this attempt */
    bool opener;
    int quick_retries;
    int backoff_ms;
    int64_t not_before;
    struct kk_buf out; /* framed bytes waiting to be uploaded */
    size_t out_off;
    struct kk_buf msg;
    bool produced_any, produced_last;
    struct kk_buf in; /* received bytes not yet framed */
    struct kk_buf response;
    bool have_response;
    long http_status;
    int grpc_status; /* -1 until seen */
    char *grpc_message;
    kk_error *cb_err;

    /* g->lock */
    bool cancel;

    /* Completion: call->lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
    kk_error *err;
};

struct kk_grpc {
    char *socket_path;
    int default_timeout_ms, backoff_min_ms, backoff_max_ms;
    CURLM *multi;
    pthread_t thread;

    pthread_mutex_t lock; /* protects the fields below */
    struct kk_grpc_call *submitted, **submitted_tail;
    bool stopping;
    bool cancel_pending;
    struct kk_grpc_stats stats;

    /* I/O thread only. */
    struct kk_grpc_call *calls; /* pending and active */
    CURL *spare[SPARE_EASIES];  /* reset easy handles, reused by later calls */
    size_t n_spare;
    enum conn_state conn;
    bool fresh_next;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *kk_grpc_percent_decode(const char *s, size_t len)
{
    struct kk_buf b = KK_BUF_INIT;
    kk_buf_grow(&b, len);
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            kk_buf_addch(&b, (char)(hi << 4 | lo));
            i += 2;
        } else {
            kk_buf_addch(&b, s[i]);
        }
    }
    kk_buf_add(&b, "", 0);
    return kk_buf_detach(&b, NULL);
}

static kk_code code_from_http(long status)
{
    switch (status) {
    case 400:
        return KK_E_INTERNAL;
    case 401:
        return KK_E_UNAUTHENTICATED;
    case 403:
        return KK_E_PERMISSION;
    case 404:
        return KK_E_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return KK_E_UNAVAILABLE;
    default:
        return KK_E_UNKNOWN;
    }
}

/* ---- curl callbacks (I/O thread) ------------------------------------- */

static size_t on_header(char *line, size_t size, size_t n, void *userdata)
{
    struct kk_grpc_call *call = userdata;
    size_t len = size * n, l = len;
    while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
        l--;
    if (l > 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* The line is not NUL-terminated (curl does not promise it): the
         * status is read from a bounded copy, digits only. */
        const char *sp = memchr(line, ' ', l);
        if (sp) {
            char tmp[8] = "";
            size_t n_digits = 0;
            for (const char *p = sp + 1; p < line + l && n_digits < sizeof(tmp) - 1; p++) {
                if (*p < '0' || *p > '9')
                    break;
                tmp[n_digits++] = *p;
            }
            call->http_status = n_digits ? strtol(tmp, NULL, 10) : 0;
        }
        return len;
    }
    const char *colon = memchr(line, ':', l);
    if (!colon)
        return len;
    size_t name_len = (size_t)(colon - line);
    const char *v = colon + 1;
    while (v < line + l && (*v == ' ' || *v == '\t'))
        v++;
    size_t v_len = (size_t)(line + l - v);
    if (v_len > MAX_HEADER_VALUE)
        v_len = MAX_HEADER_VALUE;
    if (name_len == 11 && strncasecmp(line, "grpc-status", 11) == 0) {
        char tmp[16] = "";
        memcpy(tmp, v, v_len < sizeof(tmp) - 1 ? v_len : sizeof(tmp) - 1);
        call->grpc_status = (int)strtol(tmp, NULL, 10);
    } else if (name_len == 12 && strncasecmp(line, "grpc-message", 12) == 0) {
        free(call->grpc_message);
        call->grpc_message = kk_grpc_percent_decode(v, v_len);
    }
    return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *userdata)
{
    struct kk_grpc_call *call = userdata;
    size_t len = size * n;
    kk_buf_add(&call->in, data, len);
    size_t off = 0;
    while (call->in.len - off >= 5) {
        const uint8_t *p = (const uint8_t *)call->in.data + off;
        uint32_t mlen = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        if (p[0] != 0) {
            kk_error_set(&call->cb_err, KK_E_INTERNAL, "compressed gRPC message not supported");
            return CURL_WRITEFUNC_ERROR;
        }
        if (mlen > KK_GRPC_MAX_MESSAGE) {
            kk_error_set(&call->cb_err, KK_E_EXHAUSTED, "gRPC message of %u bytes over %u", mlen,
                         KK_GRPC_MAX_MESSAGE);
            return CURL_WRITEFUNC_ERROR;
        }
        if (call->in.len - off - 5 < mlen)
            break;
        if (call->on_message) {
            if (call->on_message(call->userdata, p + 5, mlen, &call->cb_err) < 0)
                return CURL_WRITEFUNC_ERROR;
        } else if (!call->have_response) {
            kk_buf_add(&call->response, p + 5, mlen);
            call->have_response = true;
        }
        off += 5 + (size_t)mlen;
    }
    if (off > 0) {
        memmove(call->in.data, call->in.data + off, call->in.len - off);
        call->in.len -= off;
        call->in.data[call->in.len] = '\0';
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *userdata)
{
    struct kk_grpc_call *call = userdata;
    size_t avail = size * n;
    while (call->out_off == call->out.len) {
        if (call->produced_last)
            return 0;
        kk_buf_reset(&call->out);
        kk_buf_reset(&call->msg);
        call->out_off = 0;
        call->produced_any = true;
        if (call->produce(call->userdata, &call->msg, &call->produced_last, &call->cb_err) < 0)
            return CURL_READFUNC_ABORT;
        if (call->msg.len > KK_GRPC_MAX_MESSAGE) {
            kk_error_set(&call->cb_err, KK_E_INVALID, "request message of %zu bytes too large",
                         call->msg.len);
            return CURL_READFUNC_ABORT;
        }
        uint8_t hdr[5] = {0, (uint8_t)(call->msg.len >> 24), (uint8_t)(call->msg.len >> 16),
                          (uint8_t)(call->msg.len >> 8), (uint8_t)call->msg.len};
        kk_buf_add(&call->out, hdr, sizeof(hdr));
        kk_buf_add(&call->out, call->msg.data, call->msg.len);
    }
    size_t k = call->out.len - call->out_off;
    if (k > avail)
        k = avail;
    memcpy(buf, call->out.data + call->out_off, k);
    call->out_off += k;
    return k;
}

static int on_prereq(void *userdata, char *conn_primary_ip, char *conn_local_ip,
                     int conn_primary_port, int conn_local_port)
{
    (void)conn_primary_ip, (void)conn_local_ip, (void)conn_primary_port, (void)conn_local_port;
    struct kk_grpc_call *call = userdata;
    call->g->conn = CONN_UP;
    return CURL_PREREQFUNC_OK;
}

/* ---- the I/O thread --------------------------------------------------- */

static void reset_attempt(struct kk_grpc_call *call)
{
    kk_buf_reset(&call->in);
    kk_buf_reset(&call->response);
    kk_buf_reset(&call->out);
    call->out_off = 0;
    call->have_response = false;
    call->http_status = 0;
    call->grpc_status = -1;
    free(call->grpc_message);
    call->grpc_message = NULL;
    kk_error_freep(&call->cb_err);
}

/* Takes the call's easy handle out of the multi and keeps it for reuse. */
static void release_easy(struct kk_grpc *g, struct kk_grpc_call *call)
{
    if (!call->easy)
        return;
    curl_multi_remove_handle(g->multi, call->easy);
    if (g->n_spare < SPARE_EASIES) {
        curl_easy_reset(call->easy);
        g->spare[g->n_spare++] = call->easy;
    } else {
        curl_easy_cleanup(call->easy);
    }
    call->easy = NULL;
}

static void complete(struct kk_grpc *g, struct kk_grpc_call *call, int rc, kk_error *err)
{
    for (struct kk_grpc_call **pp = &g->calls; *pp; pp = &(*pp)->next)
        if (*pp == call) {
            *pp = call->next;
            break;
        }
    call->next = NULL;
    release_easy(g, call);
    curl_slist_free_all(call->all_headers);
    call->all_headers = NULL;
    if (call->opener && g->conn == CONN_OPENING)
        g->conn = CONN_NONE;
    call->opener = false;

    pthread_mutex_lock(&g->lock);
    g->stats.calls++;
    pthread_mutex_unlock(&g->lock);

    /* The last touch: the owner may free the call once done is seen. */
    pthread_mutex_lock(&call->lock);
    call->rc = rc;
    call->err = err;
    call->done = true;
    pthread_cond_broadcast(&call->cond);
    pthread_mutex_unlock(&call->lock);
}

static void fail(struct kk_grpc *g, struct kk_grpc_call *call, kk_code code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void fail(struct kk_grpc *g, struct kk_grpc_call *call, kk_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    kk_error *err = NULL;
    kk_error_set(&err, code, "%s", msg);
    free(msg);
    complete(g, call, -1, err);
}

static int add_easy(struct kk_grpc *g, struct kk_grpc_call *call, int64_t now)
{
    reset_attempt(call);
    if (call->produced_any) {
        if (!call->rewind)
            return -1;
        call->rewind(call->userdata);
        call->produced_any = false;
        call->produced_last = false;
    }
    CURL *e = g->n_spare > 0 ? g->spare[--g->n_spare] : curl_easy_init();
    if (!e)
        abort();
    call->easy = e;
    call->all_headers = NULL;
    for (struct curl_slist *h = call->headers; h; h = h->next)
        call->all_headers = curl_slist_append(call->all_headers, h->data);
    long timeout_ms = 0;
    if (call->deadline) {
        timeout_ms = (long)((call->deadline - now) / KK_NSEC_PER_MSEC);
        if (timeout_ms < 1)
            timeout_ms = 1;
        char hdr[64];
        /* The value has at most 8 digits: whole seconds past that. */
        if (timeout_ms <= 99999999)
            snprintf(hdr, sizeof(hdr), "grpc-timeout: %ldm", timeout_ms);
        else
            snprintf(hdr, sizeof(hdr), "grpc-timeout: %ldS", timeout_ms / 1000);
        call->all_headers = curl_slist_append(call->all_headers, hdr);
    }
    bool open = g->conn == CONN_NONE;
    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, g->socket_path);
    curl_easy_setopt(e, CURLOPT_URL, call->url);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     open ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                          : (long)CURL_HTTP_VERSION_2_0);
    if (open && g->fresh_next) {
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        g->fresh_next = false;
    }
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    if (call->produce) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, call);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body.data);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body.len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->all_headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, call);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, 86400L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, call);
    if (timeout_ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (open) {
        g->conn = CONN_OPENING;
        call->opener = true;
        pthread_mutex_lock(&g->lock);
        g->stats.connections++;
        pthread_mutex_unlock(&g->lock);
    }
    call->state = CALL_ACTIVE;
    curl_multi_add_handle(g->multi, e);
    return 0;
}

/* Puts a call back to pending for another attempt after delay_ms. */
static void requeue(struct kk_grpc *g, struct kk_grpc_call *call, int delay_ms)
{
    release_easy(g, call);
    curl_slist_free_all(call->all_headers);
    call->all_headers = NULL;
    if (call->opener && g->conn == CONN_OPENING)
        g->conn = CONN_NONE;
    call->opener = false;
    call->state = CALL_PENDING;
    call->not_before = kk_clock_mono_ns(NULL) + (int64_t)delay_ms * KK_NSEC_PER_MSEC;
    pthread_mutex_lock(&g->lock);
    g->stats.retries++;
    pthread_mutex_unlock(&g->lock);
}

static void finish_transfer(struct kk_grpc *g, struct kk_grpc_call *call, CURLcode res)
{
    if (call->opener && g->conn == CONN_OPENING)
        g->conn = res == CURLE_OK ? CONN_UP : CONN_NONE;

    if (call->cb_err) {
        kk_error *err = call->cb_err;
        call->cb_err = NULL;
        complete(g, call, -1, err);
        return;
    }
    /* A status received before a transport error (e.g. trailers-only then
     * RST_STREAM) is still the server's answer. */
    if (call->grpc_status > 0) {
        kk_error *err = NULL;
        kk_error_set(&err, (kk_code)call->grpc_status, "%s",
                     call->grpc_message && *call->grpc_message ? call->grpc_message
                                                               : kk_code_name(call->grpc_status));
        complete(g, call, -1, err);
        return;
    }
    if (res == CURLE_OK) {
        if (call->grpc_status == 0) {
            complete(g, call, 0, NULL);
        } else if (call->http_status != 200) {
            kk_error *err = NULL;
            kk_error_set(&err, code_from_http(call->http_status), "HTTP status %ld",
                         call->http_status);
            complete(g, call, -1, err);
        } else {
            /* The stream ended without a status: libcurl 7.88 reports a
             * stream the server closed "cleanly" (RST_STREAM NO_ERROR, as
             * grpc-go does when it drops a stream at shutdown) after the
             * response headers as a complete transfer, trailers or not
             * (kukeon issue 11; tests/unit/test-grpc-h2.c). The server
             * never said how the call ended: transient, the caller retries. */
            fail(g, call, KK_E_UNAVAILABLE,
                 "stream ended without grpc-status (reset by the server or connection lost)");
        }
        return;
    }

    bool nothing_received = call->http_status == 0;
    int64_t now = kk_clock_mono_ns(NULL);
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT:
        fail(g, call, KK_E_DEADLINE, "deadline exceeded: %s", curl_easy_strerror(res));
        return;
    case CURLE_UNSUPPORTED_PROTOCOL: /* 2_0 opened a connection with Upgrade: h2c */
    case CURLE_HTTP2:                /* curl#10634: reuse of a prior-knowledge connection */
        g->conn = CONN_NONE;
        if (res == CURLE_HTTP2)
            g->fresh_next = true;
        if (nothing_received && call->quick_retries++ < MAX_QUICK_RETRIES &&
            (!call->produced_any || call->rewind)) {
            requeue(g, call, 0);
            return;
        }
        break;
    case CURLE_COULDNT_CONNECT:
        g->conn = CONN_NONE;
        if (call->deadline && (!call->produced_any || call->rewind)) {
            int delay = call->backoff_ms ? call->backoff_ms : g->backoff_min_ms;
            call->backoff_ms = delay * 2 > g->backoff_max_ms ? g->backoff_max_ms : delay * 2;
            if (now + (int64_t)delay * KK_NSEC_PER_MSEC < call->deadline) {
                requeue(g, call, delay);
                return;
            }
        }
        fail(g, call, KK_E_UNAVAILABLE, "cannot connect to %s: %s", g->socket_path,
             curl_easy_strerror(res));
        return;
    case CURLE_HTTP2_STREAM:
        /* The server answered and reset the stream while the request was
         * still being sent (an unknown method, a message over its limit);
         * libcurl 7.88 then drops the status it received. The connection
         * itself is fine. */
        if (nothing_received) {
            fail(g, call, KK_E_UNKNOWN,
                 "stream reset by the server before its status could be read");
            return;
        }
        break;
    default:
        g->conn = CONN_NONE;
        break;
    }
    fail(g, call, KK_E_UNAVAILABLE, "transport: %s", curl_easy_strerror(res));
}

static void *io_thread(void *arg)
{
    struct kk_grpc *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        while (g->submitted) {
            struct kk_grpc_call *call = g->submitted;
            g->submitted = call->next;
            call->next = g->calls;
            g->calls = call;
        }
        g->submitted_tail = &g->submitted;
        bool stopping = g->stopping;
        bool cancels = g->cancel_pending;
        g->cancel_pending = false;
        struct kk_grpc_call *cancelled = NULL;
        if (cancels || stopping)
            for (struct kk_grpc_call *c = g->calls; c; c = c->next)
                if (c->cancel || stopping) {
                    cancelled = c;
                    break;
                }
        pthread_mutex_unlock(&g->lock);

        if (cancelled) {
            fail(g, cancelled, KK_E_CANCELLED, "call cancelled");
            pthread_mutex_lock(&g->lock);
            g->cancel_pending = true; /* look again for more */
            pthread_mutex_unlock(&g->lock);
            continue;
        }
        if (stopping)
            break;

        int64_t now = kk_clock_mono_ns(NULL);
        int timeout = 1000;
        for (struct kk_grpc_call *c = g->calls, *next; c; c = next) {
            next = c->next;
            if (c->state != CALL_PENDING)
                continue;
            if (c->deadline && now >= c->deadline) {
                fail(g, c, KK_E_DEADLINE, "deadline exceeded while connecting");
                continue;
            }
            if (c->not_before <= now && g->conn != CONN_OPENING) {
                if (add_easy(g, c, now) < 0)
                    fail(g, c, KK_E_UNAVAILABLE, "cannot re-send a client stream");
                continue;
            }
            int64_t wake = c->not_before > now ? c->not_before : now + KK_NSEC_PER_MSEC;
            if (c->deadline && c->deadline < wake)
                wake = c->deadline;
            int ms = (int)((wake - now) / KK_NSEC_PER_MSEC) + 1;
            if (ms < timeout)
                timeout = ms;
        }

        int running;
        curl_multi_perform(g->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(g->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct kk_grpc_call *call = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&call);
            finish_transfer(g, call, m->data.result);
        }
        /* Pending calls that can go now (the connection just came up). */
        for (struct kk_grpc_call *c = g->calls; c; c = c->next)
            if (c->state == CALL_PENDING && c->not_before <= kk_clock_mono_ns(NULL) &&
                g->conn != CONN_OPENING)
                timeout = 0;
        if (timeout > 0)
            curl_multi_poll(g->multi, NULL, 0, timeout, NULL);
    }
    return NULL;
}

/* ---- public API ------------------------------------------------------- */

int kk_grpc_open(const char *socket_path, const struct kk_grpc_opts *opts, struct kk_grpc **out,
                 kk_error **err)
{
    if (!socket_path || !*socket_path || strlen(socket_path) >= 108)
        return kk_error_set(err, KK_E_INVALID, "invalid unix socket path");
    struct kk_grpc *g = kk_xcalloc(1, sizeof(*g));
    g->socket_path = kk_xstrdup(socket_path);
    g->default_timeout_ms =
            opts && opts->default_timeout_ms > 0 ? opts->default_timeout_ms : DEFAULT_TIMEOUT_MS;
    g->backoff_min_ms = opts && opts->backoff_min_ms > 0 ? opts->backoff_min_ms : 20;
    g->backoff_max_ms = opts && opts->backoff_max_ms > 0 ? opts->backoff_max_ms : 1000;
    g->submitted_tail = &g->submitted;
    pthread_mutex_init(&g->lock, NULL);
    /* Reference-counted, and thread-safe since libcurl 7.84. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(g->socket_path);
        free(g);
        return kk_error_set(err, KK_E_INTERNAL, "curl_global_init failed");
    }
    g->multi = curl_multi_init();
    if (!g->multi)
        abort();
    curl_multi_setopt(g->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(g->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
    int r = pthread_create(&g->thread, NULL, io_thread, g);
    if (r != 0) {
        curl_multi_cleanup(g->multi);
        curl_global_cleanup();
        free(g->socket_path);
        free(g);
        return kk_error_errnum(err, r, "start gRPC I/O thread");
    }
    *out = g;
    return 0;
}

void kk_grpc_close(struct kk_grpc *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_mutex_unlock(&g->lock);
    curl_multi_wakeup(g->multi);
    pthread_join(g->thread, NULL);
    while (g->n_spare > 0)
        curl_easy_cleanup(g->spare[--g->n_spare]);
    curl_multi_cleanup(g->multi);
    curl_global_cleanup();
    pthread_mutex_destroy(&g->lock);
    free(g->socket_path);
    free(g);
}

static void frame_message(struct kk_buf *b, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    kk_buf_grow(b, 5 + n);
    uint8_t *p = (uint8_t *)b->data + b->len;
    p[0] = 0;
    p[1] = (uint8_t)(n >> 24);
    p[2] = (uint8_t)(n >> 16);
    p[3] = (uint8_t)(n >> 8);
    p[4] = (uint8_t)n;
    protobuf_c_message_pack(msg, p + 5);
    b->len += 5 + n;
    b->data[b->len] = '\0';
}

int kk_grpc_call_start(struct kk_grpc *g, const struct kk_grpc_call_desc *d,
                       struct kk_grpc_call **out, kk_error **err)
{
    if (!d->method || d->method[0] != '/' || strlen(d->method) > 512)
        return kk_error_set(err, KK_E_INVALID, "invalid gRPC method");
    if (!!d->request == !!d->produce)
        return kk_error_set(err, KK_E_INVALID, "%s: need exactly one of request, produce",
                            d->method);
    if (d->request && protobuf_c_message_get_packed_size(d->request) > KK_GRPC_MAX_MESSAGE)
        return kk_error_set(err, KK_E_INVALID, "%s: request message too large", d->method);

    struct kk_grpc_call *call = kk_xcalloc(1, sizeof(*call));
    call->g = g;
    call->url = kk_xasprintf("http://localhost%s", d->method);
    call->headers = curl_slist_append(NULL, "Content-Type: application/grpc");
    call->headers = curl_slist_append(call->headers, "TE: trailers");
    call->headers = curl_slist_append(call->headers, "Expect:");
    for (const char *const *m = d->metadata; m && m[0] && m[1]; m += 2) {
        if (strpbrk(m[0], ":\r\n") || strpbrk(m[1], "\r\n")) {
            curl_slist_free_all(call->headers);
            free(call->url);
            free(call);
            return kk_error_set(err, KK_E_INVALID, "%s: invalid metadata %s", d->method, m[0]);
        }
        _cleanup_free_ char *h = kk_xasprintf("%s: %s", m[0], m[1]);
        call->headers = curl_slist_append(call->headers, h);
    }
    if (d->request)
        frame_message(&call->body, d->request);
    call->produce = d->produce;
    call->rewind = d->rewind;
    call->on_message = d->on_message;
    call->userdata = d->userdata;
    int timeout = d->timeout_ms == 0 ? g->default_timeout_ms : d->timeout_ms;
    call->deadline = timeout > 0 ? kk_clock_mono_ns(NULL) + (int64_t)timeout * KK_NSEC_PER_MSEC : 0;
    call->grpc_status = -1;
    call->state = CALL_PENDING;
    pthread_mutex_init(&call->lock, NULL);
    pthread_cond_init(&call->cond, NULL);

    pthread_mutex_lock(&g->lock);
    *g->submitted_tail = call;
    g->submitted_tail = &call->next;
    pthread_mutex_unlock(&g->lock);
    curl_multi_wakeup(g->multi);
    *out = call;
    return 0;
}

int kk_grpc_call_wait(struct kk_grpc_call *call, kk_error **err)
{
    pthread_mutex_lock(&call->lock);
    while (!call->done)
        pthread_cond_wait(&call->cond, &call->lock);
    pthread_mutex_unlock(&call->lock);
    if (call->rc < 0 && err) { /* err NULL: the caller does not want it */
        kk_error_free(*err);
        *err = call->err;
        call->err = NULL;
        if (!*err)
            return kk_error_set(err, KK_E_UNKNOWN, "call failed");
    }
    return call->rc;
}

void kk_grpc_call_cancel(struct kk_grpc_call *call)
{
    struct kk_grpc *g = call->g;
    pthread_mutex_lock(&g->lock);
    call->cancel = true;
    g->cancel_pending = true;
    pthread_mutex_unlock(&g->lock);
    curl_multi_wakeup(g->multi);
}

bool kk_grpc_call_done(struct kk_grpc_call *call)
{
    pthread_mutex_lock(&call->lock);
    bool done = call->done;
    pthread_mutex_unlock(&call->lock);
    return done;
}

const struct kk_buf *kk_grpc_call_response(const struct kk_grpc_call *call)
{
    return call->have_response ? &call->response : NULL;
}

void kk_grpc_call_free(struct kk_grpc_call *call)
{
    if (!call)
        return;
    pthread_mutex_lock(&call->lock);
    bool done = call->done;
    pthread_mutex_unlock(&call->lock);
    if (!done) {
        kk_grpc_call_cancel(call);
        pthread_mutex_lock(&call->lock);
        while (!call->done)
            pthread_cond_wait(&call->cond, &call->lock);
        pthread_mutex_unlock(&call->lock);
    }
    pthread_mutex_destroy(&call->lock);
    pthread_cond_destroy(&call->cond);
    kk_error_free(call->err);
    kk_error_free(call->cb_err);
    free(call->grpc_message);
    kk_buf_release(&call->in);
    kk_buf_release(&call->out);
    kk_buf_release(&call->msg);
    kk_buf_release(&call->response);
    kk_buf_release(&call->body);
    curl_slist_free_all(call->headers);
    free(call->url);
    free(call);
}

int kk_grpc_call(struct kk_grpc *g, const struct kk_grpc_call_desc *desc, kk_error **err)
{
    _cleanup_(kk_grpc_call_freep) struct kk_grpc_call *call = NULL;
    if (kk_grpc_call_start(g, desc, &call, err) < 0)
        return -1;
    return kk_grpc_call_wait(call, err);
}

int kk_grpc_unary(struct kk_grpc *g, const char *method, const char *const *metadata,
                  const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                  ProtobufCMessage **resp, int timeout_ms, kk_error **err)
{
    struct kk_grpc_call_desc d = {
            .method = method, .metadata = metadata, .request = req, .timeout_ms = timeout_ms};
    _cleanup_(kk_grpc_call_freep) struct kk_grpc_call *call = NULL;
    if (kk_grpc_call_start(g, &d, &call, err) < 0 || kk_grpc_call_wait(call, err) < 0)
        return kk_error_wrap(err, "%s", method);
    if (!resp)
        return 0;
    const struct kk_buf *b = kk_grpc_call_response(call);
    if (!b)
        return kk_error_set(err, KK_E_INTERNAL, "%s: no response message", method);
    *resp = protobuf_c_message_unpack(resp_desc, NULL, b->len, (const uint8_t *)b->data);
    if (!*resp)
        return kk_error_set(err, KK_E_INTERNAL, "%s: undecodable response", method);
    return 0;
}

void kk_grpc_get_stats(struct kk_grpc *g, struct kk_grpc_stats *out)
{
    pthread_mutex_lock(&g->lock);
    *out = g->stats;
    pthread_mutex_unlock(&g->lock);
}
