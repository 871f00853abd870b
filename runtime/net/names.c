/* Derived host names of runtime/net: link names, namespace paths, keys. */
#include <stdio.h>
#include <string.h>

#include "fsapi/sha256.h"
#include "runtime/net/net.h"

bool kk_net_name_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > KK_NET_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (c != '-' || i == 0 || i == len - 1))
            return false;
    }
    return true;
}

static bool prefix_valid(const char *p)
{
    size_t len = p ? strlen(p) : 0;
    if (len == 0 || len > KK_NET_PREFIX_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
            return false;
    return true;
}

static int check_names(const char *const *names, size_t n, kk_error **err)
{
    static const char *const what[] = {"realm", "space", "stack", "cell"};
    for (size_t i = 0; i < n; i++)
        if (!kk_net_name_valid(names[i]))
            return kk_error_set(err, KK_E_INVALID, "invalid %s name \"%.64s\"", what[i],
                                names[i] ? names[i] : "(null)");
    return 0;
}

/* prefix + as many hex digits of sha256(key) as fit in 15 characters. */
static int hashed_name(const char *prefix, const char *key, char out[KK_NET_IFNAMSIZ],
                       kk_error **err)
{
    if (!prefix_valid(prefix))
        return kk_error_set(err, KK_E_INVALID, "invalid link name prefix \"%.16s\"",
                            prefix ? prefix : "(null)");
    char hex[KK_SHA256_HEX_SIZE];
    kk_sha256_hex(key, strlen(key), hex);
    size_t plen = strlen(prefix); /* <= KK_NET_PREFIX_MAX, checked above */
    memcpy(out, prefix, plen);
    memcpy(out + plen, hex, KK_NET_IFNAMSIZ - 1 - plen);
    out[KK_NET_IFNAMSIZ - 1] = '\0';
    return 0;
}

int kk_net_bridge_name(const struct kk_net_config *cfg, const char *realm, const char *space,
                       char out[KK_NET_IFNAMSIZ], kk_error **err)
{
    const char *names[] = {realm, space};
    if (check_names(names, 2, err) < 0)
        return -1;
    char key[2 * KK_NET_NAME_MAX + 2];
    snprintf(key, sizeof(key), "%s/%s", realm, space);
    return hashed_name(cfg->bridge_prefix, key, out, err);
}

int kk_net_cell_key(const struct kk_net_cell_spec *spec, char out[KK_NET_KEY_MAX + 1],
                    kk_error **err)
{
    const char *names[] = {spec->realm, spec->space, spec->stack, spec->cell};
    if (check_names(names, 4, err) < 0)
        return -1;
    snprintf(out, KK_NET_KEY_MAX + 1, "%s/%s/%s/%s", spec->realm, spec->space, spec->stack,
             spec->cell);
    return 0;
}

int kk_net_veth_name(const struct kk_net_config *cfg, const struct kk_net_cell_spec *spec,
                     char out[KK_NET_IFNAMSIZ], kk_error **err)
{
    char key[KK_NET_KEY_MAX + 1];
    if (kk_net_cell_key(spec, key, err) < 0)
        return -1;
    return hashed_name(cfg->veth_prefix, key, out, err);
}

int kk_net_netns_path(const struct kk_net_config *cfg, const struct kk_net_cell_spec *spec,
                      char *out, size_t size, kk_error **err)
{
    char key[KK_NET_KEY_MAX + 1];
    if (kk_net_cell_key(spec, key, err) < 0)
        return -1;
    /* '/' -> '_': names cannot contain '_', so the file name is unambiguous,
     * and 4 * 63 + 3 = 255 = NAME_MAX. */
    for (char *p = key; *p; p++)
        if (*p == '/')
            *p = '_';
    int n = snprintf(out, size, "%s/%s", cfg->netns_dir, key);
    if (n < 0 || (size_t)n >= size)
        return kk_error_set(err, KK_E_INVALID, "namespace path too long under %s", cfg->netns_dir);
    return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int kk_net_config_check(const struct kk_net_config *cfg, kk_error **err)
{
    char probe[KK_NET_IFNAMSIZ];
    if (kk_net_bridge_name(cfg, "a", "a", probe, err) < 0)
        return kk_error_wrap(err, "bridge prefix");
    struct kk_net_cell_spec s = {"a", "a", "a", "a"};
    if (kk_net_veth_name(cfg, &s, probe, err) < 0)
        return kk_error_wrap(err, "veth prefix");
    /* Disjoint name spaces: no bridge name can be a veth name. */
    if (starts_with(cfg->bridge_prefix, cfg->veth_prefix) ||
        starts_with(cfg->veth_prefix, cfg->bridge_prefix))
        return kk_error_set(err, KK_E_INVALID,
                            "bridge prefix \"%s\" and veth prefix \"%s\" overlap",
                            cfg->bridge_prefix, cfg->veth_prefix);
    if (!cfg->netns_dir || cfg->netns_dir[0] != '/' || strlen(cfg->netns_dir) > 1024)
        return kk_error_set(err, KK_E_INVALID, "namespace directory must be an absolute path");
    if (!cfg->state_dir || cfg->state_dir[0] != '/' || strlen(cfg->state_dir) > 1024)
        return kk_error_set(err, KK_E_INVALID, "state directory must be an absolute path");
    return 0;
}
