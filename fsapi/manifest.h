/* Loading manifests: one file, one or more YAML documents, each a Realm,
 * Space, Stack, Cell or Container of apiVersion v1beta1.
 *
 *     apiVersion: v1beta1        required, exactly this
 *     kind: Cell                 required
 *     metadata: {name, labels, annotations}
 *     spec: {...}                the kind's fields (fsapi/model.h)
 *     status: {...}              accepted and ignored (what `kuke get -o yaml`
 *                                prints can be applied again)
 *
 * A file is valid only as a whole: kk_manifest_load_* either returns every
 * document, decoded and normalised (kk_model_normalize), or nothing and one
 * diagnostic per problem found ("FILE:LINE:COL: PATH: MESSAGE"). Empty
 * documents (a stray "---") are skipped; a file with no document at all is
 * invalid. Two documents naming the same resource are invalid.
 *
 * Limits are those of fsapi/yaml.h (1 MiB, 64 documents, depth 32, aliases
 * bounded, 64 KiB strings); a file over 1 MiB is refused before it is read.
 *
 * Errors: every loader returns 0, or -1 with *err set: KK_E_INVALID when the
 * content is invalid (and diags holds why), another code when the file could
 * not be read (diags untouched).
 */
#ifndef KUKEON_MANIFEST_H
#define KUKEON_MANIFEST_H

#include "fsapi/model.h"

struct kk_manifest {
    char *file;                /* as given to the loader; may be NULL */
    struct kk_resource **docs; /* each with file/line/col of its document */
    size_t n;
};

int kk_manifest_load_buffer(const char *file, const char *data, size_t len,
                            struct kk_manifest **out, struct kk_diags *diags, kk_error **err);
/* Reads fd to its end (at most 1 MiB) without closing it; `file` names it. */
int kk_manifest_load_fd(int fd, const char *file, struct kk_manifest **out, struct kk_diags *diags,
                        kk_error **err);
int kk_manifest_load_file(const char *path, struct kk_manifest **out, struct kk_diags *diags,
                          kk_error **err);
void kk_manifest_free(struct kk_manifest *m);
KK_DEFINE_CLEANUP(struct kk_manifest, kk_manifest_free)

/* The state-tree form: a file holding exactly one document of `kind`
 * (cell.yaml, containers/<id>.yaml, ...). Anything else is KK_E_INVALID. */
int kk_resource_load_buffer(const char *file, const char *data, size_t len, enum kk_kind kind,
                            struct kk_resource **out, struct kk_diags *diags, kk_error **err);
int kk_resource_load_fd(int fd, const char *file, enum kk_kind kind, struct kk_resource **out,
                        struct kk_diags *diags, kk_error **err);

#endif
