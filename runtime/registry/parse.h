/* The registry client's pure parts: image references, WWW-Authenticate
 * challenges, credential matching (realm registryCredentials and
 * containers-auth / Docker config.json files) and platform selection from an
 * index. No network, no containerd, no root: unit-tested on their own.
 *
 * Input is untrusted (registry headers, JSON bodies, files written by
 * people): every parser bounds what it accepts (KK_REGISTRY_MAX_*) and fails
 * with KK_E_INVALID rather than truncating silently.
 *
 * Output structs are owned by the caller and released with the matching
 * *_clear function, which accepts a zeroed struct and is idempotent.
 */
#ifndef KUKEON_REGISTRY_PARSE_H
#define KUKEON_REGISTRY_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "fsapi/error.h"
#include "fsapi/json.h"
#include "fsapi/model.h"

#define KK_REGISTRY_MAX_HEADER   8192       /* one WWW-Authenticate value */
#define KK_REGISTRY_MAX_AUTHFILE (1u << 20) /* auth.json */
#define KK_REGISTRY_MAX_SECRET   4096       /* a password, token or password file */

/* Docker Hub: references say docker.io, the API lives elsewhere. */
#define KK_REGISTRY_DOCKER_HUB     "docker.io"
#define KK_REGISTRY_DOCKER_HUB_API "registry-1.docker.io"

/* ---- References ------------------------------------------------------ */

struct kk_registry_ref {
    char *name;       /* normalised: "docker.io/library/busybox:latest" */
    char *domain;     /* "docker.io", "127.0.0.1:5000" */
    char *repository; /* "library/busybox" */
    char *tag;        /* "latest"; NULL when the reference is only a digest */
    char *digest;     /* "sha256:<hex>" or NULL */
};
void kk_registry_ref_clear(struct kk_registry_ref *r);

/* Normalises `ref` as the model does (kk_image_normalize: "alpine" ->
 * docker.io/library/alpine:latest) and splits it. Only sha256 digests are
 * accepted (what containerd and the verifier understand). */
int kk_registry_ref_parse(const char *ref, struct kk_registry_ref *out, kk_error **err);

/* The host that serves the API of `domain`: registry-1.docker.io for
 * docker.io (and its aliases index.docker.io, registry-1.docker.io), else
 * domain itself. Never NULL; returns domain or a static string. */
const char *kk_registry_api_host(const char *domain);

/* The registry host named by `server` ("https://index.docker.io/v1/",
 * "registry.example.com:5000/team", "docker.io"), reduced to the domain as
 * references spell it (scheme, path and trailing slash gone; Docker Hub's
 * aliases folded into docker.io). Returns a new string. */
char *kk_registry_server_domain(const char *server);

/* ---- Authentication challenges ----------------------------------------- */

enum kk_registry_scheme {
    KK_REGISTRY_AUTH_NONE = 0,
    KK_REGISTRY_AUTH_BASIC,
    KK_REGISTRY_AUTH_BEARER,
};

struct kk_registry_challenge {
    enum kk_registry_scheme scheme;
    char *realm;   /* Basic: the realm name; Bearer: the token endpoint URL */
    char *service; /* Bearer, may be NULL */
    char *scope;   /* Bearer, may be NULL */
    char *error;   /* Bearer error="insufficient_scope" etc., may be NULL */
};
void kk_registry_challenge_clear(struct kk_registry_challenge *c);

/* Parses one WWW-Authenticate value (RFC 7235 auth-params: token or
 * quoted-string values, backslash escapes, case-insensitive scheme and
 * parameter names). Of several challenges in one header, Bearer is
 * preferred over Basic; unknown schemes are skipped. KK_E_INVALID on a
 * syntax error, an over-long header or no known scheme. A Bearer realm
 * must be an http(s) URL. */
int kk_registry_challenge_parse(const char *header, struct kk_registry_challenge *out,
                                kk_error **err);

/* ---- Credentials ------------------------------------------------------ */

struct kk_registry_login {
    char *username;
    char *password;       /* or an identity token when username is "<token>" */
    char *identity_token; /* config.json identitytoken (an OAuth refresh token), or NULL */
};
void kk_registry_login_clear(struct kk_registry_login *l);
static inline bool kk_registry_login_empty(const struct kk_registry_login *l)
{
    return !l->username && !l->identity_token;
}

/* True if a realm credential's serverAddress names `domain` (after
 * kk_registry_server_domain on both sides). */
bool kk_registry_server_matches(const char *server_address, const char *domain);

/* Picks the realm credential for `domain`: the first entry whose
 * serverAddress matches, else the first without a serverAddress. Returns
 * its index, or -1 when none applies (anonymous). */
int kk_registry_credential_pick(const struct kk_registry_credential *v, size_t n,
                                const char *domain);

/* Fills *out from a realm credential, reading passwordFile (absolute, at
 * most KK_REGISTRY_MAX_SECRET bytes, one trailing newline dropped) when
 * there is no inline password. */
int kk_registry_credential_login(const struct kk_registry_credential *cred,
                                 struct kk_registry_login *out, kk_error **err);

/* Looks `domain`/`repository` up in a containers-auth.json / Docker
 * config.json document: {"auths": {"<key>": {"auth": base64("user:pass")}
 * or {"username", "password"} or {"identitytoken"}}}. Keys may carry a
 * scheme and a path ("https://index.docker.io/v1/", "host/team"); the most
 * specific key whose host equals the domain and whose path is a prefix of
 * the repository (at a '/' boundary) wins. Returns 1 and fills *out when
 * found, 0 when no entry applies, -1 on a malformed document or entry. */
int kk_registry_authfile_lookup(const char *json, size_t len, const char *domain,
                                const char *repository, struct kk_registry_login *out,
                                kk_error **err);

/* ---- Platforms -------------------------------------------------------- */

struct kk_registry_platform {
    const char *os;           /* NULL: "linux" */
    const char *architecture; /* NULL: this machine's (kk_image_host_arch) */
    const char *variant;      /* NULL: the architecture's default (arm64: v8, arm: v7) */
};

/* Chooses from an image index's "manifests" the entry for `want` (NULL:
 * this host). os and architecture must be equal; among those, an entry
 * whose (normalised) variant is equal wins, then for arm the highest lower
 * variant the host can run (v7 runs v6 and v5), then an entry with no
 * variant. Entries that are not image manifests or indexes (attestations,
 * artifacts) are ignored, as are entries without a valid sha256 digest.
 * Returns 0 and the entry's position in *out, or KK_E_NOT_FOUND ("no
 * manifest for linux/amd64 in ...") when nothing matches. */
int kk_registry_platform_pick(const struct kk_json *index, const struct kk_registry_platform *want,
                              size_t *out, kk_error **err);

#endif
