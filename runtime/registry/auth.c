/* Authorisation: Basic, the Bearer token flow with a token cache, and the
 * request that answers a 401 with them. */
#include <openssl/evp.h>
#include <string.h>

#include "fsapi/clock.h"
#include "fsapi/json.h"
#include "fsapi/log.h"
#include "runtime/registry/internal.h"

#define TOKEN_DEFAULT_TTL_S 60 /* the distribution spec's default expires_in */
#define TOKEN_MARGIN_S      10 /* renew a little early */
#define TOKEN_MAX_CACHED    256

static char *basic_header(const struct kk_registry_login *l)
{
    _cleanup_free_ char *raw = kk_xasprintf("%s:%s", l->username, l->password ? l->password : "");
    size_t len = strlen(raw);
    _cleanup_free_ char *b64 = kk_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)raw, (int)len);
    char *h = kk_xasprintf("Authorization: Basic %s", b64);
    explicit_bzero(raw, len);
    explicit_bzero(b64, strlen(b64));
    return h;
}

static char *token_key(const struct reg_session *s, const struct kk_registry_challenge *c,
                       const char *scope)
{
    return kk_xasprintf("%s\n%s\n%s\n%s", s->ep->host, c->service ? c->service : "", scope,
                        s->login.username ? s->login.username : "");
}

static char *cache_get(struct kk_registry *r, const char *key)
{
    char *v = NULL;
    int64_t now = kk_clock_mono_ns(NULL);
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_tokens; i++)
        if (strcmp(r->tokens[i].key, key) == 0 && r->tokens[i].expires_ns > now)
            v = kk_xstrdup(r->tokens[i].value);
    pthread_mutex_unlock(&r->lock);
    return v;
}

static void cache_put(struct kk_registry *r, const char *key, const char *value, int64_t ttl_s)
{
    int64_t now = kk_clock_mono_ns(NULL);
    pthread_mutex_lock(&r->lock);
    /* drop expired entries and this key's old one; a full cache (a bound
     * on memory, never reached in practice) starts over */
    size_t k = 0;
    for (size_t i = 0; i < r->n_tokens; i++) {
        struct reg_token *t = &r->tokens[i];
        if (t->expires_ns <= now || strcmp(t->key, key) == 0 || r->n_tokens >= TOKEN_MAX_CACHED) {
            explicit_bzero(t->value, strlen(t->value));
            free(t->key);
            free(t->value);
            continue;
        }
        r->tokens[k++] = *t;
    }
    r->n_tokens = k;
    void *p = r->tokens;
    kk_xgrow(&p, &r->cap_tokens, r->n_tokens + 1, sizeof(*r->tokens));
    r->tokens = p;
    r->tokens[r->n_tokens++] =
            (struct reg_token){kk_xstrdup(key), kk_xstrdup(value), now + ttl_s * KK_NSEC_PER_SEC};
    pthread_mutex_unlock(&r->lock);
}

static char *escape(CURL *h, const char *s)
{
    char *e = curl_easy_escape(h, s, 0);
    char *copy = kk_xstrdup(e ? e : "");
    curl_free(e);
    return copy;
}

