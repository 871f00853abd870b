#include "fsapi/hash.h"

#include <string.h>

#include "fsapi/sha256.h"

static void sha256_hex(const struct kk_buf *in, char out[KK_HASH_SIZE])
{
    _Static_assert(KK_HASH_SIZE == KK_SHA256_DIGEST_SIZE, "hash and digest sizes agree");
    kk_sha256_digest(kk_buf_str(in), in->len, out);
}

void kk_model_spec_canonical(const struct kk_resource *r, struct kk_buf *out)
{
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    struct kk_ynode *doc = kk_ytree_map(t);
    kk_ynode_set(t, doc, "kind", kk_ytree_scalar(t, kk_kind_name(r->kind), true));
    struct kk_ynode *spec =
            kk_codec_encode(t, kk_model_spec_schema(r->kind), kk_resource_spec_const(r));
    kk_ynode_set(t, doc, "spec", spec ? spec : kk_ytree_map(t));
    kk_yaml_emit(doc, out);
}

void kk_model_spec_hash(const struct kk_resource *r, char out[KK_HASH_SIZE])
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_model_spec_canonical(r, &b);
    sha256_hex(&b, out);
}

void kk_model_container_hash(const struct kk_container *k, char out[KK_HASH_SIZE])
{
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    struct kk_ynode *doc = kk_ytree_map(t);
    kk_ynode_set(t, doc, "kind", kk_ytree_scalar(t, "Container", true));
    struct kk_ynode *spec = kk_codec_encode(t, &kk_container_schema, k);
    kk_ynode_set(t, doc, "spec", spec ? spec : kk_ytree_map(t));
    kk_yaml_emit(doc, &b);
    sha256_hex(&b, out);
}
