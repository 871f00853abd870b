/* The client object, endpoints and the HTTP transport: one request, no
 * authorisation logic (a 401 is retried by auth.c's reg_request). */
#include <ctype.h>
#include <fcntl.h>
#include <strings.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/json.h"
#include "runtime/registry/internal.h"

#ifndef KUKEON_VERSION
#define KUKEON_VERSION "0"
#endif
#define USER_AGENT      "kukeon/" KUKEON_VERSION
#define SYSTEM_CA_PATH  "/etc/ssl/certs"
#define CONNECT_TIMEOUT 30L

/* ---- the client --------------------------------------------------------- */

static void copy_config(struct kk_registry_config *dst, const struct kk_registry_config *src)
{
    memset(dst, 0, sizeof(*dst));
    if (!src)
        return;
    dst->auth_file = src->auth_file ? kk_xstrdup(src->auth_file) : NULL;
    dst->tmp_dir = src->tmp_dir ? kk_xstrdup(src->tmp_dir) : NULL;
    dst->max_concurrent_downloads = src->max_concurrent_downloads;
    dst->timeout_seconds = src->timeout_seconds;
    dst->registries = kk_xcalloc(src->n_registries + 1, sizeof(*dst->registries));
    for (size_t i = 0; i < src->n_registries; i++) {
        const struct kk_registry_host *s = &src->registries[i];
        struct kk_registry_host *d = &dst->registries[i];
        d->host = kk_xstrdup(s->host);
        d->insecure = s->insecure;
        d->ca_file = s->ca_file ? kk_xstrdup(s->ca_file) : NULL;
        for (size_t k = 0; k < s->mirrors.n; k++)
            kk_strv_push(&d->mirrors, s->mirrors.v[k]);
    }
    dst->n_registries = src->n_registries;
}

int kk_registry_new(const struct kk_registry_config *cfg, struct kk_registry **out, kk_error **err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kk_error_set(err, KK_E_INTERNAL, "curl_global_init failed");
    struct kk_registry *r = kk_xcalloc(1, sizeof(*r));
    copy_config(&r->cfg, cfg);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->inflight_done, NULL);
    *out = r;
    return 0;
}

void kk_registry_free(struct kk_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_tokens; i++) {
        free(r->tokens[i].key);
        explicit_bzero(r->tokens[i].value, strlen(r->tokens[i].value));
        free(r->tokens[i].value);
    }
    free(r->tokens);
    kk_registry_config_clear(&r->cfg);
    free(r->inflight); /* empty: every pull removes its entry */
    pthread_cond_destroy(&r->inflight_done);
    pthread_mutex_destroy(&r->lock);
    free(r);
    curl_global_cleanup();
}

/* ---- endpoints ---------------------------------------------------------- */

void reg_endpoint_clear(struct reg_endpoint *e)
{
    free(e->base);
    free(e->host);
    memset(e, 0, sizeof(*e));
}

static void add_endpoint(const struct kk_registry_config *cfg, struct reg_endpoint **v, size_t *n,
                         const char *url, bool mirror)
{
    const char *sep = strstr(url, "://");
    const char *hostpart = sep ? sep + 3 : url;
    size_t hlen = strcspn(hostpart, "/");
    _cleanup_free_ char *host = kk_xstrndup(hostpart, hlen);
    const struct kk_registry_host *hc = kk_registry_config_host(cfg, host);
    const char *scheme = sep ? NULL : (hc && hc->insecure ? "http" : "https");

    *v = kk_xrealloc(*v, (*n + 1) * sizeof(**v));
    struct reg_endpoint *e = &(*v)[(*n)++];
    /* the path of a mirror URL is kept ("https://m.example.com/proxy") */
    size_t len = strlen(url);
    while (len && url[len - 1] == '/')
        len--;
    e->base = scheme ? kk_xasprintf("%s://%.*s", scheme, (int)len, url) : kk_xstrndup(url, len);
    e->host = TAKE_PTR(host);
    e->hc = hc;
    e->mirror = mirror;
}