/* GET <realm>?service=..&scope=.. (with Basic credentials if we have them). */
static int fetch_token(struct reg_session *s, const struct kk_registry_challenge *c,
                       const char *scope, char **token, int64_t *ttl_s, kk_error **err)
{
    CURL *h = curl_easy_init();
    if (!h)
        return kk_error_set(err, KK_E_INTERNAL, "curl_easy_init failed");
    _cleanup_free_ char *esc_scope = escape(h, scope);
    _cleanup_free_ char *esc_service = c->service ? escape(h, c->service) : NULL;
    _cleanup_free_ char *url =
            kk_xasprintf("%s%s%s%s%sscope=%s", c->realm, strchr(c->realm, '?') ? "&" : "?",
                         esc_service ? "service=" : "", esc_service ? esc_service : "",
                         esc_service ? "&" : "", esc_scope);
    curl_easy_cleanup(h);
    _cleanup_free_ char *basic = NULL;
    if (!kk_registry_login_empty(&s->login) && s->login.username) {
        /* credentials of an HTTPS registry never travel in clear text */
        if (strncmp(c->realm, "http://", 7) == 0 && strncmp(s->ep->base, "https://", 8) == 0)
            return kk_error_set(err, KK_E_PERMISSION,
                                "token realm %s is plain HTTP while the registry is HTTPS: "
                                "credentials not sent",
                                c->realm);
        basic = basic_header(&s->login);
    }
    struct reg_response resp = {.content_length = -1};
    /* the same TLS settings as the endpoint (a private CA signs both) */
    int r = reg_perform(s, "GET", url, basic, "application/json", REG_MAX_TOKEN_BODY, &resp, err);
    if (basic)
        explicit_bzero(basic, strlen(basic));
    if (r < 0) {
        reg_response_clear(&resp);
        return kk_error_wrap(err, "token");
    }
    if (resp.status != 200) {
        /* reg_status_error always fails; r = -1 says that *token stays unset */
        reg_status_error(&resp, "token", err);
        if (resp.status == 401 || resp.status == 403)
            (*err)->code = KK_E_UNAUTHENTICATED;
        r = -1;
    } else {
        _cleanup_json_ struct kk_json *doc = NULL;
        if (kk_json_parse(resp.body.data ? resp.body.data : "", resp.body.len, &doc, err) < 0) {
            r = kk_error_wrap(err, "token from %s", c->realm);
        } else {
            const char *t = kk_json_str(kk_json_get(doc, "token"));
            if (!t || !*t)
                t = kk_json_str(kk_json_get(doc, "access_token"));
            int64_t ttl = 0;
            if (kk_json_int(kk_json_get(doc, "expires_in"), &ttl) < 0 || ttl < 1)
                ttl = TOKEN_DEFAULT_TTL_S;
            if (!t || !*t || strlen(t) > REG_MAX_TOKEN_BODY || strpbrk(t, "\r\n")) {
                r = kk_error_set(err, KK_E_UNAUTHENTICATED, "token from %s: no usable token",
                                 c->realm);
            } else {
                *token = kk_xstrdup(t);
                *ttl_s = ttl;
            }
        }
    }
    reg_response_clear(&resp);
    return r;
}

int reg_authorize(struct reg_session *s, const char *www_authenticate, kk_error **err)
{
    struct kk_registry_challenge c = {0};
    int r = 0;

    if (kk_registry_challenge_parse(www_authenticate, &c, err) < 0)
        return -1;
    if (c.scheme == KK_REGISTRY_AUTH_BASIC) {
        if (kk_registry_login_empty(&s->login) || !s->login.username)
            r = kk_error_set(err, KK_E_UNAUTHENTICATED,
                             "authentication required (Basic) and no credentials configured");
        else if (s->scheme == KK_REGISTRY_AUTH_BASIC)
            r = kk_error_set(err, KK_E_UNAUTHENTICATED, "credentials of %s were refused",
                             s->login.username);
        if (r == 0) {
            free(s->authorization);
            s->authorization = basic_header(&s->login);
            s->scheme = KK_REGISTRY_AUTH_BASIC;
        }
        kk_registry_challenge_clear(&c);
        return r;
    }

    /* Bearer: the scope the registry asks for, else pull on our repository */
    _cleanup_free_ char *scope =
            c.scope ? kk_xstrdup(c.scope) : kk_xasprintf("repository:%s:pull", s->repository);
    _cleanup_free_ char *key = token_key(s, &c, scope);
    _cleanup_free_ char *token = NULL;
    int64_t ttl = 0;
    /* A cached token that was just refused (s->scheme is Bearer already)
     * must not be offered again. */
    if (s->scheme != KK_REGISTRY_AUTH_BEARER)
        token = cache_get(s->r, key);
    if (!token) {
        if (fetch_token(s, &c, scope, &token, &ttl, err) < 0) {
            kk_registry_challenge_clear(&c);
            return -1;
        }
        if (ttl > TOKEN_MARGIN_S * 2)
            ttl -= TOKEN_MARGIN_S;
        cache_put(s->r, key, token, ttl);
        kk_log_debug("registry %s: token for %s, %lld s", s->ep->host, scope, (long long)ttl);
    }
    free(s->authorization);
    s->authorization = kk_xasprintf("Authorization: Bearer %s", token);
    s->scheme = KK_REGISTRY_AUTH_BEARER;
    explicit_bzero(token, strlen(token));
    kk_registry_challenge_clear(&c);
    return 0;
}

int reg_request(struct reg_session *s, const char *method, const char *path, const char *accept,
                size_t max_body, struct reg_response *resp, kk_error **err)
{
    _cleanup_free_ char *url = kk_xasprintf("%s/v2/%s/%s", s->ep->base, s->repository, path);
    for (int attempt = 0;; attempt++) {
        if (reg_perform(s, method, url, s->authorization, accept, max_body, resp, err) < 0)
            return -1;
        if (resp->status != 401 || attempt > 0 || !resp->www_authenticate)
            return 0;
        if (reg_authorize(s, resp->www_authenticate, err) < 0)
            return kk_error_wrap(err, "%s", s->ep->host);
    }
}
