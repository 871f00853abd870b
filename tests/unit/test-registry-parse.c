/* Unit tests of the registry client's pure parts: references,
 * WWW-Authenticate, realm credentials, auth.json, platform selection and
 * registries.yaml, and the fake backend (no network, no root). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsapi/json.h"
#include "runtime/image/archive.h"
#include "runtime/registry/fake.h"
#include "runtime/registry/parse.h"
#include "runtime/registry/registry.h"
#include "tests/lib/kktest.h"

#define DIGEST_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIGEST_C "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DIGEST_D "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define DIGEST_E "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

/* ---- references ---------------------------------------------------------- */

KT_CASE(ref_docker_hub_short)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_registry_ref r;
    KT_ASSERT_OK(kk_registry_ref_parse("busybox", &r, &err), &err);
    bool ok = strcmp(r.name, "docker.io/library/busybox:latest") == 0 &&
              strcmp(r.domain, "docker.io") == 0 && strcmp(r.repository, "library/busybox") == 0 &&
              strcmp(r.tag, "latest") == 0 && !r.digest;
    kk_registry_ref_clear(&r);
    KT_ASSERT(ok);
    KT_ASSERT_STREQ(kk_registry_api_host("docker.io"), "registry-1.docker.io");
    KT_ASSERT_STREQ(kk_registry_api_host("index.docker.io"), "registry-1.docker.io");
    KT_ASSERT_STREQ(kk_registry_api_host("quay.io"), "quay.io");
}

KT_CASE(ref_host_port_digest)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_registry_ref r;
    KT_ASSERT_OK(kk_registry_ref_parse("127.0.0.1:5000/team/app@" DIGEST_A, &r, &err), &err);
    bool ok = strcmp(r.domain, "127.0.0.1:5000") == 0 && strcmp(r.repository, "team/app") == 0 &&
              !r.tag && strcmp(r.digest, DIGEST_A) == 0 &&
              strcmp(r.name, "127.0.0.1:5000/team/app@" DIGEST_A) == 0;
    kk_registry_ref_clear(&r);
    KT_ASSERT(ok);

    KT_ASSERT_OK(kk_registry_ref_parse("localhost/app:1.2@" DIGEST_B, &r, &err), &err);
    ok = strcmp(r.domain, "localhost") == 0 && strcmp(r.repository, "app") == 0 &&
         strcmp(r.tag, "1.2") == 0 && strcmp(r.digest, DIGEST_B) == 0;
    kk_registry_ref_clear(&r);
    KT_ASSERT(ok);

    KT_ASSERT_OK(kk_registry_ref_parse("user/img:tag", &r, &err), &err);
    ok = strcmp(r.domain, "docker.io") == 0 && strcmp(r.repository, "user/img") == 0;
    kk_registry_ref_clear(&r);
    KT_ASSERT(ok);
}

KT_CASE(ref_invalid)
{
    static const char *const bad[] = {
            "",    "Upper/Case", "busybox:", ("host:5000/a@sha512:" DIGEST_A), "a/b@sha256:short",
            "a b",
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ kk_error *err = NULL;
        struct kk_registry_ref r;
        KT_ASSERT_MSG(kk_registry_ref_parse(bad[i], &r, &err) < 0, "accepted \"%s\"", bad[i]);
        KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    }
}

KT_CASE(server_domain)
{
    static const char *const cases[][2] = {
            {"https://index.docker.io/v1/", "docker.io"},
            {"registry-1.docker.io", "docker.io"},
            {"docker.io", "docker.io"},
            {"http://127.0.0.1:5000", "127.0.0.1:5000"},
            {"registry.example.com:5000/team", "registry.example.com:5000"},
            {"quay.io/", "quay.io"},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *d = kk_registry_server_domain(cases[i][0]);
        KT_ASSERT_STREQ(d, cases[i][1]);
    }
    KT_ASSERT(kk_registry_server_matches("https://index.docker.io/v1/", "docker.io"));
    KT_ASSERT(!kk_registry_server_matches("example.com", "example.com:5000"));
}

/* ---- WWW-Authenticate ---------------------------------------------------- */

KT_CASE(challenge_bearer_docker_hub)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_registry_challenge c;
    KT_ASSERT_OK(
            kk_registry_challenge_parse(
                    "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                    "scope=\"repository:library/busybox:pull\"",
                    &c, &err),
            &err);
    bool ok = c.scheme == KK_REGISTRY_AUTH_BEARER &&
              strcmp(c.realm, "https://auth.docker.io/token") == 0 &&
              strcmp(c.service, "registry.docker.io") == 0 &&
              strcmp(c.scope, "repository:library/busybox:pull") == 0 && !c.error;
    kk_registry_challenge_clear(&c);
    KT_ASSERT(ok);
}