int reg_endpoints(const struct kk_registry_config *cfg, const char *domain,
                  struct reg_endpoint **out, size_t *n, kk_error **err)
{
    const struct kk_registry_host *hc = kk_registry_config_host(cfg, domain);
    struct reg_endpoint *v = NULL;
    size_t k = 0;

    for (size_t i = 0; hc && i < hc->mirrors.n; i++) {
        const char *m = hc->mirrors.v[i];
        if (strstr(m, "://") && strncmp(m, "http://", 7) != 0 && strncmp(m, "https://", 8) != 0) {
            for (size_t j = 0; j < k; j++)
                reg_endpoint_clear(&v[j]);
            free(v);
            return kk_error_set(err, KK_E_INVALID, "mirror %s of %s: not an http(s) URL", m,
                                domain);
        }
        add_endpoint(cfg, &v, &k, m, true);
    }
    const char *api = kk_registry_api_host(domain);
    add_endpoint(cfg, &v, &k, api, false);
    /* docker.io's settings apply to registry-1.docker.io */
    if (!v[k - 1].hc)
        v[k - 1].hc = hc;
    *out = v;
    *n = k;
    return 0;
}

/* ---- requests ----------------------------------------------------------- */

void reg_session_clear(struct reg_session *s)
{
    kk_registry_login_clear(&s->login);
    if (s->authorization)
        explicit_bzero(s->authorization, strlen(s->authorization));
    free(s->authorization);
    s->authorization = NULL;
}

void reg_response_clear(struct reg_response *resp)
{
    free(resp->content_type);
    free(resp->docker_digest);
    free(resp->www_authenticate);
    kk_buf_release(&resp->body);
    memset(resp, 0, sizeof(*resp));
    resp->content_length = -1;
}

void reg_setup_handle(const struct reg_session *s, CURL *h, const char *url,
                      struct curl_slist *headers)
{
    const struct kk_registry_config *cfg = &s->r->cfg;
    long timeout = cfg->timeout_seconds ? (long)cfg->timeout_seconds : 60L;

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* Blob downloads may be redirected to storage; libcurl does not send
     * our Authorization header to another host. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, timeout);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL); /* blobs are hashed as sent */
    if (s->ep->hc && s->ep->hc->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ep->hc->ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, SYSTEM_CA_PATH);
    }
}

struct curl_slist *reg_headers(const char *authorization, const char *accept)
{
    struct curl_slist *l = NULL;
    if (authorization)
        l = curl_slist_append(l, authorization);
    if (accept) {
        _cleanup_free_ char *a = kk_xasprintf("Accept: %s", accept);
        l = curl_slist_append(l, a);
    }
    return l;
}

static char *header_value(const char *buf, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    if (len <= nlen || strncasecmp(buf, name, nlen) != 0 || buf[nlen] != ':')
        return NULL;
    const char *v = buf + nlen + 1, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    return kk_xstrndup(v, (size_t)(end - v));
}

size_t reg_on_header(char *buf, size_t size, size_t n, void *userdata)
{
    struct reg_response *resp = userdata;
    size_t len = size * n;
    char *v;

    /* a new response (after a redirect or a 100): forget the last one's */
    if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
        free(resp->content_type);
        free(resp->docker_digest);
        free(resp->www_authenticate);
        resp->content_type = resp->docker_digest = resp->www_authenticate = NULL;
        resp->content_length = -1;
        return len;
    }
    if (len > KK_REGISTRY_MAX_HEADER)
        return len; /* not one of ours: ignore rather than fail */
    if ((v = header_value(buf, len, "Content-Type"))) {
        free(resp->content_type);
        resp->content_type = v;
    } else if ((v = header_value(buf, len, "Docker-Content-Digest"))) {
        free(resp->docker_digest);
        resp->docker_digest = v;
    } else if ((v = header_value(buf, len, "WWW-Authenticate"))) {
        free(resp->www_authenticate);
        resp->www_authenticate = v;
    } else if ((v = header_value(buf, len, "Content-Length"))) {
        char *end;
        long long cl = strtoll(v, &end, 10);
        resp->content_length = *end || cl < 0 ? -1 : cl;
        free(v);
    }
    return len;
}

