/* WWW-Authenticate parsing (RFC 7235 §2.1, §4.1; see parse.h). */
#include <strings.h>
#include <string.h>

#include "fsapi/buf.h"
#include "runtime/registry/parse.h"

void kk_registry_challenge_clear(struct kk_registry_challenge *c)
{
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

/* RFC 7230 tchar */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* A token at *p; returns its length (0 if none). */
static size_t token(const char **p)
{
    const char *s = *p;
    while (is_tchar(**p))
        (*p)++;
    return (size_t)(*p - s);
}

/* A token68 or a parameter value: token or quoted-string. */
static int value(const char **p, struct kk_buf *out, kk_error **err)
{
    if (**p != '"') {
        const char *s = *p;
        /* token68 allows '/' and '=' as well */
        while (is_tchar(**p) || **p == '/' || **p == '=')
            (*p)++;
        if (*p == s)
            return kk_error_set(err, KK_E_INVALID, "expected a value at \"%.32s\"", s);
        kk_buf_add(out, s, (size_t)(*p - s));
        return 0;
    }
    for ((*p)++; **p != '"'; (*p)++) {
        if (!**p)
            return kk_error_set(err, KK_E_INVALID, "unterminated quoted string");
        if (**p == '\\' && (*p)[1])
            (*p)++;
        kk_buf_addch(out, **p);
    }
    (*p)++;
    kk_buf_add(out, "", 0);
    return 0;
}

struct parsed {
    enum kk_registry_scheme scheme;
    char *realm, *service, *scope, *error;
};

static void parsed_clear(struct parsed *c)
{
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

/* Parses the parameters of one challenge, stopping before the next
 * challenge's scheme (a token followed by a space, not by '='). */
static int params(const char **p, struct parsed *c, kk_error **err)
{
    for (;;) {
        skip_ws(p);
        while (**p == ',') {
            (*p)++;
            skip_ws(p);
        }
        if (!**p)
            return 0;
        const char *name = *p;
        size_t nlen = token(p);
        if (!nlen)
            return kk_error_set(err, KK_E_INVALID, "unexpected \"%.32s\"", *p);
        skip_ws(p);
        if (**p != '=') {
            *p = name; /* the next challenge */
            return 0;
        }
        (*p)++;
        skip_ws(p);
        _cleanup_buf_ struct kk_buf v = KK_BUF_INIT;
        if (value(p, &v, err) < 0)
            return -1;
        char **slot = NULL;
        if (nlen == 5 && strncasecmp(name, "realm", 5) == 0)
            slot = &c->realm;
        else if (nlen == 7 && strncasecmp(name, "service", 7) == 0)
            slot = &c->service;
        else if (nlen == 5 && strncasecmp(name, "scope", 5) == 0)
            slot = &c->scope;
        else if (nlen == 5 && strncasecmp(name, "error", 5) == 0)
            slot = &c->error;
        if (slot) {
            free(*slot);
            *slot = kk_buf_detach(&v, NULL);
        }
        skip_ws(p);
        if (**p && **p != ',')
            return kk_error_set(err, KK_E_INVALID, "expected ',' at \"%.32s\"", *p);
    }
}

int kk_registry_challenge_parse(const char *header, struct kk_registry_challenge *out,
                                kk_error **err)
{
    struct parsed best = {0}, cur = {0};
    const char *p = header;

    memset(out, 0, sizeof(*out));
    if (strlen(header) > KK_REGISTRY_MAX_HEADER)
        return kk_error_set(err, KK_E_INVALID, "WWW-Authenticate longer than %u bytes",
                            KK_REGISTRY_MAX_HEADER);
    for (;;) {
        skip_ws(&p);
        while (*p == ',') {
            p++;
            skip_ws(&p);
        }
        if (!*p)
            break;
        const char *scheme = p;
        size_t slen = token(&p);
        if (!slen) {
            parsed_clear(&best);
            return kk_error_set(err, KK_E_INVALID,
                                "WWW-Authenticate: expected a scheme at \"%.32s\"", p);
        }
        if (slen == 6 && strncasecmp(scheme, "Bearer", 6) == 0)
            cur.scheme = KK_REGISTRY_AUTH_BEARER;
        else if (slen == 5 && strncasecmp(scheme, "Basic", 5) == 0)
            cur.scheme = KK_REGISTRY_AUTH_BASIC;
        else
            cur.scheme = KK_REGISTRY_AUTH_NONE;
        if (params(&p, &cur, err) < 0) {
            parsed_clear(&cur);
            parsed_clear(&best);
            return kk_error_wrap(err, "WWW-Authenticate");
        }
        if (cur.scheme > best.scheme) {
            parsed_clear(&best);
            best = cur;
            memset(&cur, 0, sizeof(cur));
        }
        parsed_clear(&cur);
    }
    if (best.scheme == KK_REGISTRY_AUTH_NONE)
        return kk_error_set(err, KK_E_INVALID, "WWW-Authenticate: no Basic or Bearer challenge");
    if (best.scheme == KK_REGISTRY_AUTH_BEARER &&
        (!best.realm ||
         (strncmp(best.realm, "https://", 8) != 0 && strncmp(best.realm, "http://", 7) != 0))) {
        parsed_clear(&best);
        return kk_error_set(err, KK_E_INVALID, "WWW-Authenticate: Bearer realm is not a URL");
    }
    out->scheme = best.scheme;
    out->realm = best.realm;
    out->service = best.service;
    out->scope = best.scope;
    out->error = best.error;
    return 0;
}
