#include "fsapi/manifest.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

static const char *const top_fields[] = {"apiVersion", "kind", "metadata", "spec", "status"};

void kk_manifest_free(struct kk_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        kk_resource_free(m->docs[i]);
    free(m->docs);
    free(m->file);
    free(m);
}

static void kinds_list(struct kk_buf *out)
{
    for (int i = 0; i < KK_KIND_COUNT; i++)
        kk_buf_printf(out, "%s%s", i ? ", " : "", kk_kind_name((enum kk_kind)i));
}

/* Checks apiVersion and kind; returns the kind or -1. */
static int decode_header(struct kk_dec *d, const struct kk_ynode *root)
{
    const struct kk_ynode *api = kk_ynode_get(root, "apiVersion");
    const struct kk_ynode *kind = kk_ynode_get(root, "kind");
    size_t mark = kk_dec_push_key(d, "apiVersion");
    if (!api)
        kk_dec_error(d, root, "required (accepted: " KK_API_VERSION ")");
    else if (api->type != KK_YSCALAR || strcmp(api->value, KK_API_VERSION) != 0)
        kk_dec_error(d, api, "%.64s: unsupported apiVersion (accepted: " KK_API_VERSION ")",
                     api->type == KK_YSCALAR ? api->value : "(not a string)");
    kk_dec_pop(d, mark);

    int k = -1;
    _cleanup_buf_ struct kk_buf kinds = KK_BUF_INIT;
    kinds_list(&kinds);
    mark = kk_dec_push_key(d, "kind");
    if (!kind)
        kk_dec_error(d, root, "required (accepted: %s)", kk_buf_str(&kinds));
    else if (kind->type != KK_YSCALAR || (k = kk_kind_parse(kind->value)) < 0)
        kk_dec_error(d, kind, "%.64s: unknown kind (accepted: %s)",
                     kind->type == KK_YSCALAR ? kind->value : "(not a string)", kk_buf_str(&kinds));
    kk_dec_pop(d, mark);
    return k;
}

static void check_top_fields(struct kk_dec *d, const struct kk_ynode *root)
{
    for (size_t i = 0; i < root->n; i += 2) {
        const struct kk_ynode *key = root->items[i];
        bool known = false;
        for (size_t j = 0; j < KK_ARRAY_SIZE(top_fields); j++)
            known = known || strcmp(key->value, top_fields[j]) == 0;
        if (known)
            continue;
        size_t mark = kk_dec_push_key(d, key->value);
        kk_dec_unknown_field(d, key, top_fields, KK_ARRAY_SIZE(top_fields));
        kk_dec_pop(d, mark);
    }
    const struct kk_ynode *status = kk_ynode_get(root, "status");
    if (status && !kk_ynode_is_null(status) && status->type != KK_YMAP) {
        size_t mark = kk_dec_push_key(d, "status");
        kk_dec_error(d, status, "expected a mapping");
        kk_dec_pop(d, mark);
    }
}

/* Decodes and normalises one document; NULL when it is invalid. */
static struct kk_resource *decode_doc(struct kk_dec *d, const struct kk_ydoc *doc)
{
    const struct kk_ynode *root = doc->root;
    if (root->type != KK_YMAP) {
        kk_dec_error(d, root, "expected a manifest (a mapping with apiVersion, kind, ...)");
        return NULL;
    }
    unsigned before = d->errors;
    int kind = decode_header(d, root);
    check_top_fields(d, root);
    if (kind < 0)
        return NULL;

    _cleanup_(kk_resource_freep) struct kk_resource *r = kk_resource_new((enum kk_kind)kind);
    r->file = d->file ? kk_xstrdup(d->file) : NULL;
    r->line = doc->line;
    r->col = doc->col;
    size_t mark = kk_dec_push_key(d, "metadata");
    kk_codec_decode(d, &kk_metadata_schema, kk_ynode_get(root, "metadata"), &r->meta);
    kk_dec_pop(d, mark);
    mark = kk_dec_push_key(d, "spec");
    kk_codec_decode(d, kk_model_spec_schema(r->kind), kk_ynode_get(root, "spec"),
                    kk_resource_spec(r));
    kk_dec_pop(d, mark);
    /* normalising a half-decoded resource would only repeat the errors */
    if (d->errors != before)
        return NULL;
    d->errors += kk_model_normalize(r, root, d->diags);
    return d->errors == before ? TAKE_PTR(r) : NULL;
}

/* Whether root is a `kind: List` document (what `kuke get KIND -o yaml`
 * prints): its items are manifests, as with kubectl apply. */