struct body_sink {
    struct reg_response *resp;
    size_t max;
    bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    struct body_sink *b = userdata;
    size_t len = size * n;
    if (b->resp->body.len + len > b->max) {
        b->too_big = true;
        return 0;
    }
    kk_buf_add(&b->resp->body, data, len);
    return len;
}

int reg_perform(const struct reg_session *s, const char *method, const char *url,
                const char *authorization, const char *accept, size_t max_body,
                struct reg_response *resp, kk_error **err)
{
    reg_response_clear(resp);
    CURL *h = curl_easy_init();
    if (!h)
        return kk_error_set(err, KK_E_INTERNAL, "curl_easy_init failed");
    struct curl_slist *headers = reg_headers(authorization, accept);
    struct body_sink sink = {resp, max_body, false};
    char errbuf[CURL_ERROR_SIZE] = "";

    reg_setup_handle(s, h, url, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, reg_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    if (sink.too_big)
        return kk_error_set(err, KK_E_OUT_OF_RANGE, "%s %s: response larger than %zu bytes", method,
                            url, max_body);
    if (rc != CURLE_OK)
        return kk_error_set(err, KK_E_UNAVAILABLE, "%s %s: %s", method, url,
                            *errbuf ? errbuf : curl_easy_strerror(rc));
    kk_buf_add(&resp->body, "", 0);
    return 0;
}

kk_code reg_status_code(long status)
{
    switch (status) {
    case 400:
        return KK_E_INVALID;
    case 401:
        return KK_E_UNAUTHENTICATED;
    case 403:
        return KK_E_PERMISSION;
    case 404:
        return KK_E_NOT_FOUND;
    case 416:
        return KK_E_OUT_OF_RANGE;
    case 429:
        return KK_E_EXHAUSTED;
    default:
        return status >= 500 ? KK_E_UNAVAILABLE : KK_E_UNKNOWN;
    }
}

int reg_status_error(const struct reg_response *resp, const char *what, kk_error **err)
{
    _cleanup_json_ struct kk_json *doc = NULL;
    _cleanup_error_ kk_error *perr = NULL;
    _cleanup_buf_ struct kk_buf msg = KK_BUF_INIT;

    if (resp->body.len && kk_json_parse(resp->body.data, resp->body.len, &doc, &perr) == 0) {
        const struct kk_json *errors = kk_json_get(doc, "errors");
        for (size_t i = 0; i < kk_json_len(errors) && i < 4; i++) {
            const struct kk_json *e = kk_json_at(errors, i);
            const char *m = kk_json_str(kk_json_get(e, "message"));
            const char *c = kk_json_str(kk_json_get(e, "code"));
            if (!m && !c)
                continue;
            kk_buf_printf(&msg, "%s%.200s", msg.len ? "; " : "", m ? m : c);
            if (m && c)
                kk_buf_printf(&msg, " (%.40s)", c);
        }
    }
    if (!msg.len)
        kk_buf_printf(&msg, "HTTP %ld", resp->status);
    else
        kk_buf_printf(&msg, " [HTTP %ld]", resp->status);
    return kk_error_set(err, reg_status_code(resp->status), "%s: %s", what, msg.data);
}

int reg_tmpfile(const char *dir, kk_error **err)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
        return fd >= 0 ? fd : kk_error_errno(err, "temporary file in %s", dir);
    /* a filesystem without O_TMPFILE: create and unlink at once */
    _cleanup_free_ char *path = kk_xasprintf("%s/.kukeon-blob-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return kk_error_errno(err, "temporary file in %s", dir);
    unlink(path);
    return fd;
}
