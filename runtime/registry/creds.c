/* Credentials: realm registryCredentials and auth.json files (see parse.h). */
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "runtime/registry/parse.h"

void kk_registry_login_clear(struct kk_registry_login *l)
{
    if (l->password)
        explicit_bzero(l->password, strlen(l->password));
    if (l->identity_token)
        explicit_bzero(l->identity_token, strlen(l->identity_token));
    free(l->username);
    free(l->password);
    free(l->identity_token);
    memset(l, 0, sizeof(*l));
}

int kk_registry_credential_pick(const struct kk_registry_credential *v, size_t n,
                                const char *domain)
{
    int fallback = -1;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].server_address) {
            if (fallback < 0)
                fallback = (int)i;
        } else if (kk_registry_server_matches(v[i].server_address, domain)) {
            return (int)i;
        }
    }
    return fallback;
}

static int read_secret(const char *path, char **out, kk_error **err)
{
    if (path[0] != '/')
        return kk_error_set(err, KK_E_INVALID, "passwordFile %s: not an absolute path", path);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return kk_error_errno(err, "passwordFile %s", path);
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    int r = kk_buf_read_fd(&b, fd, KK_REGISTRY_MAX_SECRET);
    if (r < 0) {
        if (b.data)
            explicit_bzero(b.data, b.len);
        return kk_error_errnum(err, -r, "passwordFile %s", path);
    }
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    if (b.len && b.data[b.len - 1] == '\r')
        b.data[--b.len] = '\0';
    if (b.len == 0 || memchr(b.data, '\0', b.len))
        return kk_error_set(err, KK_E_INVALID, "passwordFile %s: empty or binary", path);
    *out = kk_buf_detach(&b, NULL);
    return 0;
}

int kk_registry_credential_login(const struct kk_registry_credential *cred,
                                 struct kk_registry_login *out, kk_error **err)
{
    memset(out, 0, sizeof(*out));
    if (!cred->username)
        return kk_error_set(err, KK_E_INVALID, "registry credential without a username");
    if (cred->password) {
        out->password = kk_xstrdup(cred->password);
    } else if (cred->password_file) {
        if (read_secret(cred->password_file, &out->password, err) < 0)
            return -1;
    } else {
        return kk_error_set(err, KK_E_INVALID, "registry credential for %s: no password",
                            cred->username);
    }
    out->username = kk_xstrdup(cred->username);
    return 0;
}

/* "auth": base64("user:password") */
static int decode_auth(const char *b64, struct kk_registry_login *out, kk_error **err)
{
    size_t len = strlen(b64);
    if (len == 0 || len > KK_REGISTRY_MAX_SECRET || len % 4)
        return kk_error_set(err, KK_E_INVALID, "\"auth\" is not base64");
    _cleanup_free_ unsigned char *raw = kk_xmalloc(len / 4 * 3 + 1);
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
    if (n < 0)
        return kk_error_set(err, KK_E_INVALID, "\"auth\" is not base64");
    /* EVP_DecodeBlock counts the padding as zero bytes */
    for (const char *p = b64 + len; p > b64 && p[-1] == '='; p--)
        n--;
    raw[n] = '\0';
    char *colon = memchr(raw, ':', (size_t)n);
    if (!colon || colon == (char *)raw || memchr(raw, '\0', (size_t)n)) {
        explicit_bzero(raw, (size_t)n);
        return kk_error_set(err, KK_E_INVALID, "\"auth\" is not \"user:password\"");
    }
    out->username = kk_xstrndup((char *)raw, (size_t)(colon - (char *)raw));
    out->password = kk_xstrdup(colon + 1);
    explicit_bzero(raw, (size_t)n);
    return 0;
}

/* How specifically `key` names domain/repository: -1 not at all, else the
 * length of its path part (0 for a bare host). */
static long key_match(const char *key, const char *domain, const char *repository)
{
    _cleanup_free_ char *host = kk_registry_server_domain(key);
    if (strcmp(host, domain) != 0)
        return -1;
    const char *s = strstr(key, "://");
    s = s ? s + 3 : key;
    const char *path = strchr(s, '/');
    if (!path)
        return 0;
    path++;
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/')
        plen--;
    /* Docker Hub's legacy "https://index.docker.io/v1/" names the host */
    if (plen == 0 || (plen == 2 && strncmp(path, "v1", 2) == 0))
        return 0;
    if (strncmp(repository, path, plen) != 0 || (repository[plen] && repository[plen] != '/'))
        return -1;
    return (long)plen;
}

int kk_registry_authfile_lookup(const char *json, size_t len, const char *domain,
                                const char *repository, struct kk_registry_login *out,
                                kk_error **err)
{
    _cleanup_json_ struct kk_json *doc = NULL;
    memset(out, 0, sizeof(*out));
    if (len > KK_REGISTRY_MAX_AUTHFILE)
        return kk_error_set(err, KK_E_INVALID, "auth file larger than %u bytes",
                            KK_REGISTRY_MAX_AUTHFILE);
    if (kk_json_parse(json, len, &doc, err) < 0)
        return kk_error_wrap(err, "auth file");
    const struct kk_json *auths = kk_json_get(doc, "auths");
    if (!auths)
        return 0;
    if (!kk_json_is(auths, KK_JSON_OBJECT))
        return kk_error_set(err, KK_E_INVALID, "auth file: \"auths\" is not an object");

    _cleanup_free_ char *want = kk_registry_server_domain(domain);
    const struct kk_json *best = NULL;
    const char *best_key = NULL;
    long best_len = -1;
    for (size_t i = 0; i < auths->n; i++) {
        long m = key_match(auths->keys[i], want, repository);
        if (m > best_len) {
            best_len = m;
            best = auths->v[i];
            best_key = auths->keys[i];
        }
    }
    if (!best)
        return 0;
    if (!kk_json_is(best, KK_JSON_OBJECT))
        return kk_error_set(err, KK_E_INVALID, "auth file: entry \"%.128s\" is not an object",
                            best_key);
    const char *auth = kk_json_str(kk_json_get(best, "auth"));
    const char *user = kk_json_str(kk_json_get(best, "username"));
    const char *pass = kk_json_str(kk_json_get(best, "password"));
    const char *itok = kk_json_str(kk_json_get(best, "identitytoken"));
    int r = 0;
    if (auth && *auth)
        r = decode_auth(auth, out, err);
    else if (user && *user && pass)
        *out = (struct kk_registry_login){kk_xstrdup(user), kk_xstrdup(pass), NULL};
    if (r < 0)
        return kk_error_wrap(err, "auth file: entry \"%.128s\"", best_key);
    if (itok && *itok)
        out->identity_token = kk_xstrdup(itok);
    if (kk_registry_login_empty(out)) {
        kk_registry_login_clear(out);
        return 0; /* e.g. {"auth": ""} or a credential helper we do not run */
    }
    return 1;
}
