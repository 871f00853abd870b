/* Private to runtime/registry: the client object, endpoints, one
 * repository's HTTP session (authorisation included) and blob transfers. */
#ifndef KUKEON_REGISTRY_INTERNAL_H
#define KUKEON_REGISTRY_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>

#include "fsapi/buf.h"
#include "runtime/registry/registry.h"

#define REG_MAX_ERROR_BODY (64u << 10) /* an error response body kept for its message */
#define REG_MAX_TOKEN_BODY (64u << 10)

struct reg_token {
    char *key; /* host \n service \n scope \n user */
    char *value;
    int64_t expires_ns; /* CLOCK_MONOTONIC */
};

struct kk_registry {
    struct kk_registry_config cfg;
    pthread_mutex_t lock; /* guards tokens and inflight */
    struct reg_token *tokens;
    size_t n_tokens, cap_tokens;
    /* Pulls under way, "ns\nname": a second pull of the same image into
     * the same namespace waits for the first (then finds it present). */
    char **inflight;
    size_t n_inflight, cap_inflight;
    pthread_cond_t inflight_done;
};

/* Where one attempt of a pull goes. */
struct reg_endpoint {
    char *base; /* "https://registry-1.docker.io", "http://127.0.0.1:5000" */
    char *host; /* "127.0.0.1:5000": credentials, tokens and config are keyed by it */
    const struct kk_registry_host *hc; /* its registries.yaml entry, or NULL */
    bool mirror;
};
void reg_endpoint_clear(struct reg_endpoint *e);
/* Mirrors of domain in order, then the domain's own API host. */
int reg_endpoints(const struct kk_registry_config *cfg, const char *domain,
                  struct reg_endpoint **out, size_t *n, kk_error **err);

/* One repository on one endpoint. */
struct reg_session {
    struct kk_registry *r;
    const struct reg_endpoint *ep;
    const char *repository;
    struct kk_registry_login login; /* may be empty: anonymous */
    char *authorization;            /* "Authorization: ..." header line, or NULL */
    enum kk_registry_scheme scheme; /* of the current authorization */
};
void reg_session_clear(struct reg_session *s);

struct reg_response {
    long status;
    char *content_type;
    char *docker_digest;
    char *www_authenticate;
    int64_t content_length; /* -1 if not sent */
    struct kk_buf body;     /* bounded by the request's max_body */
};
void reg_response_clear(struct reg_response *resp);

/* Common options of every easy handle of the session: URL, TLS, timeouts,
 * redirects, user agent. `headers` is owned by the caller. */
void reg_setup_handle(const struct reg_session *s, CURL *h, const char *url,
                      struct curl_slist *headers);
/* A new header list with `authorization` (a header line) and `accept`;
 * both may be NULL. */
struct curl_slist *reg_headers(const char *authorization, const char *accept);
/* Header callback that fills a reg_response's content type, digest and
 * challenge (userdata: struct reg_response *). */
size_t reg_on_header(char *buf, size_t size, size_t n, void *userdata);

/* One request to any URL with the session's TLS settings; the body is
 * capped at max_body (OutOfRange beyond). -1 only when no answer was had. */
int reg_perform(const struct reg_session *s, const char *method, const char *url,
                const char *authorization, const char *accept, size_t max_body,
                struct reg_response *resp, kk_error **err);
/* The error for a non-2xx answer: code from the status, message from the
 * registry's {"errors": [{"code", "message"}]} body. Returns -1. */
int reg_status_error(const struct reg_response *resp, const char *what, kk_error **err);
kk_code reg_status_code(long status);

/* ---- authorisation (auth.c) --------------------------------------------- */

/* Authorises the session from a WWW-Authenticate value (Basic: the login;
 * Bearer: a token from the realm, cached). Unauthenticated when the
 * registry wants credentials and there are none, or they were refused. */
int reg_authorize(struct reg_session *s, const char *www_authenticate, kk_error **err);
/* GET or HEAD <base>/v2/<repository>/<path>; on 401, authorises from the
 * challenge and retries once. The body is capped at max_body (OutOfRange
 * beyond). Returns 0 with any HTTP status in resp->status; -1 only when no
 * answer was had (network, TLS, authorisation failure). Either way the
 * caller releases resp with reg_response_clear. */
int reg_request(struct reg_session *s, const char *method, const char *path, const char *accept,
                size_t max_body, struct reg_response *resp, kk_error **err);

/* ---- blob transfers (fetch.c) ----------------------------------------- */

struct reg_blob {
    const char *digest;
    int64_t size;
    /* filled by reg_fetch_blobs: an unlinked temporary file holding exactly
     * the verified blob, positioned anywhere (read it with pread) */
    int fd;
};

typedef int (*reg_blob_done_fn)(struct reg_blob *b, void *userdata, kk_error **err);
typedef void (*reg_bytes_fn)(int64_t delta, void *userdata);

/* Downloads blobs[0..n) with up to `parallel` concurrent transfers, each
 * verified against digest and size. Each verified blob is handed to done()
 * on one writer thread (one blob at a time, in completion order, its fd
 * closed afterwards) while the other transfers go on; bytes() runs on the
 * calling thread. Stops at the first failure of a transfer or of done():
 * the other transfers are abandoned and blobs still queued are dropped.
 * Returns once the writer is idle: no done() runs after it returns. */
int reg_fetch_blobs(struct reg_session *s, struct reg_blob *blobs, size_t n, unsigned parallel,
                    reg_blob_done_fn done, reg_bytes_fn bytes, void *userdata, kk_error **err);

/* An unlinked read-write temporary file in dir. */
int reg_tmpfile(const char *dir, kk_error **err);

#endif