static bool is_list(const struct kk_ynode *root)
{
    const struct kk_ynode *kind = root->type == KK_YMAP ? kk_ynode_get(root, "kind") : NULL;
    return kind && kind->type == KK_YSCALAR && strcmp(kind->value, "List") == 0;
}

/* The items of a List document, checked: apiVersion as any manifest's,
 * nothing but apiVersion, kind, metadata and items beside them, items a
 * list (within the codec's entry limit). NULL when there is nothing to
 * decode (errors reported). */
static const struct kk_ynode *list_items(struct kk_dec *d, const struct kk_ynode *root)
{
    const struct kk_ynode *api = kk_ynode_get(root, "apiVersion");
    size_t mark = kk_dec_push_key(d, "apiVersion");
    if (!api || api->type != KK_YSCALAR || strcmp(api->value, KK_API_VERSION) != 0)
        kk_dec_error(d, api ? api : root, "%s (accepted: " KK_API_VERSION ")",
                     api ? "unsupported apiVersion" : "required");
    kk_dec_pop(d, mark);
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const struct kk_ynode *k = root->items[i];
        if (k->type == KK_YSCALAR &&
            (strcmp(k->value, "apiVersion") == 0 || strcmp(k->value, "kind") == 0 ||
             strcmp(k->value, "metadata") == 0 || strcmp(k->value, "items") == 0))
            continue;
        kk_dec_error(d, k,
                     "%.64s: unknown field of a List (accepted: apiVersion, kind, metadata, "
                     "items)",
                     k->type == KK_YSCALAR ? k->value : "(not a string)");
    }
    const struct kk_ynode *items = kk_ynode_get(root, "items");
    mark = kk_dec_push_key(d, "items");
    if (items && !kk_ynode_is_null(items) && items->type != KK_YSEQ) {
        kk_dec_error(d, items, "expected a list of manifests");
        items = NULL;
    } else if (items && !kk_ynode_is_null(items) && !kk_codec_items_within_limit(d, items)) {
        items = NULL;
    }
    kk_dec_pop(d, mark);
    return items && !kk_ynode_is_null(items) ? items : NULL;
}

/* A manifest being built: its resources so far, and how many documents
 * (or List items) were looked at. */
struct builder {
    struct kk_manifest *m;
    size_t cap, seen;
};

/* Appends the resource decoded from doc (growing m->docs). A file defines
 * at most KK_YAML_MAX_DOCS resources, as documents or as List items. */
static void add_doc(struct kk_dec *d, struct builder *b, const struct kk_ydoc *doc)
{
    if (b->seen++ == KK_YAML_MAX_DOCS)
        kk_dec_error(d, doc->root, "limit: more than %d resources in one file", KK_YAML_MAX_DOCS);
    if (b->seen > KK_YAML_MAX_DOCS)
        return;
    struct kk_resource *r = decode_doc(d, doc);
    if (!r)
        return;
    if (b->m->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->m->docs = kk_xrealloc(b->m->docs, b->cap * sizeof(*b->m->docs));
    }
    b->m->docs[b->m->n++] = r;
}

/* Two documents of one file naming the same resource (same kind, same
 * key) would fight over one spec file. */
static void check_unique(struct kk_dec *d, const struct kk_manifest *m)
{
    _cleanup_free_ struct kk_key *keys = kk_xcalloc(m->n ? m->n : 1, sizeof(*keys));
    for (size_t i = 0; i < m->n; i++) {
        _cleanup_error_ kk_error *err = NULL;
        if (kk_resource_key(m->docs[i], &keys[i], &err) < 0)
            abort(); /* normalised resources always have a valid key */
        for (size_t j = 0; j < i; j++) {
            if (!kk_key_equal(&keys[i], &keys[j]))
                continue;
            kk_diags_add(d->diags, d->file, m->docs[i]->line, m->docs[i]->col, "metadata.name",
                         "%s %s is already defined by the document at line %u",
                         kk_kind_name(m->docs[i]->kind), kk_resource_id(m->docs[i]),
                         m->docs[j]->line);
            d->errors++;
            break;
        }
    }
}

int kk_manifest_load_buffer(const char *file, const char *data, size_t len,
                            struct kk_manifest **out, struct kk_diags *diags, kk_error **err)
{
    *out = NULL;
    const char *name = file ? file : "<input>";
    size_t first_diag = diags->n;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
    if (kk_yaml_parse(file, data, len, &t, diags) < 0) {
        kk_diags_sort(diags, first_diag);
        return kk_error_set(err, KK_E_INVALID, "%s: invalid YAML", name);
    }