KT_CASE(challenge_variants)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_registry_challenge c;

    KT_ASSERT_OK(kk_registry_challenge_parse("Basic realm=\"Registry Realm\"", &c, &err), &err);
    bool ok = c.scheme == KK_REGISTRY_AUTH_BASIC && strcmp(c.realm, "Registry Realm") == 0;
    kk_registry_challenge_clear(&c);
    KT_ASSERT(ok);

    /* several challenges: Bearer preferred; case-insensitive names; token
     * values; escapes; the error parameter */
    KT_ASSERT_OK(kk_registry_challenge_parse(
                         "Negotiate, basic realm=x, bearer REALM=\"http://h/t?a=1\", "
                         "Service=svc ,scope=\"repo:a\\\"b:pull\",error=\"insufficient_scope\"",
                         &c, &err),
                 &err);
    ok = c.scheme == KK_REGISTRY_AUTH_BEARER && strcmp(c.realm, "http://h/t?a=1") == 0 &&
         strcmp(c.service, "svc") == 0 && strcmp(c.scope, "repo:a\"b:pull") == 0 &&
         strcmp(c.error, "insufficient_scope") == 0;
    kk_registry_challenge_clear(&c);
    KT_ASSERT(ok);
}

KT_CASE(challenge_invalid)
{
    static const char *const bad[] = {
            "",
            "Negotiate abc",
            "Bearer realm=\"https://x",
            "Bearer realm=\"ftp://x/token\"",
            "Bearer service=\"x\"",
            "Basic realm=\"x\" junk",
            "=x",
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ kk_error *err = NULL;
        struct kk_registry_challenge c;
        KT_ASSERT_MSG(kk_registry_challenge_parse(bad[i], &c, &err) < 0, "accepted \"%s\"", bad[i]);
        KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    }
    /* over-long headers are refused before parsing */
    _cleanup_free_ char *big = kk_xmalloc(KK_REGISTRY_MAX_HEADER + 64);
    memset(big, 'a', KK_REGISTRY_MAX_HEADER + 63);
    memcpy(big, "Basic realm=", 12);
    big[KK_REGISTRY_MAX_HEADER + 63] = 0;
    _cleanup_error_ kk_error *err = NULL;
    struct kk_registry_challenge c;
    KT_ASSERT(kk_registry_challenge_parse(big, &c, &err) < 0);
}

/* ---- credentials --------------------------------------------------------- */

KT_CASE(credential_pick)
{
    struct kk_registry_credential v[] = {
            {.username = "default", .password = "p0"},
            {.username = "other", .password = "p1", .server_address = "other.example.com"},
            {.username = "mine",
             .password = "p2",
             .server_address = "https://reg.example.com:5000/"},
            {.username = "hub", .password = "p3", .server_address = "https://index.docker.io/v1/"},
    };
    KT_ASSERT_EQ(kk_registry_credential_pick(v, 4, "reg.example.com:5000"), 2);
    KT_ASSERT_EQ(kk_registry_credential_pick(v, 4, "docker.io"), 3);
    KT_ASSERT_EQ(kk_registry_credential_pick(v, 4, "reg.example.com"), 0); /* port matters */
    KT_ASSERT_EQ(kk_registry_credential_pick(v + 1, 3, "quay.io"), -1);
    KT_ASSERT_EQ(kk_registry_credential_pick(NULL, 0, "quay.io"), -1);
}

