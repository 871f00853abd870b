/* Concurrent blob downloads on one libcurl multi handle, each into an
 * unlinked temporary file, hashed on the way and checked against its
 * descriptor before anyone sees it. */
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "fsapi/log.h"
#include "runtime/image/archive.h"
#include "runtime/registry/internal.h"

struct transfer {
    struct reg_blob *blob;
    struct reg_session *s;
    CURL *h;
    struct curl_slist *headers;
    struct reg_response resp; /* headers; body only for error answers */
    EVP_MD_CTX *md;
    int fd;
    int64_t got;
    bool too_big, write_failed;
    int write_errno;
    int auth_retries;
    reg_bytes_fn bytes;
    void *userdata;
};

static void transfer_reset(struct transfer *t)
{
    if (t->h)
        curl_easy_cleanup(t->h);
    t->h = NULL;
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    reg_response_clear(&t->resp);
    if (t->md)
        EVP_MD_CTX_free(t->md);
    t->md = NULL;
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->got = 0;
    t->too_big = t->write_failed = false;
}

static size_t on_data(char *data, size_t size, size_t n, void *userdata)
{
    struct transfer *t = userdata;
    size_t len = size * n;
    long status = 0;

    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        /* an error document: keep (a bounded part of) it for the message */
        if (t->resp.body.len + len <= REG_MAX_ERROR_BODY)
            kk_buf_add(&t->resp.body, data, len);
        return len;
    }
    if (t->got + (int64_t)len > t->blob->size) {
        t->too_big = true;
        return 0;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(t->fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            t->write_failed = true;
            t->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    EVP_DigestUpdate(t->md, data, len);
    t->got += (int64_t)len;
    if (t->bytes)
        t->bytes((int64_t)len, t->userdata);
    return len;
}

static int transfer_start(struct transfer *t, CURLM *multi, const char *tmp_dir, kk_error **err)
{
    transfer_reset(t);
    t->fd = reg_tmpfile(tmp_dir, err);
    if (t->fd < 0)
        return -1;
    t->md = EVP_MD_CTX_new();
    if (!t->md || !EVP_DigestInit_ex(t->md, EVP_sha256(), NULL))
        abort(); /* allocation failure: OOM policy */
    t->h = curl_easy_init();
    if (!t->h)
        return kk_error_set(err, KK_E_INTERNAL, "curl_easy_init failed");
    _cleanup_free_ char *url =
            kk_xasprintf("%s/v2/%s/blobs/%s", t->s->ep->base, t->s->repository, t->blob->digest);
    t->headers = reg_headers(t->s->authorization, NULL);
    reg_setup_handle(t->s, t->h, url, t->headers);
    curl_easy_setopt(t->h, CURLOPT_HEADERFUNCTION, reg_on_header);
    curl_easy_setopt(t->h, CURLOPT_HEADERDATA, &t->resp);
    curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(t->h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->h, CURLOPT_PRIVATE, t);
    if (curl_multi_add_handle(multi, t->h) != CURLM_OK)
        return kk_error_set(err, KK_E_INTERNAL, "curl_multi_add_handle failed");
    return 0;
}

/* Checks a finished transfer: 0 verified, 1 retry (re-authorised), -1. */
static int transfer_finish(struct transfer *t, CURLcode rc, kk_error **err)
{
    const char *d = t->blob->digest;
    long status = 0;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    t->resp.status = status;

    if (t->too_big)
        return kk_error_set(err, KK_E_DATA_LOSS,
                            "blob %s: more data than the %jd bytes its descriptor says", d,
                            (intmax_t)t->blob->size);
    if (t->write_failed)
        return kk_error_errnum(err, t->write_errno, "blob %s: temporary file", d);
    if (rc != CURLE_OK)
        return kk_error_set(err, KK_E_UNAVAILABLE, "blob %s: %s", d, curl_easy_strerror(rc));
    if (status == 401 && t->resp.www_authenticate && t->auth_retries++ == 0) {
        /* the token expired during a long pull */
        if (reg_authorize(t->s, t->resp.www_authenticate, err) < 0)
            return kk_error_wrap(err, "blob %s", d);
        return 1;
    }
    if (status < 200 || status > 299) {
        _cleanup_free_ char *what = kk_xasprintf("blob %s", d);
        return reg_status_error(&t->resp, what, err);
    }
    if (t->got != t->blob->size)
        return kk_error_set(err, KK_E_DATA_LOSS,
                            "blob %s: size mismatch: got %jd bytes, descriptor says %jd", d,
                            (intmax_t)t->got, (intmax_t)t->blob->size);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char got[72] = "sha256:";
    EVP_DigestFinal_ex(t->md, md, &n);
    for (unsigned i = 0; i < n && i < 32; i++)
        snprintf(got + 7 + 2 * i, 3, "%02x", md[i]);
    if (strcmp(got, d) != 0)
        return kk_error_set(err, KK_E_DATA_LOSS, "blob %s: digest mismatch: content hashes to %s",
                            d, got);
    return 0;
}

/* Verified blobs go to done() on a writer thread, in completion order, so
 * a slow containerd write does not stall the other transfers. */
struct writer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct reg_blob **queue; /* n slots: every blob is queued at most once */
    size_t head, tail;
    bool closing;  /* no more blobs will come */
    bool cancel;   /* drop what is queued (the fetch failed) */
    kk_error *err; /* done()'s failure; the writer then only drops */
    reg_blob_done_fn done;
    void *userdata;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->head == w->tail && !w->closing)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->head == w->tail)
            break;
        struct reg_blob *b = w->queue[w->head++];
        bool skip = w->cancel || w->err;
        pthread_mutex_unlock(&w->lock);
        kk_error *e = NULL;
        int r = skip ? 0 : w->done(b, w->userdata, &e);
        close(b->fd);
        b->fd = -1;
        pthread_mutex_lock(&w->lock);
        if (r < 0)
            w->err = e;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void writer_push(struct writer *w, struct reg_blob *b)
{
    pthread_mutex_lock(&w->lock);
    w->queue[w->tail++] = b;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static bool writer_failed(struct writer *w)
{
    pthread_mutex_lock(&w->lock);
    bool failed = w->err != NULL;
    pthread_mutex_unlock(&w->lock);
    return failed;
}

/* Waits for the queued writes (or drops them when cancel); returns the
 * writer's error, if any, in *err. */
static int writer_finish(struct writer *w, bool cancel, kk_error **err)
{
    pthread_mutex_lock(&w->lock);
    w->closing = true;
    w->cancel = cancel;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w->queue);
    if (!w->err)
        return 0;
    if (cancel) { /* the fetch's own error is the one to report */
        kk_error_free(w->err);
        return 0;
    }
    *err = w->err;
    return -1;
}

