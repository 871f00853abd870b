/* Parsing the process-shaping part of an OCI/Docker image config. */
#include <stdlib.h>
#include <string.h>

#include "fsapi/json.h"
#include "runtime/oci/spec.h"

#define MAX_CONFIG_BYTES (4u << 20)

/* A string array member that may be absent or null; anything else must be
 * an array of strings. */
static int get_strv(const struct kk_json *obj, const char *key, char ***out, kk_error **err)
{
    const struct kk_json *v = kk_json_get(obj, key);
    if (!v || v->type == KK_JSON_NULL)
        return 0;
    if (kk_json_strv(v, out) < 0 || !*out)
        return kk_error_set(err, KK_E_INVALID, "image config: %s: not an array of strings", key);
    return 0;
}

static char *dup_str(const struct kk_json *obj, const char *key)
{
    const char *s = kk_json_str(kk_json_get(obj, key));
    return s && *s ? kk_xstrdup(s) : NULL;
}

int kk_oci_image_config_parse(const char *json, size_t len, struct kk_oci_image_config *out,
                              kk_error **err)
{
    _cleanup_json_ struct kk_json *root = NULL;
    struct kk_oci_image_config c = {0};

    memset(out, 0, sizeof(*out));
    if (len > MAX_CONFIG_BYTES)
        return kk_error_set(err, KK_E_INVALID, "image config: %zu bytes, over the limit", len);
    if (kk_json_parse(json, len, &root, err) < 0)
        return kk_error_wrap(err, "image config");
    if (!kk_json_is(root, KK_JSON_OBJECT))
        return kk_error_set(err, KK_E_INVALID, "image config: not an object");

    const struct kk_json *cfg = kk_json_get(root, "config");
    if (get_strv(cfg, "Entrypoint", &c.entrypoint, err) < 0 ||
        get_strv(cfg, "Cmd", &c.cmd, err) < 0 || get_strv(cfg, "Env", &c.env, err) < 0 ||
        get_strv(kk_json_get(root, "rootfs"), "diff_ids", &c.diff_ids, err) < 0) {
        kk_oci_image_config_clear(&c);
        return -1;
    }
    c.working_dir = dup_str(cfg, "WorkingDir");
    c.user = dup_str(cfg, "User");
    c.os = dup_str(root, "os");
    c.architecture = dup_str(root, "architecture");
    *out = c;
    return 0;
}

void kk_oci_image_config_clear(struct kk_oci_image_config *c)
{
    kk_strv_free(c->entrypoint);
    kk_strv_free(c->cmd);
    kk_strv_free(c->env);
    kk_strv_free(c->diff_ids);
    free(c->working_dir);
    free(c->user);
    free(c->os);
    free(c->architecture);
    memset(c, 0, sizeof(*c));
}