KT_CASE(credential_password_file)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *path = kk_xasprintf("%s/pw", kt_tmpdir());
    FILE *f = fopen(path, "we");
    KT_ASSERT(f);
    fputs("s3cret\n", f);
    fclose(f);
    struct kk_registry_credential c = {.username = "u", .password_file = path};
    struct kk_registry_login l;
    KT_ASSERT_OK(kk_registry_credential_login(&c, &l, &err), &err);
    bool ok = strcmp(l.username, "u") == 0 && strcmp(l.password, "s3cret") == 0;
    kk_registry_login_clear(&l);
    KT_ASSERT(ok);

    c.password_file = "/nonexistent/pw";
    KT_ASSERT(kk_registry_credential_login(&c, &l, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    c.password_file = "relative/pw";
    KT_ASSERT(kk_registry_credential_login(&c, &l, &err) < 0);
    kk_error_freep(&err);
    c.password_file = NULL;
    KT_ASSERT(kk_registry_credential_login(&c, &l, &err) < 0);
    kk_error_freep(&err);
    /* inline password wins over the file */
    c.password = "inline";
    c.password_file = "/nonexistent/pw";
    KT_ASSERT_OK(kk_registry_credential_login(&c, &l, &err), &err);
    ok = strcmp(l.password, "inline") == 0;
    kk_registry_login_clear(&l);
    KT_ASSERT(ok);
}

static int lookup(const char *json, const char *domain, const char *repo,
                  struct kk_registry_login *l, kk_error **err)
{
    return kk_registry_authfile_lookup(json, strlen(json), domain, repo, l, err);
}

KT_CASE(authfile_lookup)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_registry_login l;
    /* "dXNlcjpwYXNz" is base64("user:pass"), "dGVhbTp0cA==" of "team:tp" */
    const char *json = "{\"auths\": {"
                       "\"https://index.docker.io/v1/\": {\"auth\": \"aHViOmh1YnBhc3M=\"},"
                       "\"reg.example.com\": {\"auth\": \"dXNlcjpwYXNz\"},"
                       "\"reg.example.com/team\": {\"auth\": \"dGVhbTp0cA==\"},"
                       "\"other.example.com\": {\"username\": \"o\", \"password\": \"op\"},"
                       "\"empty.example.com\": {\"auth\": \"\"}"
                       "}, \"credHelpers\": {}}";

    KT_ASSERT_EQ(lookup(json, "reg.example.com", "app", &l, &err), 1);
    bool ok = strcmp(l.username, "user") == 0 && strcmp(l.password, "pass") == 0;
    kk_registry_login_clear(&l);
    KT_ASSERT(ok);
    KT_ASSERT_EQ(lookup(json, "reg.example.com", "team/app", &l, &err), 1);
    ok = strcmp(l.username, "team") == 0 && strcmp(l.password, "tp") == 0;
    kk_registry_login_clear(&l);
    KT_ASSERT(ok);
    /* "team" is not a prefix of "teammate/app" at a '/' boundary */
    KT_ASSERT_EQ(lookup(json, "reg.example.com", "teammate/app", &l, &err), 1);
    ok = strcmp(l.username, "user") == 0;
    kk_registry_login_clear(&l);
    KT_ASSERT(ok);
    KT_ASSERT_EQ(lookup(json, "docker.io", "library/busybox", &l, &err), 1);
    ok = strcmp(l.username, "hub") == 0 && strcmp(l.password, "hubpass") == 0;
    kk_registry_login_clear(&l);
    KT_ASSERT(ok);
    KT_ASSERT_EQ(lookup(json, "other.example.com", "x", &l, &err), 1);
    ok = strcmp(l.username, "o") == 0 && strcmp(l.password, "op") == 0;
    kk_registry_login_clear(&l);
    KT_ASSERT(ok);
    KT_ASSERT_EQ(lookup(json, "empty.example.com", "x", &l, &err), 0);
    KT_ASSERT_EQ(lookup(json, "quay.io", "x", &l, &err), 0);
    KT_ASSERT_EQ(lookup("{}", "quay.io", "x", &l, &err), 0);
}

KT_CASE(authfile_malformed)
{
    static const char *const bad[] = {
            "{\"auths\": {\"h\": {\"auth\": \"!!!!\"}}}",
            "{\"auths\": {\"h\": {\"auth\": \"bm9jb2xvbg==\"}}}", /* "nocolon" */
            "{\"auths\": {\"h\": 1}}",
            "{\"auths\": []}",
            "{\"auths\": ",
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ kk_error *err = NULL;
        struct kk_registry_login l;
        KT_ASSERT_MSG(lookup(bad[i], "h", "x", &l, &err) < 0, "accepted %s", bad[i]);
    }
}

/* ---- platforms ------------------------------------------------------------ */