    _cleanup_(kk_manifest_freep) struct kk_manifest *m = kk_xcalloc(1, sizeof(*m));
    m->file = file ? kk_xstrdup(file) : NULL;
    struct builder b = {.m = m};
    struct kk_dec d = {.file = file, .diags = diags};
    for (size_t i = 0; i < t->ndocs; i++) {
        const struct kk_ynode *root = t->docs[i].root;
        if (kk_ynode_is_null(root))
            continue;
        if (!is_list(root)) {
            add_doc(&d, &b, &t->docs[i]);
            continue;
        }
        const struct kk_ynode *items = list_items(&d, root);
        for (size_t j = 0; items && j < items->n; j++) {
            size_t mark = kk_dec_push_key(&d, "items");
            size_t imark = kk_dec_push_index(&d, j);
            struct kk_ydoc item = {items->items[j], items->items[j]->line, items->items[j]->col};
            add_doc(&d, &b, &item);
            kk_dec_pop(&d, imark);
            kk_dec_pop(&d, mark);
        }
    }
    if (d.errors == 0 && m->n == 0) {
        kk_diags_add(diags, file, 1, 1, "", "no manifest in the file (it is empty)");
        d.errors++;
    }
    if (d.errors == 0)
        check_unique(&d, m);
    kk_buf_release(&d.path);
    kk_diags_sort(diags, first_diag);
    if (d.errors)
        return kk_error_set(err, KK_E_INVALID, "%s: invalid manifest (%u error%s)", name, d.errors,
                            d.errors == 1 ? "" : "s");
    *out = TAKE_PTR(m);
    return 0;
}

int kk_manifest_load_fd(int fd, const char *file, struct kk_manifest **out, struct kk_diags *diags,
                        kk_error **err)
{
    *out = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kk_error_errno(err, "stat %s", file);
    if (S_ISREG(st.st_mode) && st.st_size > KK_YAML_MAX_INPUT) {
        kk_diags_add(diags, file, 1, 1, "", "limit: file larger than 1 MiB (%jd bytes)",
                     (intmax_t)st.st_size);
        return kk_error_set(err, KK_E_INVALID, "%s: file too large", file);
    }
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    int r = kk_buf_read_fd(&b, fd, KK_YAML_MAX_INPUT);
    if (r == -EFBIG) {
        kk_diags_add(diags, file, 1, 1, "", "limit: file larger than 1 MiB");
        return kk_error_set(err, KK_E_INVALID, "%s: file too large", file);
    }
    if (r < 0)
        return kk_error_errnum(err, -r, "read %s", file);
    return kk_manifest_load_buffer(file, kk_buf_str(&b), b.len, out, diags, err);
}

int kk_manifest_load_file(const char *path, struct kk_manifest **out, struct kk_diags *diags,
                          kk_error **err)
{
    *out = NULL;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return kk_error_errno(err, "open %s", path);
    return kk_manifest_load_fd(fd, path, out, diags, err);
}

static int take_single(struct kk_manifest *m, enum kk_kind kind, struct kk_resource **out,
                       struct kk_diags *diags, kk_error **err)
{
    const char *name = m->file ? m->file : "<input>";
    if (m->n != 1) {
        kk_diags_add(diags, m->file, m->docs[1]->line, m->docs[1]->col, "",
                     "expected exactly one %s document, found %zu", kk_kind_name(kind), m->n);
        return kk_error_set(err, KK_E_INVALID, "%s: more than one document", name);
    }
    if (m->docs[0]->kind != kind) {
        kk_diags_add(diags, m->file, m->docs[0]->line, m->docs[0]->col, "kind",
                     "expected %s, found %s", kk_kind_name(kind), kk_kind_name(m->docs[0]->kind));
        return kk_error_set(err, KK_E_INVALID, "%s: not a %s", name, kk_kind_name(kind));
    }
    *out = TAKE_PTR(m->docs[0]);
    m->n = 0;
    return 0;
}

int kk_resource_load_buffer(const char *file, const char *data, size_t len, enum kk_kind kind,
                            struct kk_resource **out, struct kk_diags *diags, kk_error **err)
{
    *out = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    if (kk_manifest_load_buffer(file, data, len, &m, diags, err) < 0)
        return -1;
    return take_single(m, kind, out, diags, err);
}

int kk_resource_load_fd(int fd, const char *file, enum kk_kind kind, struct kk_resource **out,
                        struct kk_diags *diags, kk_error **err)
{
    *out = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    if (kk_manifest_load_fd(fd, file, &m, diags, err) < 0)
        return -1;
    return take_single(m, kind, out, diags, err);
}
