/* Spec hashes: what the agent records as observedGeneration and compares
 * to decide whether a resource, or one container of a cell, changed.
 *
 * The hash is SHA-256 over a canonical serialisation of the *normalised*
 * spec: the kind and the whole spec, emitted by kk_yaml_emit with fields in
 * schema order and unset fields left out. Hence:
 *   - key order, comments, quoting style and YAML anchors of the source do
 *     not change it, nor spelling out a default (`restartPolicy: ""` vs
 *     omitted vs `no`, `alpine` vs `docker.io/library/alpine:latest`);
 *   - any change of a spec value does;
 *   - metadata (labels, annotations such as the inbox source file) is not
 *     part of it, so moving a resource between inbox files changes nothing.
 *
 * Call these only on a resource that kk_model_normalize accepted.
 * Format: "sha256:" followed by 64 lower-case hex digits.
 */
#ifndef KUKEON_HASH_H
#define KUKEON_HASH_H

#include "fsapi/model.h"

#define KK_HASH_PREFIX "sha256:"
#define KK_HASH_SIZE   (sizeof(KK_HASH_PREFIX) - 1 + 64 + 1)

void kk_model_spec_hash(const struct kk_resource *r, char out[KK_HASH_SIZE]);
/* The hash of one container spec (of a Cell or of a standalone Container):
 * a change of it means that container must be recreated. */
void kk_model_container_hash(const struct kk_container *k, char out[KK_HASH_SIZE]);
/* The canonical text that kk_model_spec_hash digests (for tests and
 * debugging). */
void kk_model_spec_canonical(const struct kk_resource *r, struct kk_buf *out);

#endif