static const char index_doc[] =
        "{\"schemaVersion\": 2, \"manifests\": ["
        "{\"mediaType\": \"" KK_MT_OCI_MANIFEST "\", \"digest\": \"" DIGEST_A "\", \"size\": 1,"
        " \"platform\": {\"os\": \"linux\", \"architecture\": \"arm64\", \"variant\": \"v8\"}},"
        "{\"mediaType\": \"" KK_MT_OCI_MANIFEST "\", \"digest\": \"" DIGEST_B "\", \"size\": 1,"
        " \"platform\": {\"os\": \"linux\", \"architecture\": \"arm\", \"variant\": \"v6\"}},"
        "{\"mediaType\": \"" KK_MT_OCI_MANIFEST "\", \"digest\": \"" DIGEST_C "\", \"size\": 1,"
        " \"platform\": {\"os\": \"linux\", \"architecture\": \"arm\", \"variant\": \"v7\"}},"
        "{\"mediaType\": \"" KK_MT_OCI_MANIFEST "\", \"digest\": \"" DIGEST_D "\", \"size\": 1,"
        " \"platform\": {\"os\": \"unknown\", \"architecture\": \"unknown\"}},"
        "{\"mediaType\": \"application/vnd.example.artifact\", \"digest\": \"" DIGEST_E
        "\", \"size\": 1, \"platform\": {\"os\": \"linux\", \"architecture\": \"amd64\"}},"
        "{\"mediaType\": \"" KK_MT_DOCKER_MANIF "\", \"digest\": \"" DIGEST_E "\", \"size\": 1,"
        " \"platform\": {\"os\": \"linux\", \"architecture\": \"amd64\"}}"
        "]}";

static int pick(const char *arch, const char *variant, size_t *out, kk_error **err)
{
    _cleanup_json_ struct kk_json *j = NULL;
    if (kk_json_parse(index_doc, strlen(index_doc), &j, err) < 0)
        return -1;
    struct kk_registry_platform p = {.os = "linux", .architecture = arch, .variant = variant};
    return kk_registry_platform_pick(j, &p, out, err);
}

