#include "fsapi/model.h"

#include <string.h>

struct kk_ynode *kk_model_spec_tree(struct kk_ytree *t, const struct kk_resource *r)
{
    struct kk_ynode *doc = kk_ytree_map(t);
    kk_ynode_set(t, doc, "apiVersion", kk_ytree_scalar(t, KK_API_VERSION, true));
    kk_ynode_set(t, doc, "kind", kk_ytree_scalar(t, kk_kind_name(r->kind), true));
    struct kk_ynode *meta = kk_codec_encode(t, &kk_metadata_schema, &r->meta);
    kk_ynode_set(t, doc, "metadata", meta ? meta : kk_ytree_map(t));
    struct kk_ynode *spec =
            kk_codec_encode(t, kk_model_spec_schema(r->kind), kk_resource_spec_const(r));
    kk_ynode_set(t, doc, "spec", spec ? spec : kk_ytree_map(t));
    return doc;
}

void kk_model_emit_spec(const struct kk_resource *r, struct kk_buf *out)
{
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    kk_yaml_emit(kk_model_spec_tree(t, r), out);
}

bool kk_model_equal(const struct kk_resource *a, const struct kk_resource *b)
{
    _cleanup_buf_ struct kk_buf x = KK_BUF_INIT;
    _cleanup_buf_ struct kk_buf y = KK_BUF_INIT;
    kk_model_emit_spec(a, &x);
    kk_model_emit_spec(b, &y);
    return x.len == y.len && memcmp(kk_buf_str(&x), kk_buf_str(&y), x.len) == 0;
}
