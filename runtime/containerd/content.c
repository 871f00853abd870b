/* Content: info, write (small blobs as one COMMIT, larger ones streamed in
 * 1 MiB chunks), read, labels, delete, abort, list. */
#include <string.h>
#include <unistd.h>

#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/internal.h"

#define CHUNK          ((size_t)1 << 20)
#define WRITE_ATTEMPTS 4

typedef Containerd__Services__Content__V1__WriteContentRequest WriteRequest;

#define METHOD(m) CTD_SVC("content.v1.Content/" m)

void kk_ctd_content_info_clear(struct kk_ctd_content_info *info)
{
    free(info->digest);
    kk_strv_free(info->labels);
    *info = (struct kk_ctd_content_info){0};
}

int kk_ctd_content_info(struct kk_ctd *c, const char *ns, const char *digest,
                        struct kk_ctd_content_info *info, kk_error **err)
{
    if (ctd_check_name("digest", digest, err) < 0)
        return -1;
    Containerd__Services__Content__V1__InfoRequest req =
            CONTAINERD__SERVICES__CONTENT__V1__INFO_REQUEST__INIT;
    req.digest = (char *)digest;
    Containerd__Services__Content__V1__InfoResponse *resp = NULL;
    if (ctd_unary(c, ns, METHOD("Info"), &req.base,
                  &containerd__services__content__v1__info_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "content %s", digest);
    if (info && resp->info) {
        info->digest = kk_xstrdup(resp->info->digest ? resp->info->digest : digest);
        info->size = resp->info->size;
        info->labels = ctd_kv_strv(resp->info->labels, resp->info->n_labels);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

struct writer {
    const char *ref, *digest;
    int64_t size, offset;
    kk_ctd_reader read;
    void *userdata;
    WriteRequest tmpl; /* ref, total, expected; labels set on the last */
    void *labels;
    size_t n_labels;
    uint8_t *chunk;
};

/* Fills w->chunk with n bytes from the reader. */
static int fill(struct writer *w, size_t n, kk_error **err)
{
    for (size_t got = 0; got < n;) {
        long r = w->read(w->userdata, w->chunk + got, n - got, w->offset + (int64_t)got, err);
        if (r < 0)
            return -1;
        if (r == 0)
            return kk_error_set(err, KK_E_OUT_OF_RANGE, "blob shorter than %jd bytes",
                                (intmax_t)w->size);
        got += (size_t)r;
    }
    return 0;
}

static int produce_chunk(void *userdata, struct kk_buf *msg, bool *last, kk_error **err)
{
    struct writer *w = userdata;
    size_t n = (size_t)(w->size - w->offset) < CHUNK ? (size_t)(w->size - w->offset) : CHUNK;
    if (fill(w, n, err) < 0)
        return -1;
    WriteRequest req = w->tmpl;
    req.offset = w->offset;
    req.data.data = w->chunk;
    req.data.len = n;
    *last = w->offset + (int64_t)n == w->size;
    if (*last) {
        req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT;
        req.labels = w->labels;
        req.n_labels = w->n_labels;
    } else {
        req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE;
    }
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    kk_buf_grow(msg, len);
    protobuf_c_message_pack(&req.base, (uint8_t *)msg->data);
    msg->len = len;
    msg->data[len] = '\0';
    w->offset += (int64_t)n;
    return 0;
}

static void rewind_writer(void *userdata)
{
    struct writer *w = userdata;
    w->offset = 0;
}

static int ignore_message(void *userdata, const uint8_t *data, size_t len, kk_error **err)
{
    (void)userdata, (void)data, (void)len, (void)err;
    return 0;
}

static int write_once(struct kk_ctd *c, const char *ns, struct writer *w, kk_error **err)
{
    const char *md[5];
    ctd_metadata(c, ns, md);
    struct kk_grpc_call_desc d = {
            .method = METHOD("Write"),
            .metadata = md,
            .on_message = ignore_message,
            .userdata = w,
            .timeout_ms = c->timeout_ms,
    };
    w->offset = 0;
    if ((size_t)w->size <= CHUNK) {
        /* One COMMIT in a fixed body: an error then arrives intact, where it
         * is lost if the server ends the call mid-upload (libcurl 7.88). */
        if (fill(w, (size_t)w->size, err) < 0)
            return -1;
        WriteRequest req = w->tmpl;
        req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT;
        req.data.data = w->chunk;
        req.data.len = (size_t)w->size;
        req.labels = w->labels;
        req.n_labels = w->n_labels;
        d.request = &req.base;
        return kk_grpc_call(c->grpc, &d, err);
    }
    d.produce = produce_chunk;
    d.rewind = rewind_writer;
    return kk_grpc_call(c->grpc, &d, err);
}

int kk_ctd_content_write(struct kk_ctd *c, const char *ns, const char *ref, const char *digest,
                         int64_t size, kk_ctd_reader read, void *userdata,
                         const char *const *labels, kk_error **err)
{
    if (ctd_check_name("digest", digest, err) < 0)
        return -1;
    if (size < 0)
        return kk_error_set(err, KK_E_INVALID, "negative blob size");
    kk_error *info_err = NULL;
    if (kk_ctd_content_info(c, ns, digest, NULL, &info_err) == 0)
        return 1;
    if (kk_error_code(info_err) != KK_E_NOT_FOUND) {
        kk_error_free(*err);
        *err = info_err;
        return kk_error_wrap(err, "write");
    }
    kk_error_free(info_err);

    _cleanup_free_ char *own_ref = ref ? NULL : kk_xasprintf("kukeon-%s", digest);
    struct writer w = {
            .ref = ref ? ref : own_ref,
            .digest = digest,
            .size = size,
            .read = read,
            .userdata = userdata,
            .tmpl = CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT,
    };
    if (ctd_check_name("ref", w.ref, err) < 0)
        return -1;
    w.tmpl.ref = (char *)w.ref;
    w.tmpl.total = size;
    w.tmpl.expected = (char *)digest;
    w.labels = ctd_kv_build(
            &containerd__services__content__v1__write_content_request__labels_entry__descriptor,
            labels, &w.n_labels);
    w.chunk = kk_xmalloc((size_t)size < CHUNK ? (size_t)size + 1 : CHUNK);

    int r = -1;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        kk_error_freep(err);
        r = write_once(c, ns, &w, err);
        if (r == 0)
            break;
        kk_code code = kk_error_code(*err);
        if (code == KK_E_EXISTS) { /* written meanwhile by someone else */
            kk_error_freep(err);
            r = 1;
            break;
        }
        if (code != KK_E_UNAVAILABLE && code != KK_E_UNKNOWN) {
            /* A refused commit (a wrong digest) leaves its ingest behind. */
            kk_error *abort_err = NULL;
            kk_ctd_content_abort(c, ns, w.ref, &abort_err);
            kk_error_free(abort_err);
            break;
        }
        /* Unavailable: containerd went away, or another writer holds the
         * ref (never abort it under them). Unknown: the server ended the
         * call while we were uploading and libcurl lost its status (e.g.
         * AlreadyExists). Is the blob there now? If not, write again. */
        kk_error *info_err2 = NULL;
        if (kk_ctd_content_info(c, ns, digest, NULL, &info_err2) == 0) {
            kk_error_freep(err);
            r = 1;
            break;
        }
        kk_error_free(info_err2);
        usleep((useconds_t)(attempt + 1) * 100 * 1000);
    }
    free(w.chunk);
    ctd_kv_free(w.labels, w.n_labels);
    return r < 0 ? kk_error_wrap(err, "write content %s", digest) : r;
}

struct mem_source {
    const uint8_t *data;
    size_t size;
};

static long read_mem(void *userdata, void *buf, size_t len, int64_t offset, kk_error **err)
{
    struct mem_source *m = userdata;
    if (offset < 0 || (size_t)offset > m->size)
        return kk_error_set(err, KK_E_OUT_OF_RANGE, "offset %jd out of range", (intmax_t)offset);
    size_t n = m->size - (size_t)offset < len ? m->size - (size_t)offset : len;
    memcpy(buf, m->data + offset, n);
    return (long)n;
}

int kk_ctd_content_write_mem(struct kk_ctd *c, const char *ns, const char *ref, const char *digest,
                             const void *data, size_t size, const char *const *labels,
                             kk_error **err)
{
    struct mem_source m = {data, size};
    return kk_ctd_content_write(c, ns, ref, digest, (int64_t)size, read_mem, &m, labels, err);
}

struct reader {
    struct kk_buf *out;
    size_t max, got;
};

static int on_read(void *userdata, const uint8_t *data, size_t len, kk_error **err)
{
    struct reader *r = userdata;
    Containerd__Services__Content__V1__ReadContentResponse *resp =
            containerd__services__content__v1__read_content_response__unpack(NULL, len, data);
    if (!resp)
        return kk_error_set(err, KK_E_INTERNAL, "undecodable ReadContentResponse");
    int rc = 0;
    if (r->got + resp->data.len > r->max)
        rc = kk_error_set(err, KK_E_OUT_OF_RANGE, "blob larger than %zu bytes", r->max);
    else if ((size_t)resp->offset != r->got)
        rc = kk_error_set(err, KK_E_DATA_LOSS, "read at %jd, expected %zu", (intmax_t)resp->offset,
                          r->got);
    if (rc == 0) {
        kk_buf_add(r->out, resp->data.data, resp->data.len);
        r->got += resp->data.len;
    }
    containerd__services__content__v1__read_content_response__free_unpacked(resp, NULL);
    return rc;
}

int kk_ctd_content_read(struct kk_ctd *c, const char *ns, const char *digest, size_t max,
                        struct kk_buf *out, kk_error **err)
{
    if (ctd_check_name("digest", digest, err) < 0)
        return -1;
    Containerd__Services__Content__V1__ReadContentRequest req =
            CONTAINERD__SERVICES__CONTENT__V1__READ_CONTENT_REQUEST__INIT;
    req.digest = (char *)digest;
    struct reader r = {out, max, 0};
    size_t before = out->len;
    if (ctd_stream(c, ns, METHOD("Read"), &req.base, on_read, &r, err) < 0) {
        out->len = before;
        if (out->data)
            out->data[before] = '\0';
        return kk_error_wrap(err, "read content %s", digest);
    }
    kk_buf_add(out, "", 0);
    return 0;
}

int kk_ctd_content_update_labels(struct kk_ctd *c, const char *ns, const char *digest,
                                 const char *const *labels, kk_error **err)
{
    if (ctd_check_name("digest", digest, err) < 0)
        return -1;
    Containerd__Services__Content__V1__Info info = CONTAINERD__SERVICES__CONTENT__V1__INFO__INIT;
    info.digest = (char *)digest;
    info.labels = ctd_kv_build(&containerd__services__content__v1__info__labels_entry__descriptor,
                               labels, &info.n_labels);
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.n_paths = info.n_labels;
    mask.paths = kk_xcalloc(info.n_labels + 1, sizeof(char *));
    for (size_t i = 0; i < info.n_labels; i++)
        mask.paths[i] = kk_xasprintf("labels.%s", labels[2 * i]);
    Containerd__Services__Content__V1__UpdateRequest req =
            CONTAINERD__SERVICES__CONTENT__V1__UPDATE_REQUEST__INIT;
    req.info = &info;
    req.update_mask = &mask;
    int r = ctd_unary(c, ns, METHOD("Update"), &req.base,
                      &containerd__services__content__v1__update_response__descriptor, NULL, err);
    for (size_t i = 0; i < mask.n_paths; i++)
        free(mask.paths[i]);
    free(mask.paths);
    ctd_kv_free(info.labels, info.n_labels);
    return r < 0 ? kk_error_wrap(err, "label content %s", digest) : 0;
}

int kk_ctd_content_delete(struct kk_ctd *c, const char *ns, const char *digest, kk_error **err)
{
    if (ctd_check_name("digest", digest, err) < 0)
        return -1;
    Containerd__Services__Content__V1__DeleteContentRequest req =
            CONTAINERD__SERVICES__CONTENT__V1__DELETE_CONTENT_REQUEST__INIT;
    req.digest = (char *)digest;
    if (ctd_unary(c, ns, METHOD("Delete"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "delete content %s", digest);
    return 0;
}

int kk_ctd_content_abort(struct kk_ctd *c, const char *ns, const char *ref, kk_error **err)
{
    if (ctd_check_name("ref", ref, err) < 0)
        return -1;
    Containerd__Services__Content__V1__AbortRequest req =
            CONTAINERD__SERVICES__CONTENT__V1__ABORT_REQUEST__INIT;
    req.ref = (char *)ref;
    if (ctd_unary(c, ns, METHOD("Abort"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "abort ingest %s", ref);
    return 0;
}

struct digest_list {
    char **v;
    size_t n, cap;
};

static int on_list(void *userdata, const uint8_t *data, size_t len, kk_error **err)
{
    struct digest_list *l = userdata;
    Containerd__Services__Content__V1__ListContentResponse *resp =
            containerd__services__content__v1__list_content_response__unpack(NULL, len, data);
    if (!resp)
        return kk_error_set(err, KK_E_INTERNAL, "undecodable ListContentResponse");
    for (size_t i = 0; i < resp->n_info; i++) {
        void *p = l->v;
        kk_xgrow(&p, &l->cap, l->n + 2, sizeof(char *));
        l->v = p;
        l->v[l->n++] = kk_xstrdup(resp->info[i]->digest ? resp->info[i]->digest : "");
        l->v[l->n] = NULL;
    }
    containerd__services__content__v1__list_content_response__free_unpacked(resp, NULL);
    return 0;
}

int kk_ctd_content_list(struct kk_ctd *c, const char *ns, char ***digests, kk_error **err)
{
    Containerd__Services__Content__V1__ListContentRequest req =
            CONTAINERD__SERVICES__CONTENT__V1__LIST_CONTENT_REQUEST__INIT;
    struct digest_list l = {kk_xcalloc(1, sizeof(char *)), 0, 1};
    if (ctd_stream(c, ns, METHOD("List"), &req.base, on_list, &l, err) < 0) {
        kk_strv_free(l.v);
        return kk_error_wrap(err, "list content");
    }
    *digests = l.v;
    return 0;
}