KT_CASE(platform_pick)
{
    _cleanup_error_ kk_error *err = NULL;
    size_t i = 99;
    KT_ASSERT_OK(pick("amd64", NULL, &i, &err), &err);
    KT_ASSERT_EQ(i, 5); /* not the artifact at 4 */
    KT_ASSERT_OK(pick("arm64", NULL, &i, &err), &err);
    KT_ASSERT_EQ(i, 0); /* no variant means v8 */
    KT_ASSERT_OK(pick("arm", NULL, &i, &err), &err);
    KT_ASSERT_EQ(i, 2); /* v7 by default, not the first arm entry */
    KT_ASSERT_OK(pick("arm", "v6", &i, &err), &err);
    KT_ASSERT_EQ(i, 1);
    KT_ASSERT_OK(pick("arm", "v8", &i, &err), &err);
    KT_ASSERT_EQ(i, 2); /* best lower variant */
    KT_ASSERT(pick("arm", "v5", &i, &err) < 0);
    kk_error_freep(&err);
    KT_ASSERT(pick("s390x", NULL, &i, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    KT_ASSERT_MSG(strstr(err->message, "no manifest for linux/s390x"), "%s", err->message);
}

KT_CASE(platform_host_default)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_free_ char *doc = kk_xasprintf(
            "{\"manifests\": [{\"mediaType\": \"" KK_MT_OCI_MANIFEST "\", \"digest\": \"" DIGEST_A
            "\", \"size\": 1, \"platform\": {\"os\": \"linux\", \"architecture\": \"%s\"}}]}",
            kk_image_host_arch());
    KT_ASSERT_OK(kk_json_parse(doc, strlen(doc), &j, &err), &err);
    size_t i = 99;
    KT_ASSERT_OK(kk_registry_platform_pick(j, NULL, &i, &err), &err);
    KT_ASSERT_EQ(i, 0);
    kk_json_freep(&j);
    KT_ASSERT_OK(kk_json_parse("{\"manifests\": 1}", 16, &j, &err), &err);
    KT_ASSERT(kk_registry_platform_pick(j, NULL, &i, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
}

/* ---- registries.yaml ------------------------------------------------------- */

KT_CASE(config_parse)
{
    _cleanup_error_ kk_error *err = NULL;
    const char *y = "authFile: /etc/kukeon/auth.json\n"
                    "maxConcurrentDownloads: 4\n"
                    "registries:\n"
                    "  - host: 127.0.0.1:5000\n"
                    "    insecure: true\n"
                    "  - host: docker.io\n"
                    "    mirrors: [\"http://127.0.0.1:5001\", mirror.example.com]\n"
                    "  - host: registry.example.com\n"
                    "    caFile: /etc/kukeon/ca.pem\n";
    struct kk_registry_config cfg;
    KT_ASSERT_OK(kk_registry_config_parse("r.yaml", y, strlen(y), &cfg, &err), &err);
    const struct kk_registry_host *hub = kk_registry_config_host(&cfg, "index.docker.io");
    const struct kk_registry_host *loc = kk_registry_config_host(&cfg, "127.0.0.1:5000");
    const struct kk_registry_host *ex = kk_registry_config_host(&cfg, "registry.example.com");
    bool ok = cfg.n_registries == 3 && cfg.max_concurrent_downloads == 4 && hub &&
              hub->mirrors.n == 2 && strcmp(hub->mirrors.v[1], "mirror.example.com") == 0 && loc &&
              loc->insecure && ex && strcmp(ex->ca_file, "/etc/kukeon/ca.pem") == 0 &&
              !kk_registry_config_host(&cfg, "quay.io");
    kk_registry_config_clear(&cfg);
    KT_ASSERT(ok);

    /* empty is defaults */
    KT_ASSERT_OK(kk_registry_config_parse("r.yaml", "", 0, &cfg, &err), &err);
    KT_ASSERT_EQ(cfg.n_registries, 0);
    kk_registry_config_clear(&cfg);
    /* a missing file too */
    KT_ASSERT_EQ(kk_registry_config_load("/nonexistent/registries.yaml", &cfg, &err), 1);
}

KT_CASE(config_invalid)
{
    static const struct {
        const char *yaml, *want;
    } bad[] = {
            {"registries:\n  - host: a\n    insecrue: true\n", "r.yaml:3:5"},
            {"registries:\n  - insecure: true\n", "host: required"},
            {"registries:\n  - host: https://a\n", "without scheme"},
            {"registries:\n  - host: a\n    caFile: ca.pem\n", "absolute"},
            {"registries:\n  - host: a\n  - host: a\n", "listed twice"},
            {"registries:\n  - host: a\n    mirrors: [\"ftp://m\"]\n", "not an http(s) URL"},
            {"maxConcurrentDownloads: 99\n", "maxConcurrentDownloads"},
            {"- a\n", "expected a mapping"},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ kk_error *err = NULL;
        struct kk_registry_config cfg;
        KT_ASSERT_MSG(kk_registry_config_parse("r.yaml", bad[i].yaml, strlen(bad[i].yaml), &cfg,
                                               &err) < 0,
                      "accepted %s", bad[i].yaml);
        KT_ASSERT_MSG(strstr(err->message, bad[i].want), "%s: %s", bad[i].yaml, err->message);
    }
}

/* ---- the fake backend ------------------------------------------------------ */

KT_CASE(fake_backend_policies)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_registry_fake_freep) struct kk_registry_fake *f = kk_registry_fake_new();
    const struct kk_registry_ops *ops = &kk_registry_fake_ops;
    bool pulled = false;

    kk_registry_fake_add(f, "busybox");
    KT_ASSERT(ops->ensure_image(f, NULL, "ns1", "busybox", KK_PULL_NEVER, NULL, &pulled, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    KT_ASSERT_STREQ(err->reason, "ImagePullFailed");
    kk_error_freep(&err);
    KT_ASSERT_OK(ops->ensure_image(f, NULL, "ns1", "docker.io/library/busybox:latest",
                                   KK_PULL_IF_NOT_PRESENT, NULL, &pulled, &err),
                 &err);
    KT_ASSERT(pulled);
    KT_ASSERT(kk_registry_fake_present(f, "ns1", "busybox"));
    KT_ASSERT(!kk_registry_fake_present(f, "ns2", "busybox"));
    KT_ASSERT_OK(ops->ensure_image(f, NULL, "ns1", "busybox", KK_PULL_IF_NOT_PRESENT, NULL, &pulled,
                                   &err),
                 &err);
    KT_ASSERT(!pulled);
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), 1);

    /* injected failures, then success; an unknown image */
    kk_registry_fake_fail_next(f, 2, KK_E_UNAVAILABLE, "connection refused");
    for (int i = 0; i < 2; i++) {
        KT_ASSERT(ops->ensure_image(f, NULL, "ns1", "busybox", KK_PULL_ALWAYS, NULL, &pulled,
                                    &err) < 0);
        KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAVAILABLE);
        kk_error_freep(&err);
    }
    KT_ASSERT_OK(ops->ensure_image(f, NULL, "ns1", "busybox", KK_PULL_ALWAYS, NULL, &pulled, &err),
                 &err);
    KT_ASSERT(ops->ensure_image(f, NULL, "ns1", "alpine", KK_PULL_IF_NOT_PRESENT, NULL, &pulled,
                                &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    KT_ASSERT_MSG(strstr(err->message, "manifest unknown"), "%s", err->message);
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), 5);
}
