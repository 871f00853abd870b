/* Image references and registry host names (see parse.h). */
#include <string.h>

#include "fsapi/model.h"
#include "runtime/image/archive.h"
#include "runtime/registry/parse.h"

void kk_registry_ref_clear(struct kk_registry_ref *r)
{
    free(r->name);
    free(r->domain);
    free(r->repository);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

int kk_registry_ref_parse(const char *ref, struct kk_registry_ref *out, kk_error **err)
{
    const char *why = NULL;
    _cleanup_free_ char *name = kk_image_normalize(ref, &why);

    memset(out, 0, sizeof(*out));
    if (!name)
        return kk_error_set(err, KK_E_INVALID, "image reference \"%.128s\": %s", ref, why);

    /* normalised: domain/path[:tag][@digest], domain always present */
    _cleanup_free_ char *rest = kk_xstrdup(name);
    char *at = strchr(rest, '@');
    if (at) {
        *at++ = '\0';
        if (!kk_image_digest_valid(at))
            return kk_error_set(err, KK_E_INVALID,
                                "image reference \"%.128s\": only sha256 digests are supported",
                                ref);
        out->digest = kk_xstrdup(at);
    }
    char *slash = strchr(rest, '/');
    char *colon = strrchr(slash, ':');
    if (colon) {
        *colon++ = '\0';
        out->tag = kk_xstrdup(colon);
    }
    out->domain = kk_xstrndup(rest, (size_t)(slash - rest));
    out->repository = kk_xstrdup(slash + 1);
    out->name = TAKE_PTR(name);
    return 0;
}

static bool is_docker_hub(const char *host, size_t len)
{
    static const char *const aliases[] = {KK_REGISTRY_DOCKER_HUB, KK_REGISTRY_DOCKER_HUB_API,
                                          "index.docker.io"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(aliases); i++)
        if (strlen(aliases[i]) == len && strncmp(host, aliases[i], len) == 0)
            return true;
    return false;
}

const char *kk_registry_api_host(const char *domain)
{
    return is_docker_hub(domain, strlen(domain)) ? KK_REGISTRY_DOCKER_HUB_API : domain;
}

char *kk_registry_server_domain(const char *server)
{
    const char *s = server;
    const char *scheme = strstr(s, "://");
    if (scheme)
        s = scheme + 3;
    size_t len = strcspn(s, "/");
    if (is_docker_hub(s, len))
        return kk_xstrdup(KK_REGISTRY_DOCKER_HUB);
    return kk_xstrndup(s, len);
}

bool kk_registry_server_matches(const char *server_address, const char *domain)
{
    _cleanup_free_ char *a = kk_registry_server_domain(server_address);
    _cleanup_free_ char *b = kk_registry_server_domain(domain);
    return strcmp(a, b) == 0;
}