int reg_fetch_blobs(struct reg_session *s, struct reg_blob *blobs, size_t n, unsigned parallel,
                    reg_blob_done_fn done, reg_bytes_fn bytes, void *userdata, kk_error **err)
{
    const char *tmp_dir = s->r->cfg.tmp_dir ? s->r->cfg.tmp_dir : KK_REGISTRY_TMP_DIR;
    struct transfer *t = kk_xcalloc(n ? n : 1, sizeof(*t));
    CURLM *multi = curl_multi_init();
    struct writer w = {
            .queue = kk_xcalloc(n ? n : 1, sizeof(*w.queue)), .done = done, .userdata = userdata};
    size_t next = 0, running = 0, finished = 0;
    int r = 0;

    if (!multi) {
        free(t);
        free(w.queue);
        return kk_error_set(err, KK_E_INTERNAL, "curl_multi_init failed");
    }
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    if (pthread_create(&w.thread, NULL, writer_main, &w) != 0)
        abort(); /* resource exhaustion: OOM policy */
    if (parallel == 0)
        parallel = 1;
    for (size_t i = 0; i < n; i++) {
        t[i] = (struct transfer){
                .blob = &blobs[i], .s = s, .fd = -1, .bytes = bytes, .userdata = userdata};
        t[i].resp.content_length = -1;
        blobs[i].fd = -1;
    }
    while (finished < n && r == 0 && !writer_failed(&w)) {
        while (running < parallel && next < n && r == 0) {
            if ((r = transfer_start(&t[next], multi, tmp_dir, err)) == 0) {
                next++;
                running++;
            }
        }
        if (r < 0)
            break;
        int still = 0;
        CURLMcode mc = curl_multi_perform(multi, &still);
        if (mc != CURLM_OK) {
            r = kk_error_set(err, KK_E_INTERNAL, "curl multi: %s", curl_multi_strerror(mc));
            break;
        }
        /* Wait only while nothing has finished: a transfer that completed
         * in this perform is handled (and its successor started) now. */
        if ((size_t)still == running &&
            (mc = curl_multi_poll(multi, NULL, 0, 1000, NULL)) != CURLM_OK) {
            r = kk_error_set(err, KK_E_INTERNAL, "curl multi: %s", curl_multi_strerror(mc));
            break;
        }
        CURLMsg *msg;
        int left;
        while (r == 0 && (msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct transfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(multi, x->h);
            running--;
            int v = transfer_finish(x, rc, err);
            if (v == 1) {
                if (x->bytes && x->got)
                    x->bytes(-x->got, x->userdata);
                if ((r = transfer_start(x, multi, tmp_dir, err)) == 0)
                    running++;
                continue;
            }
            if (v < 0) {
                r = -1;
                break;
            }
            x->blob->fd = TAKE_FD(x->fd);
            writer_push(&w, x->blob);
            transfer_reset(x);
            finished++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i].h)
            curl_multi_remove_handle(multi, t[i].h);
        transfer_reset(&t[i]);
    }
    curl_multi_cleanup(multi);
    free(t);
    if (writer_finish(&w, r < 0, err) < 0)
        return -1;
    return r;
}
